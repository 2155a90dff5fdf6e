// Writes the JSON schemas people's editors and tools read: config/schema.json and config/report.schema.json.
import { writeFileSync } from 'node:fs';
import { configJsonSchema } from '../src/config.ts';
import { reportJsonSchema } from '../src/report/json.ts';

const out = (name: string, schema: unknown) => writeFileSync(new URL(`../config/${name}`, import.meta.url), JSON.stringify(schema, null, 2) + '\n');
out('schema.json', configJsonSchema());
out('report.schema.json', reportJsonSchema());
console.log('wrote config/schema.json and config/report.schema.json');
