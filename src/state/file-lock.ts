// A lock file that cannot outlive its holder. It names its owner (pid, host, run) and carries a
// lease the holder renews; another process takes it over, with a log line, as soon as the owner's
// process is gone (same host) or its lease has run out (any host). It is never half written: the
// content goes to a temp file first and appears under the lock's name with link(2), which is
// atomic and fails when a lock exists — so a full disk leaves nothing behind, and a SIGKILL leaves
// a complete lock whose dead owner the next run recognises at once.
import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { sleep } from '../net/limit.ts';
import type { Logger } from '../types.ts';
import { writeFileAtomic } from './atomic-write.ts';
import type { LockRequest, StateLock } from './store.ts';

export interface LockOwner {
  pid: number;
  host: string;
  /** The run holding it (a run id), for the log line of whoever waits. */
  owner: string;
  acquiredAt: string;
  /** ISO time after which anyone may take it over. */
  expiresAt: string;
  /** Tells this holding from a later one of the same process. */
  token: string;
}

export interface FileLockOptions extends LockRequest {
  /** How long a holding lasts without renewal; the holder renews at a third of it. */
  leaseMs?: number;
}

export class LockBusyError extends Error {
  override name = 'LockBusyError';
}

export const DEFAULT_LEASE_MS = 30_000;
/** A lock file with no readable owner (written by an older version, or by hand) is stale after this. */
const UNREADABLE_STALE_MS = 30_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(file: string): Promise<{ owner?: LockOwner; raw: string; mtimeMs: number } | undefined> {
  try {
    const [raw, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    let owner: LockOwner | undefined;
    try {
      const parsed = JSON.parse(raw) as LockOwner;
      if (typeof parsed?.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.token === 'string') owner = parsed;
    } catch {
      // An older version wrote only its pid (or nothing): judge it by the pid on this host, else by age.
      if (/^\d+$/.test(raw.trim())) {
        owner = { pid: Number(raw.trim()), host: os.hostname(), owner: '(unknown)', acquiredAt: '', expiresAt: new Date(st.mtimeMs + UNREADABLE_STALE_MS).toISOString(), token: raw };
      }
    }
    return { owner, raw, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Why the current holding may be taken over, or undefined while it is live. */
function staleBecause(found: { owner?: LockOwner; mtimeMs: number }, now: number): string | undefined {
  const o = found.owner;
  if (!o) return now - found.mtimeMs > UNREADABLE_STALE_MS ? 'it names no owner and is older than 30 s' : undefined;
  if (o.host === os.hostname() && !pidAlive(o.pid)) return `its process (pid ${o.pid}) is gone`;
  if (Date.parse(o.expiresAt) < now) return `its lease ran out at ${o.expiresAt}`;
  return undefined;
}

/**
 * Takes a stale holding away: renamed aside first (only one taker wins the rename), then checked
 * to be the holding that was judged stale; a fresh one caught by mistake is put back.
 */
async function takeOver(file: string, judged: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    if ((await readFile(aside, 'utf8')) !== judged) await link(aside, file).catch(() => {});
  } finally {
    await rm(aside, { force: true });
  }
}

export async function acquireFileLock(file: string, opts: FileLockOptions): Promise<StateLock> {
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  const token = randomBytes(8).toString('hex');
  const describe = (o: LockOwner | undefined) => (o ? `run ${o.owner} (pid ${o.pid} on ${o.host}, since ${o.acquiredAt || 'unknown'})` : 'an unknown run');
  const content = (acquired: number, now: number) =>
    JSON.stringify({ pid: process.pid, host: os.hostname(), owner: opts.owner, acquiredAt: new Date(acquired).toISOString(), expiresAt: new Date(now + leaseMs).toISOString(), token } satisfies LockOwner) + '\n';
  const giveUpAt = Date.now() + opts.waitMs;
  let waitedFor: LockOwner | undefined;
  for (let round = 0; ; round++) {
    const now = Date.now();
    if (await writeFileAtomic(file, content(now, now), 0o600, { exclusive: true })) {
      if (waitedFor) opts.log?.info('state lock taken after waiting', { lockFile: file, waitedFor: describe(waitedFor) });
      return holding(file, token, leaseMs, (at) => content(now, at), opts.log);
    }
    const found = await readOwner(file);
    if (!found) continue; // released meanwhile
    const why = staleBecause(found, now);
    if (why) {
      opts.log?.warn('taking over a stale state lock', { lockFile: file, heldBy: describe(found.owner), reason: why });
      await takeOver(file, found.raw);
      continue;
    }
    waitedFor = found.owner;
    if (now >= giveUpAt || opts.signal?.aborted) {
      throw new LockBusyError(`${file} is held by ${describe(found.owner)}; gave up waiting after ${Math.round(opts.waitMs / 1000)} s`);
    }
    await sleep(Math.min(10 + Math.random() * 40 + round * 5, 250, Math.max(1, giveUpAt - now)), opts.signal);
  }
}

function holding(file: string, token: string, leaseMs: number, content: (now: number) => string, log?: Logger): StateLock {
  let ours = true;
  const renew = async (): Promise<boolean> => {
    if (!ours) return false;
    const found = await readOwner(file).catch(() => undefined);
    if (found?.owner?.token !== token) {
      ours = false;
      log?.error('the state lock was taken over while this run held it', { lockFile: file, heldBy: found?.owner?.owner });
      return false;
    }
    await writeFileAtomic(file, content(Date.now()), 0o600).catch(() => {});
    return true;
  };
  // Keeps the lease fresh while a slow send is in flight; never keeps the process alive.
  const timer = setInterval(() => void renew(), Math.max(1000, Math.floor(leaseMs / 3)));
  timer.unref();
  return {
    renew,
    async release() {
      clearInterval(timer);
      if (!ours) return;
      ours = false;
      const found = await readOwner(file).catch(() => undefined);
      if (found?.owner?.token === token) await rm(file, { force: true });
    },
  };
}
