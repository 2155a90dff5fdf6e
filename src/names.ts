// DNS names as people write them in the config and as Route 53 returns them, and the globs that
// select them (targets.zones[].match / exclude, fix.protect, ttl-policy overrides). Pure.

/**
 * Route 53 returns names with a trailing dot and escapes every character outside
 * [a-z0-9-_.] as a three-digit octal escape (`\052` for `*`). This gives the name as
 * people write it: lower case, unescaped, no trailing dot.
 */
export function normalizeRoute53Name(name: string): string {
  return name
    .replace(/\\([0-7]{3})/g, (_m, octal: string) => String.fromCharCode(parseInt(octal, 8)))
    .toLowerCase()
    .replace(/\.$/, '');
}

/** Strips `/hostedzone/` (and `/change/`) so ids compare equal however they were written. */
export function bareId(id: string): string {
  return id.replace(/^\/(hostedzone|change|delegationset)\//, '');
}

/** Whether `name` is `zone` or lies below it. */
export function isInZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/**
 * A name glob, case-insensitive, trailing dot ignored: `*` matches any characters (dots too, so
 * `*.dialer.example.com` covers `acme.dialer.example.com` and `_sip._udp.acme.dialer.example.com`,
 * and the default `*` covers the whole zone), `?` exactly one character. Everything else is literal.
 */
export function compileNameGlob(glob: string): RegExp {
  const source = glob
    .toLowerCase()
    .replace(/\.$/, '')
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$+.()|{}[\]]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}

const compiled = new Map<string, RegExp>();

export function matchesGlob(name: string, glob: string): boolean {
  let re = compiled.get(glob);
  if (!re) {
    re = compileNameGlob(glob);
    compiled.set(glob, re);
  }
  return re.test(normalizeRoute53Name(name));
}

/** The first glob that matches, for messages that say why. */
export function firstMatchingGlob(name: string, globs: readonly string[]): string | undefined {
  return globs.find((g) => matchesGlob(name, g));
}

/** Selected by the zone's `match` globs and not by its `exclude` globs. */
export function isSelected(name: string, match: readonly string[], exclude: readonly string[]): boolean {
  return firstMatchingGlob(name, match) !== undefined && firstMatchingGlob(name, exclude) === undefined;
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two strings. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The names a mistyped one was probably meant to be, closest first: within a quarter of its length
 * in edits (at least 2), or sharing its first label (`acme.dialer.example.org` for `acme`), or the
 * carrier a finding's `carrier/transport` target names. Pure.
 */
export function didYouMean(input: string, candidates: Iterable<string>, max = 3): string[] {
  const wanted = input.toLowerCase().replace(/\.$/, '');
  const limit = Math.max(2, Math.floor(wanted.length / 4));
  const scored: { name: string; score: number }[] = [];
  for (const name of new Set(candidates)) {
    const lower = name.toLowerCase();
    const distance = editDistance(wanted, lower);
    // `acme` for acme.dialer.example.com; `twilio/udp` (a finding's target) for the carrier `twilio`.
    const sameFirstLabel = wanted.split('.')[0] === lower.split('.')[0] || lower.startsWith(`${wanted}.`) || wanted.startsWith(`${lower}/`);
    if (distance <= limit || sameFirstLabel) scored.push({ name, score: sameFirstLabel ? Math.min(distance, limit) : distance });
  }
  scored.sort((a, b) => a.score - b.score || a.name.localeCompare(b.name));
  // Only the closest: a second name two edits further away is noise, not a suggestion.
  return scored.filter((s) => s.score === scored[0].score).slice(0, max).map((s) => s.name);
}
