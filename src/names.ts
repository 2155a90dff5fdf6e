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
