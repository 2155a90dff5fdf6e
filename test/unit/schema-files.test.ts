// config/schema.json and config/report.schema.json are generated (npm run schema); they must not drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchema } from '../../src/config.ts';
import { loadConfig } from '../../src/config-load.ts';
import { STARTER_CONFIG } from '../../src/entry/starter.ts';
import { reportJsonSchema } from '../../src/report/json.ts';

const read = (name: string) => JSON.parse(readFileSync(new URL(`../../config/${name}`, import.meta.url), 'utf8'));

describe('generated schema files', () => {
  it('config/schema.json matches the config schema (run `npm run schema` after changing it)', () => {
    expect(read('schema.json')).toEqual(JSON.parse(JSON.stringify(configJsonSchema())));
  });

  it('config/report.schema.json matches the report schema', () => {
    expect(read('report.schema.json')).toEqual(JSON.parse(JSON.stringify(reportJsonSchema())));
  });

  it('config/example.yaml is what `dialer-audit init` writes, and valid', async () => {
    expect(readFileSync(new URL('../../config/example.yaml', import.meta.url), 'utf8')).toBe(STARTER_CONFIG);
    const config = await loadConfig(new URL('../../config/example.yaml', import.meta.url).pathname);
    expect(config.resolvers.map((r) => r.name)).toEqual(['google', 'cloudflare', 'quad9', 'opendns']);
  });
});
