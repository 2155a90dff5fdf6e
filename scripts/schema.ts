// Writes the generated files in config/: the JSON schemas editors and tools read (schema.json,
// report.schema.json) and example.yaml, which is what `dialer-audit init` writes.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/config.ts';
import { STARTER_CONFIG } from '../src/entry/starter.ts';
import { reportJsonSchema } from '../src/report/json.ts';

const out = (name: string, schema: unknown) => writeFileSync(new URL(`../config/${name}`, import.meta.url), JSON.stringify(schema, null, 2) + '\n');
out('schema.json', configJsonSchema());
out('report.schema.json', reportJsonSchema());
writeFileSync(new URL('../config/example.yaml', import.meta.url), STARTER_CONFIG);
console.log('wrote config/schema.json, config/report.schema.json and config/example.yaml');
