// Per-server politeness: at most `concurrency` requests in flight and at most `qps` started per second.

/**
 * After a stall (a busy event loop, a GC pause) the schedule may catch up by this much, like a
 * token bucket of this many milliseconds of queries: a server sees at most qps plus this
 * window's worth in any second, and a run is not slower than its politeness bound by every stall.
 */
export const CATCH_UP_MS = 100;

export interface Limits {
  qps: number;
  concurrency: number;
}

interface Waiter {
  wake: () => void;
  cancel: () => void;
}

export class ServerLimiter {
  private active = 0;
  private readonly waiters: Waiter[] = [];
  /** Aborted by cancelWaiting(): wakes the requests sleeping for their rate turn. */
  private cancelled = new AbortController();
  private nextStartAt = 0;

  constructor(private readonly limits: Limits) {}

  /**
   * A slot now, when one is free, nobody waits before us and the rate allows starting at once —
   * with no promise and no await (the common case of a fast run); undefined otherwise: then acquire().
   */
  tryAcquire(): (() => void) | undefined {
    if (this.active >= this.limits.concurrency || this.waiters.length > 0) return undefined;
    const now = Date.now();
    const startAt = this.nextStartAt === 0 ? now : Math.max(now - CATCH_UP_MS, this.nextStartAt);
    if (startAt - now >= 1) return undefined;
    this.active++;
    this.nextStartAt = startAt + 1000 / this.limits.qps;
    return this.releaser();
  }

  /** Resolves with a release function, or undefined if the signal aborted (or cancelWaiting ran) while waiting. */
  async acquire(signal?: AbortSignal): Promise<(() => void) | undefined> {
    if (signal?.aborted) return undefined;
    if (this.active < this.limits.concurrency) {
      this.active++;
    } else {
      // The releasing request hands its slot straight to us, so `active` never dips in between.
      const granted = await new Promise<boolean>((resolve) => {
        const onAbort = () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(false);
        };
        const waiter: Waiter = {
          wake: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(true);
          },
          cancel: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve(false);
          },
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(waiter);
      });
      if (!granted) return undefined;
    }
    const now = Date.now();
    const startAt = this.nextStartAt === 0 ? now : Math.max(now - CATCH_UP_MS, this.nextStartAt);
    this.nextStartAt = startAt + 1000 / this.limits.qps;
    if (startAt - now >= 1) {
      const cancelled = this.cancelled.signal;
      const slept = await sleep(startAt - now, signal ? AbortSignal.any([signal, cancelled]) : cancelled);
      if (!slept) {
        this.release();
        return undefined;
      }
    }
    return this.releaser();
  }

  /** Gives the slot back once, however often it is called. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.release();
      }
    };
  }

  /** Every request still waiting for a slot or its rate turn gives up at once (the server will not be asked). */
  cancelWaiting(): void {
    for (const waiter of this.waiters.splice(0)) waiter.cancel();
    this.cancelled.abort();
    this.cancelled = new AbortController();
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next.wake();
    else this.active--;
  }
}

/** Resolves true after `ms`, or false as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
