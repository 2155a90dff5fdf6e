// The static inventory: dialer names listed in the config, and in the file `targets.dialersFile`
// names (one per line) — a large fleet's list, read without the cost of a YAML document per name.
import path from 'node:path';
import { hostnamePattern, type Config } from '../config-schema.ts';
import { configFileOf } from '../config-file.ts';
import { readSource } from '../net/source.ts';
import type { Inventory } from '../types.ts';

export function staticInventory(config: Config): Inventory {
  return { dialers: [...new Set(config.targets.dialers)], zones: [] };
}

/** Where `targets.dialersFile` is: relative to the config file it was written in. */
export function dialersFilePath(config: Config): string | undefined {
  const file = config.targets.dialersFile;
  if (!file) return undefined;
  const configFile = configFileOf(config);
  return configFile ? path.resolve(path.dirname(configFile), file) : path.resolve(file);
}

/** How many bad lines a problem names before "and N more". */
const SHOWN_PROBLEMS = 5;

/** A dialer list's names (lower-case, no trailing dot) and, when lines are not DNS names, one problem naming them. */
export function parseDialerList(text: string, source: string): { dialers: string[]; problem?: string } {
  const dialers: string[] = [];
  const bad: string[] = [];
  let badCount = 0;
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    if (!hostnamePattern.test(line)) {
      if (++badCount <= SHOWN_PROBLEMS) bad.push(`line ${lineNo} "${line.slice(0, 80)}"`);
      continue;
    }
    dialers.push(line.toLowerCase().replace(/\.$/, ''));
  }
  if (badCount === 0) return { dialers };
  const more = badCount > SHOWN_PROBLEMS ? ` and ${badCount - SHOWN_PROBLEMS} more` : '';
  return { dialers, problem: `${source}: ${badCount} line${badCount === 1 ? ' is' : 's are'} not a DNS name such as acme.dialer.example.com (${bad.join(', ')}${more}); the other ${dialers.length} names are audited` };
}

/** The inventory plus the names of a dialer list (read by the caller), each name once. */
export function withDialerList(inventory: Inventory, list: { dialers: string[]; problem?: string }): Inventory {
  const dialers = [...new Set([...inventory.dialers, ...list.dialers])];
  const problems = [...(inventory.problems ?? []), ...(list.problem ? [list.problem] : [])];
  return { ...inventory, dialers, ...(problems.length ? { problems } : {}) };
}

/** A million names of 64 characters: far beyond any fleet, short of a runaway file. */
const MAX_LIST_BYTES = 64 * 1024 * 1024;

/** The names of `targets.dialersFile`; a file that cannot be read is a problem, never a crash. */
export async function readDialersFile(config: Config, signal: AbortSignal): Promise<{ dialers: string[]; problem?: string }> {
  const file = dialersFilePath(config);
  if (!file) return { dialers: [] };
  const read = await readSource(file, { timeoutMs: 30_000, signal, maxBytes: MAX_LIST_BYTES });
  if (!read.ok) return { dialers: [], problem: `targets.dialersFile: ${read.detail}` };
  return parseDialerList(read.text, file);
}
