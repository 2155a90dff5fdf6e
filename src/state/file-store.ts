// The file store (CLI and daemon): JSON with a revision, written atomically (temp file, fsync,
// rename), so a crash leaves either the old or the new state, never half of one. The lock file
// (state.json.lock, see file-lock.ts) is held by a notifying run from reading the state to
// writing it, so two runs on one state send each notice once; save() takes it for its own
// revision check and rename when the caller does not hold it.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../types.ts';
import type { AlertState } from './policy.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { acquireFileLock } from './file-lock.ts';
import { emptyState, parseState, serializeState, type LockRequest, type StateLock, type StateStore, type Versioned } from './store.ts';

export const DEFAULT_STATE_FILE = '.dialer-audit/state.json';

export interface FileStoreOptions {
  log?: Logger;
  /** How long a lock lasts without renewal (its holder renews it); then anyone may take it over. */
  leaseMs?: number;
  /** How long save() waits for another writer's lock. */
  lockWaitMs?: number;
}

interface FileContent {
  revision: number;
  state: unknown;
}

export class FileStateStore implements StateStore {
  readonly description: string;
  readonly #lockFile: string;
  /** The run lock this store holds for its caller (lock()), under which save() needs no lock of its own. */
  #held: StateLock | undefined;

  constructor(
    readonly file: string,
    private readonly opts: FileStoreOptions = {},
  ) {
    this.description = `state file ${file}`;
    this.#lockFile = `${file}.lock`;
  }

  async load(): Promise<Versioned> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyState(), revision: 0 };
      throw new Error(`${this.description}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    try {
      const content = JSON.parse(text) as FileContent;
      if (typeof content?.revision !== 'number') throw new Error('no revision');
      return { state: parseState(JSON.stringify(content.state), this.description), revision: content.revision };
    } catch (err) {
      // A broken file must not stop alerting for good: keep it for a person to read, start afresh
      // (at worst each ongoing problem is announced once more).
      const aside = `${this.file}.corrupt-${Date.now()}`;
      await rename(this.file, aside).catch(() => {});
      this.opts.log?.warn('alert state unreadable; moved aside and starting afresh', { file: this.file, movedTo: aside, error: (err as Error).message });
      return { state: emptyState(), revision: 0 };
    }
  }

  async lock(request: LockRequest): Promise<StateLock> {
    await this.#mkdir();
    const held = await this.#acquire(request);
    this.#held = held;
    return {
      renew: () => held.renew(),
      release: async () => {
        if (this.#held === held) this.#held = undefined;
        await held.release();
      },
    };
  }

  async save(state: AlertState, revision: number): Promise<boolean> {
    await this.#mkdir();
    const own = this.#held ? undefined : await this.#acquire({ owner: `save by pid ${process.pid}`, waitMs: this.opts.lockWaitMs ?? 10_000 });
    try {
      if ((await this.#storedRevision()) !== revision) return false;
      const content = `{"revision":${revision + 1},"state":${serializeState(state)}}\n`;
      try {
        await writeFileAtomic(this.file, content, 0o600);
      } catch (err) {
        throw new Error(`${this.description}: cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
      await syncDirectory(path.dirname(this.file));
      return true;
    } finally {
      await own?.release();
    }
  }

  async #mkdir(): Promise<void> {
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
    } catch (err) {
      throw new Error(`${this.description}: cannot create its directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }

  async #acquire(request: LockRequest): Promise<StateLock> {
    try {
      return await acquireFileLock(this.#lockFile, { ...request, leaseMs: this.opts.leaseMs, log: request.log ?? this.opts.log });
    } catch (err) {
      if ((err as Error).name === 'LockBusyError') throw new Error(`${this.description}: ${(err as Error).message}`);
      throw new Error(`${this.description}: cannot take the lock ${this.#lockFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  async #storedRevision(): Promise<number> {
    try {
      const content = JSON.parse(await readFile(this.file, 'utf8')) as FileContent;
      return typeof content?.revision === 'number' ? content.revision : 0;
    } catch {
      return 0;
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename durable; some file systems refuse to open a directory, which is fine.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* best effort */
  }
}
