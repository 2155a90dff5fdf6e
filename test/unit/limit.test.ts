import { describe, expect, it } from 'vitest';
import { CATCH_UP_MS, ServerLimiter } from '../../src/net/limit.ts';

describe('ServerLimiter', () => {
  it('never lets more than `concurrency` requests run at once', async () => {
    // Prepare
    const limiter = new ServerLimiter({ qps: 100_000, concurrency: 3 });
    let running = 0;
    let peak = 0;
    // Act
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        const release = await limiter.acquire();
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
        release!();
      }),
    );
    // Assess
    expect(peak).toBe(3);
  });

  it('spaces starts by 1/qps', async () => {
    // Prepare
    const limiter = new ServerLimiter({ qps: 50, concurrency: 100 });
    const starts: number[] = [];
    // The clock is read before the first grant: the first start's own continuation may run late on
    // a busy machine, so measuring from it would shorten the span the limiter actually enforced.
    const before = Date.now();
    // Act
    await Promise.all(Array.from({ length: 6 }, async () => { const r = await limiter.acquire(); starts.push(Date.now()); r!(); }));
    // Assess: six starts at 50 qps need 5 gaps of 20 ms (timers may fire up to 1 ms early).
    expect(Math.max(...starts) - before).toBeGreaterThanOrEqual(99);
  });

  it('after a stall catches up by at most CATCH_UP_MS worth of starts at once, then spaces them again', async () => {
    // Prepare: one start, then the event loop is busy for 300 ms.
    const limiter = new ServerLimiter({ qps: 100, concurrency: 100 });
    (await limiter.acquire())!();
    const busyUntil = Date.now() + 300;
    while (Date.now() < busyUntil);
    // Act
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 30 }, async () => { const r = await limiter.acquire(); starts.push(Date.now()); r!(); }));
    // Assess: 100 ms at 100 q/s is 10 queries of credit; the other 20 need 10 ms each.
    const burst = starts.filter((t) => t - starts[0] < 5).length;
    expect(burst).toBeGreaterThan(1);
    expect(burst).toBeLessThanOrEqual((CATCH_UP_MS / 1000) * 100 + 1);
    expect(starts[starts.length - 1] - starts[0]).toBeGreaterThanOrEqual(180);
  });

  it('gives up waiting when the signal aborts', async () => {
    const limiter = new ServerLimiter({ qps: 1000, concurrency: 1 });
    const held = await limiter.acquire();
    const controller = new AbortController();
    const waiting = limiter.acquire(controller.signal);
    controller.abort();
    expect(await waiting).toBeUndefined();
    held!();
    expect(await limiter.acquire()).toBeTypeOf('function');
  });

  it('lets every request waiting for a slot or its rate turn go at once on cancelWaiting (a server that will not be asked)', async () => {
    // Prepare: one slot taken; one request waits for the slot, four for their turn at 1 qps.
    const slot = new ServerLimiter({ qps: 1000, concurrency: 1 });
    const held = await slot.acquire();
    const waitingForSlot = slot.acquire();
    const slow = new ServerLimiter({ qps: 1, concurrency: 10 });
    await slow.acquire();
    const waitingForTurn = Array.from({ length: 4 }, () => slow.acquire());
    const started = Date.now();
    // Act
    slot.cancelWaiting();
    slow.cancelWaiting();
    // Assess: nobody waits the four seconds of the rate, nobody gets a slot.
    expect(await waitingForSlot).toBeUndefined();
    expect(await Promise.all(waitingForTurn)).toEqual([undefined, undefined, undefined, undefined]);
    expect(Date.now() - started).toBeLessThan(500);
    held!();
    expect(await slot.acquire()).toBeTypeOf('function');
  });

  it('tryAcquire takes a free slot at once and refuses when the slots or the rate say wait', async () => {
    // Prepare
    const limiter = new ServerLimiter({ qps: 10, concurrency: 1 });
    // Act
    const first = limiter.tryAcquire();
    const whileBusy = limiter.tryAcquire();
    first!();
    const tooSoon = limiter.tryAcquire();
    // Assess: one slot; and at 10 qps the next start is 100 ms away, so it must be awaited.
    expect(first).toBeTypeOf('function');
    expect(whileBusy).toBeUndefined();
    expect(tooSoon).toBeUndefined();
    const waited = await limiter.acquire();
    expect(waited).toBeTypeOf('function');
  });
});

