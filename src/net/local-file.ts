// Reading a local file a user named (the config, an ICE source, a CA file): regular files only,
// the size checked before reading and the read itself capped. A FIFO, /dev/zero or /dev/urandom
// is refused at once instead of hanging the run or filling memory; a file that grows while it
// is read is caught by the cap.
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

export type LocalFileRead =
  | { ok: true; bytes: Buffer }
  /** `detail` says why without the path: "ENOENT", "a FIFO (named pipe), not a regular file", "52 MB, over the limit of 4 MB". */
  | { ok: false; reason: 'cannot-open' | 'not-regular' | 'too-big' | 'read-error'; code?: string; detail: string };

function kindOf(s: Stats): string {
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isDirectory()) return 'a directory';
  if (s.isSocket()) return 'a socket';
  return 'something other than a file';
}

/** "4 MB", "1.5 MB", "512 KB", "900 bytes": sizes as people say them. */
export function sizeWords(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  if (mb >= 1) return `${Number.isInteger(mb) ? mb : mb.toFixed(1)} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${bytes} bytes`;
}

/** The whole file, or why not; never throws and never waits on a pipe or a device. */
export async function readLocalFile(path: string, maxBytes: number): Promise<LocalFileRead> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO that has no writer must not wait; fstat then says what it is.
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: 'cannot-open', code, detail: code ?? (err as Error).message };
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return { ok: false, reason: 'not-regular', detail: `${kindOf(stats)}, not a regular file` };
    const tooBig = (size: string) => ({ ok: false as const, reason: 'too-big' as const, detail: `${size}, over the limit of ${sizeWords(maxBytes)}` });
    if (stats.size > maxBytes) return tooBig(sizeWords(stats.size));
    // Read until EOF, but never past the limit: a file that grew since fstat is noticed, not cut.
    const chunks: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(maxBytes + 1 - length, Math.max(stats.size - length, 64 * 1024), 1024 * 1024));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, length);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      length += bytesRead;
      if (length > maxBytes) return tooBig('growing past the limit');
    }
    return { ok: true, bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, reason: 'read-error', code, detail: code ?? (err as Error).message };
  } finally {
    await handle.close().catch(() => {});
  }
}
