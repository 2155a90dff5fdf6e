// Where alert state lives between runs. Every store is a compare-and-swap: a write succeeds only
// when the stored revision is still the one read, so two overlapping runs cannot lose each
// other's updates — the loser reads again and re-applies its own run on top (updateState).
import { z } from 'zod';
import type { Logger } from '../types.ts';
import { emptyState, type AlertState } from './policy.ts';

export interface Versioned {
  state: AlertState;
  /** 0 when nothing is stored yet. */
  revision: number;
}

export interface StateStore {
  /** For messages: "file .dialer-audit/state.json", "dynamodb table/key". */
  readonly description: string;
  load(): Promise<Versioned>;
  /** Writes `state` as revision+1 if the stored revision is still `revision`; false on a conflict. */
  save(state: AlertState, revision: number): Promise<boolean>;
  /**
   * One notifying run at a time per state: held across read → decide → send → write, so a notice
   * is sent once however many runs overlap. Throws when another live run keeps it past `waitMs`.
   */
  lock?(request: LockRequest): Promise<StateLock>;
}

export interface LockRequest {
  /** The run asking (its run id): named in the lock and in the log line of whoever waits. */
  owner: string;
  waitMs: number;
  signal?: AbortSignal;
  log?: Logger;
}

/** A held lock: its lease is renewed while held, and it cannot outlive its holder. */
export interface StateLock {
  /** Renews the lease; false when it is no longer ours (it ran out and another run took it). */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

export class StateConflictError extends Error {
  constructor(description: string, attempts: number) {
    super(`${description}: gave up after ${attempts} conflicting writes (another run keeps updating the state)`);
    this.name = 'StateConflictError';
  }
}

export interface UpdateOptions {
  /** A state already loaded, tried first (saves one read when nobody else wrote). */
  initial?: Versioned;
  attempts?: number;
  /** Between conflicts; jittered so two losers do not collide again. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Read-modify-write with retry: `mutate` must be pure, it may run once per attempt. */
export async function updateState(store: StateStore, mutate: (state: AlertState) => AlertState, opts: UpdateOptions = {}): Promise<AlertState> {
  const attempts = opts.attempts ?? 8;
  const sleep = opts.sleep ?? defaultSleep;
  let current = opts.initial ?? (await store.load());
  for (let attempt = 1; ; attempt++) {
    const next = mutate(current.state);
    if (await store.save(next, current.revision)) return next;
    if (attempt >= attempts) throw new StateConflictError(store.description, attempts);
    await sleep(Math.round(20 * 2 ** Math.min(attempt, 5) * (0.5 + Math.random())));
    current = await store.load();
  }
}

const severity = z.enum(['critical', 'warning', 'info']);
const iso = z.string();

const entrySchema = z.object({
  check: z.string(),
  target: z.string(),
  code: z.string(),
  resolver: z.string().optional(),
  vantage: z.string().optional(),
  severity,
  message: z.string(),
  firstStep: z.string().optional(),
  firstSeen: iso,
  lastSeen: iso,
  consecutiveFailures: z.number().int().min(0),
  consecutiveSuccesses: z.number().int().min(0),
  firing: z.boolean(),
  firingSince: iso.optional(),
  resolvedAt: iso.optional(),
  told: z.record(z.string(), z.object({ severity, at: iso })),
});

const appliedTtlChangeSchema = z.object({
  zoneId: z.string(),
  name: z.string(),
  type: z.string(),
  setIdentifier: z.string().nullable(),
  fromTtl: z.number().int().min(0),
  toTtl: z.number().int().min(0),
  at: iso,
  runId: z.string().optional(),
  changeId: z.string().optional(),
});

export const stateSchema = z.object({
  schemaVersion: z.literal(1),
  observations: z.record(z.string(), z.object({ runId: z.string(), startedAt: iso, finishedAt: iso })).optional(),
  entries: z.record(z.string(), entrySchema),
  reporters: z.record(
    z.string(),
    z.object({ reporter: z.string(), vantage: z.string().optional(), consecutiveFailures: z.number().int().min(0), since: iso, lastError: z.string() }),
  ),
  /** Optional: states written before the fix journal existed have none. */
  fixJournal: z.array(appliedTtlChangeSchema).optional(),
});

/** Parse stored JSON; throws a message that says what is wrong (never the content). */
export function parseState(json: string, description: string): AlertState {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error(`${description}: the stored alert state is not valid JSON`);
  }
  const parsed = stateSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`${description}: the stored alert state is not understood (${first.path.join('.') || 'top level'}: ${first.message})`);
  }
  return parsed.data as AlertState;
}

export function serializeState(state: AlertState): string {
  return JSON.stringify(state);
}

export { emptyState };
