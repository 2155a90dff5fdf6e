// The file store (CLI and daemon): JSON with a revision, written atomically (temp file, fsync,
// rename), so a crash leaves either the old or the new state, never half of one. A lock file
// (O_EXCL) makes the revision check and the rename one step, so a CLI run next to the daemon
// cannot lose the daemon's update.
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../types.ts';
import type { AlertState } from './policy.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { emptyState, parseState, serializeState, type StateStore, type Versioned } from './store.ts';

export const DEFAULT_STATE_FILE = '.dialer-audit/state.json';

export interface FileStoreOptions {
  log?: Logger;
  /** A lock older than this was left by a crashed process and is taken over. */
  staleLockMs?: number;
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

  async save(state: AlertState, revision: number): Promise<boolean> {
    await mkdir(path.dirname(this.file), { recursive: true });
    const release = await this.#lock();
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
      await release();
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

  async #lock(): Promise<() => Promise<void>> {
    const staleMs = this.opts.staleLockMs ?? 30_000;
    const giveUpAt = Date.now() + (this.opts.lockWaitMs ?? 10_000);
    for (;;) {
      try {
        const handle = await open(this.#lockFile, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return () => rm(this.#lockFile, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new Error(`${this.description}: cannot create the lock file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
      }
      const held = await stat(this.#lockFile).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > staleMs) {
        await rm(this.#lockFile, { force: true });
        continue;
      }
      if (Date.now() > giveUpAt) throw new Error(`${this.description}: locked by another run for too long (${this.#lockFile})`);
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
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
