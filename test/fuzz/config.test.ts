// Fuzz: the config loader. Text (random, YAML-shaped token soup, the starter config damaged at
// random) through parseConfigText, and objects (every section of the schema with random values,
// unknown keys, __proto__) through parseConfig. The only exception allowed is a ConfigError whose
// problems are lines of text; anything else thrown is a bug.
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.ts';
import { parseConfigText } from '../../src/config-load.ts';
import { fuzzParameters, nastyText, RUNS_LABEL, tally } from './inputs.ts';

const STARTER = readFileSync(new URL('../../config/example.yaml', import.meta.url), 'utf8');

function expectConfigOrConfigError(parse: () => unknown): 'valid' | 'ConfigError' {
  try {
    parse();
    return 'valid';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) expect(typeof p).toBe('string');
    return 'ConfigError';
  }
}

const TOKENS = [
  'resolvers:', 'targets:', 'dialers:', 'checks:', 'dns-consistency:', 'ttl-policy:', 'sip-options:', 'ice-policy:', 'carriers:', 'destinations:',
  'stun:', 'servers:', 'reporters:', 'slack:', 'email:', 'daemon:', 'schedule:', 'state:', 'alerting:', 'run:', 'fix:', 'dns:', '__proto__:', 'constructor:',
  '  - ', '- ', '{', '}', '[', ']', ': ', ',', '&a ', '*a', '<<: *a', '!!binary ', '!!js/function ', '---\n', '...\n', '|\n', '>\n', '"', "'", '# ', '\n', '  ', '? ',
  'name: x', 'address: "127.0.0.1:53"', 'uri: sip:x', 'env:X', 'ssm:/x', '5m', '-1', '1e309', '0x1F', 'null', '~', 'true', '*/5 * * * *', 'acme.dialer.test',
];
const yamlish = fc.array(fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...TOKENS) }, { weight: 1, arbitrary: nastyText(20) }), { maxLength: 60 }).map((t) => t.join(''));

/** The starter config with a few characters deleted, inserted or replaced. */
const damagedStarter = fc
  .array(fc.tuple(fc.nat(STARTER.length), fc.nat(8), fc.oneof(fc.constantFrom('', ':', '-', ' ', '\n', '[', '{', '"', '&a', '*a', '\t'), nastyText(4))), { minLength: 1, maxLength: 5 })
  .map((edits) => edits.reduce((text, [at, remove, insert]) => text.slice(0, at % (text.length + 1)) + insert + text.slice((at % (text.length + 1)) + remove), STARTER));

const value: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: nastyText(30) },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined, NaN, Infinity, -0, 2 ** 53, 'env:HOME', 'ssm:/x', '5m', '*/5 * * * *', '127.0.0.1:53', 'sip:x.example', 'stun:x:3478') },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('name', 'address', 'uri', 'port', '__proto__', 'constructor', 'toString', 'zone', 'table'), fc.jsonValue({ maxDepth: 2 })) },
);
const section = (keys: string[]) => fc.dictionary(fc.oneof(fc.constantFrom(...keys), nastyText(8)), value, { maxKeys: 5 });
const configObject = fc.record(
  {
    resolvers: fc.array(section(['name', 'address', 'flushUrl', 'qps', 'concurrency']), { maxLength: 3 }),
    authoritative: fc.array(section(['name', 'address']), { maxLength: 2 }),
    targets: section(['dialers', 'zones']),
    checks: fc.dictionary(fc.constantFrom('dns-consistency', 'ttl-policy', 'stun-binding', 'turn-allocate', 'ice-policy', 'sip-options', '__proto__', 'constructor', 'nope'), fc.oneof(value, section(['recordTypes', 'maxTtl', 'sources', 'sizes', 'timeout', 'overrides'])), { maxKeys: 3 }),
    dns: section(['timeout', 'retries', 'qps', 'concurrency', 'ednsBufferSize']),
    run: section(['budget', 'concurrency', 'failOn', 'vantage']),
    fix: section(['mode', 'maxChanges', 'maxPercent', 'protect']),
    stun: section(['servers', 'allow', 'deny', 'denyPublicDefaults']),
    carriers: fc.array(section(['name', 'uri', 'transports', 'ports', 'accept', 'warnAfter', 'criticalAfter', 'regions']), { maxLength: 3 }),
    destinations: fc.array(section(['prefix', 'carriers', 'regions']), { maxLength: 2 }),
    alerting: section(['failureThreshold', 'successThreshold', 'reminderInterval', 'notifyOn']),
    state: section(['file', 'dynamodb']),
    reporters: section(['slack', 'email', 'metrics', 'links']),
    daemon: section(['schedule', 'timezone', 'grace', 'healthz']),
    __proto__: value,
    extra: value,
  },
  { requiredKeys: [] },
);

/** A config that validates, touching every section; the fuzz changes one or two of its values. */
const VALID = {
  resolvers: [{ name: 'pub1', address: '127.0.0.1:53', qps: 10 }, { name: 'pub2', address: '[::1]:53' }],
  authoritative: [{ name: 'ns1', address: '127.0.0.10' }],
  targets: { dialers: ['acme.dialer.test'], zones: [{ zone: 'dialer.test', match: '*.dialer.test' }] },
  checks: {
    'dns-consistency': { recordTypes: ['A'] },
    'ttl-policy': { maxTtl: 300 },
    'stun-binding': {},
    'ice-policy': { sources: ['/dev/null', { source: 'https://x.example/ice.json', redirectHosts: ['cdn.example'] }] },
    'sip-options': { sizes: [500, 1500] },
  },
  dns: { timeout: '1s', retries: 1 },
  run: { budget: '60s', failOn: 'warning', vantage: 'lab' },
  fix: { mode: 'plan', protect: ['*.keep.test'] },
  stun: { servers: [{ uri: 'turn:turn.example:3478?transport=udp', username: 'env:X', credential: 'env:X' }], allow: ['*.example'] },
  carriers: [{ name: 'c1', uri: 'sip:trunk.example', transports: ['udp', 'tcp'], warnAfter: '1s', criticalAfter: '5s' }],
  destinations: [{ prefix: '+1', carriers: ['c1'] }],
  alerting: { failureThreshold: 2, reminderInterval: '4h' },
  state: { file: '/tmp/state.json' },
  reporters: { slack: { webhookUrl: 'env:X' }, email: { smtp: { host: 'smtp.example', user: 'env:X', pass: 'env:X' }, from: 'a@example', to: ['b@example'] } },
  daemon: { schedule: '*/5 * * * *', timezone: 'Europe/Berlin', healthz: { port: 9464 } },
};

/** Every path to a leaf (and to each object) of VALID. */
function pathsOf(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [at];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [at, ...entries.flatMap(([k, v]) => pathsOf(v, [...at, k]))];
}
const PATHS = pathsOf(VALID).filter((p) => p.length > 0);

/** VALID with one or two values replaced (or a key added beside them). */
const nearlyValid = fc.array(fc.tuple(fc.constantFrom(...PATHS), fc.boolean(), value), { minLength: 1, maxLength: 2 }).map((edits) => {
  const copy = structuredClone(VALID) as Record<string | number, unknown>;
  for (const [path, sibling, v] of edits) {
    let parent: unknown = copy;
    for (const k of path.slice(0, -1)) parent = parent !== null && typeof parent === 'object' ? (parent as Record<string | number, unknown>)[k] : undefined;
    // An earlier edit may have replaced a parent of this path: then there is nothing to edit.
    if (parent === null || typeof parent !== 'object') continue;
    (parent as Record<string | number, unknown>)[sibling ? `${String(path.at(-1))}x` : path.at(-1)!] = v;
  }
  return copy;
});

describe('fuzz: the config loader', () => {
  it('the base of the nearly-valid inputs is valid', () => {
    expect(expectConfigOrConfigError(() => parseConfig(VALID, { env: { X: 'x' } }))).toBe('valid');
  });

  it(`YAML text (random, token soup, the starter config damaged): ${RUNS_LABEL}, a Config or a ConfigError`, () => {
    const seen = tally('config text');
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), yamlish, damagedStarter), (text) => {
        seen.count(expectConfigOrConfigError(() => parseConfigText(text, 'fuzz.yaml', { env: { X: 'x', HOME: '/tmp' } })));
      }),
      fuzzParameters(),
    );
    seen.print();
  });

  it(`objects with every section and random values: ${RUNS_LABEL}, a Config or a ConfigError`, () => {
    const seen = tally('config objects');
    fc.assert(
      fc.property(fc.oneof(configObject, nearlyValid), (raw) => {
        seen.count(expectConfigOrConfigError(() => parseConfig(raw, { env: { X: 'x', HOME: '/tmp' } })));
      }),
      fuzzParameters(),
    );
    seen.print();
  });
});
