// Write a file so that readers see the old content or the new, never half of it: a temp file
// beside it (same filesystem), fsync, rename over. The temp file is removed when anything fails.
// `exclusive` publishes with link(2) instead: atomic too, and only when nothing is there yet (the
// state lock), so a full disk or a crash never leaves a half-written file under the name.
import { randomBytes } from 'node:crypto';
import { link, open, rename, rm } from 'node:fs/promises';

/** True when written; false only with `exclusive` when `file` already exists. */
export async function writeFileAtomic(file: string, content: string | Uint8Array, mode: number, opts: { exclusive?: boolean } = {}): Promise<boolean> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (!opts.exclusive) {
      await rename(temp, file);
      return true;
    }
    try {
      await link(temp, file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(temp, { force: true });
    }
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
