// What "RTT" means in dialer-audit: from the moment a request is handed to the socket to the moment
// its answer is read from it — not the time spent waiting for a limiter, building the request,
// resolving an address or parsing the answer. Two things make that hold in Node:
// - a UDP send to a numeric address must not wait on dgram's lookup (a tick at least, more when
//   the loop is busy): numericLookup answers in the same call, so send() reaches the kernel before
//   it returns and the stamp taken just before it is the send time;
// - a reply is stamped first thing in its socket callback, and the work on it (parsing, matching,
//   settling promises) runs after every socket that is ready at the same time has been stamped, so
//   twenty answers arriving together each keep their own arrival time.
import type { LookupOneOptions } from 'node:dns';
import net from 'node:net';

/** Monotonic milliseconds with sub-millisecond resolution. */
export const wireNow = (): number => performance.now();

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/** dgram's `lookup` for sockets that only ever send to IP literals: the answer comes in the same call. */
export function numericLookup(host: string, _options: LookupOneOptions | number, callback: LookupCallback): void {
  const family = net.isIP(host);
  if (family === 0) {
    const err: NodeJS.ErrnoException = new Error(`not an IP address: ${host}`);
    err.code = 'EINVAL';
    callback(err, '', 0);
    return;
  }
  callback(null, host, family);
}

/** Longest a ready request waits for others still being prepared (connects, binds) before it goes anyway. */
const MAX_HOLD_MS = 10;
const ready: (() => void)[] = [];
let preparingCount = 0;
let holdTimer: NodeJS.Timeout | undefined;
let flushQueued = false;

/** At most one flush waits in the loop's queue, so sends stay one per turn however many ask. */
function queueFlush(): void {
  if (flushQueued) return;
  flushQueued = true;
  setImmediate(flush);
}

/**
 * One send per turn of the loop: the loop polls between two sends, so an answer that comes back
 * while later requests are still going out is stamped at once, not after all of them (on a busy
 * host a send that wakes the server can cost a fraction of a millisecond).
 */
function flush(): void {
  flushQueued = false;
  clearTimeout(holdTimer);
  holdTimer = undefined;
  const send = ready.shift();
  send?.();
  if (ready.length > 0) queueFlush();
}

/**
 * A probe is opening its socket (bind, connect, handshake); returns `done`, to call once it is ready
 * to send or has given up. While any probe prepares, ready ones wait (at most MAX_HOLD_MS), so a
 * burst of probes sends together at its end instead of each waiting out the others' set-up work
 * between its send and its answer.
 */
export function preparing(): () => void {
  preparingCount++;
  let open = true;
  return () => {
    if (!open) return;
    open = false;
    preparingCount--;
    if (preparingCount === 0 && ready.length > 0) queueFlush();
  };
}

/** Runs `send` once no probe is still preparing (or MAX_HOLD_MS passed), after the work queued in this turn. */
export function sendSoon(send: () => void): void {
  ready.push(send);
  holdTimer ??= setTimeout(queueFlush, MAX_HOLD_MS);
  if (preparingCount === 0) queueFlush();
}

/** Stamps now, handles later: `handle(stamp, …args)` runs once every socket ready in this poll phase has been stamped. */
export function stampFirst<A extends unknown[]>(handle: (at: number, ...args: A) => void): (...args: A) => void {
  return (...args: A) => {
    const at = wireNow();
    setImmediate(() => handle(at, ...args));
  };
}
