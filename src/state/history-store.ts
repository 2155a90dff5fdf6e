// The run history next to the alert state: one gzip JSON day document per UTC day (see
// src/history/record.ts), kept for `state.history.retention`. The file store keeps a directory of
// day files beside the state file (`history/2026-11-23.json.gz`, written atomically, days past
// the retention removed as it goes); the DynamoDB store keeps one item per day
// (src/state/dynamodb-history.ts). Appends happen under the state lock of the notifying run, and
// each day is also written with its own revision check where the store has one. Reading never
// throws: a day that cannot be read is a problem in words, for a note on the page.
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { appendRun, dayExpiresAt, dayOf, daysBetween, emptyDay, parseDay, unpackDay, type AppendResult, type HistoryDay, type HistoryRecord } from '../history/record.ts';
import type { Logger } from '../types.ts';
import { writeFileAtomic } from './atomic-write.ts';

export interface HistoryRead {
  /** Runs that finished in the window, oldest first. */
  records: HistoryRecord[];
  /** What could not be read, or was left out to keep the history bounded, in words. */
  problems: string[];
}

export interface HistoryStore {
  /** For messages: "history files in .dialer-audit/history". */
  readonly description: string;
  /** Adds a run to its day; resolves with what the size cap did to it. */
  append(record: HistoryRecord): Promise<AppendResult['outcome']>;
  /** Runs that finished at or after `since` (epoch ms), up to `now`. */
  read(since: number, now: number): Promise<HistoryRead>;
}

/** Words for a day whose runs were left out because it was full. */
export function droppedProblem(day: HistoryDay): string | undefined {
  return day.dropped ? `${day.day}: ${day.dropped} run${day.dropped === 1 ? '' : 's'} not kept (the day reached its size cap)` : undefined;
}

/** Gathers the days' records within [since, now] and their problems, oldest first. */
export function recordsOf(days: { day?: HistoryDay; problem?: string }[], since: number, now: number): HistoryRead {
  const records: HistoryRecord[] = [];
  const problems: string[] = [];
  for (const d of days) {
    if (d.problem) problems.push(d.problem);
    if (!d.day) continue;
    const dropped = droppedProblem(d.day);
    if (dropped) problems.push(dropped);
    for (const r of unpackDay(d.day)) {
      const at = Date.parse(r.finishedAt);
      if (at >= since && at <= now) records.push(r);
    }
  }
  records.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
  return { records, problems };
}

const DAY_FILE = /^(\d{4}-\d{2}-\d{2})\.json\.gz$/;

export class FileHistoryStore implements HistoryStore {
  readonly description: string;

  constructor(
    readonly dir: string,
    private readonly retentionMs: number,
    private readonly opts: { log?: Logger; now?: () => number } = {},
  ) {
    this.description = `history files in ${dir}`;
  }

  async append(record: HistoryRecord): Promise<AppendResult['outcome']> {
    const now = this.opts.now?.() ?? Date.now();
    const dayName = dayOf(Date.parse(record.finishedAt));
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new Error(`${this.description}: cannot create the directory (${code(err)})`);
    }
    const file = this.#file(dayName);
    let day: HistoryDay;
    try {
      day = await this.#readDay(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') day = emptyDay(dayName);
      else {
        // A broken day file must not stop the history: keep it for a person to read, start the day afresh.
        const aside = `${file}.corrupt-${now}`;
        await rename(file, aside).catch(() => {});
        this.opts.log?.warn('history day unreadable; moved aside and starting the day afresh', { file, movedTo: aside, error: (err as Error).message });
        day = emptyDay(dayName);
      }
    }
    const appended = appendRun(day, record);
    try {
      await writeFileAtomic(file, appended.bytes, 0o600);
    } catch (err) {
      throw new Error(`${this.description}: cannot write ${path.basename(file)} (${code(err)})`);
    }
    await this.#prune(now);
    return appended.outcome;
  }

  async read(since: number, now: number): Promise<HistoryRead> {
    const days = await Promise.all(
      daysBetween(since, now).map(async (name) => {
        try {
          return { day: await this.#readDay(this.#file(name)) };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
          return { problem: `${name}: ${(err as Error).message}` };
        }
      }),
    );
    return recordsOf(days, since, now);
  }

  #file(day: string): string {
    return path.join(this.dir, `${day}.json.gz`);
  }

  async #readDay(file: string): Promise<HistoryDay> {
    const blob = await readFile(file);
    let json: string;
    try {
      json = gunzipSync(blob).toString('utf8');
    } catch {
      throw new Error(`${path.basename(file)} is not gzip`);
    }
    return parseDay(json, path.basename(file));
  }

  /** Days past the retention go; the rest of the directory is left alone. */
  async #prune(now: number): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = DAY_FILE.exec(name);
      if (m && dayExpiresAt(m[1], this.retentionMs) < now) await rm(path.join(this.dir, name), { force: true }).catch(() => {});
    }
  }
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message ?? String(err);
}

/** The history directory of a state file: `history/` beside it. */
export function historyDirFor(stateFile: string): string {
  return path.join(path.dirname(stateFile), 'history');
}
