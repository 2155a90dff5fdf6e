// Config problems as people read them: one line per problem, starting with the key path
// (`resolvers[1].address: …`), sorted the way the file reads, the first 50 printed. Kept apart
// from the schema (config.ts) so the loader and the schema share it without importing each other.
import type { z } from 'zod';

/** Problems printed before "…and N more". */
export const PRINTED_PROBLEMS = 50;

/** The problems to print: the first PRINTED_PROBLEMS, then "…and 9,812 more". */
export function printableProblems(problems: readonly string[], max = PRINTED_PROBLEMS): string[] {
  if (problems.length <= max) return [...problems];
  return [...problems.slice(0, max), `…and ${(problems.length - max).toLocaleString('en-US')} more`];
}

/** A configuration problem; `problems` each start with the path of the bad key (the message holds the printable ones). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(printableProblems(problems).join('\n'));
    this.name = 'ConfigError';
  }
}

/** `resolvers[1].address` style, as people write it. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(top level)';
}

interface Problem {
  path: PropertyKey[];
  message: string;
}

function issueToProblems(issue: z.core.$ZodIssue): Problem[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({ path: [...issue.path, k], message: 'unknown key' }));
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    // Report the branch that got furthest instead of zod's generic "invalid input".
    const deepest = issue.errors.flat().sort((a, b) => b.path.length - a.path.length)[0];
    if (deepest && deepest.path.length > 0) return issueToProblems({ ...deepest, path: [...issue.path, ...deepest.path] });
  }
  return [{ path: issue.path, message: issue.message }];
}

/** Key-path order, as the file reads: resolvers[2] before resolvers[10], a key before its children. */
function byPath(a: Problem, b: Problem): number {
  for (let i = 0; i < Math.min(a.path.length, b.path.length); i++) {
    const x = a.path[i];
    const y = b.path[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return a.path.length - b.path.length || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0);
}

/** zod's issues as problem lines: unknown keys one by one, deduplicated, sorted by key path. */
export function problemsOf(issues: readonly z.core.$ZodIssue[]): string[] {
  const problems = issues.flatMap(issueToProblems).sort(byPath);
  return [...new Set(problems.map((p) => `${formatPath(p.path)}: ${p.message}`))];
}

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * For rules across keys: run them even when another key of the same object is wrong (zod skips
 * refinements of an object with problems, so a second pass would find more: every problem is
 * reported at once instead). The rule then sees raw values where keys failed, and checks types.
 */
export const evenWithOtherProblems = { when: (payload: { value: unknown }) => isRecord(payload.value) };
