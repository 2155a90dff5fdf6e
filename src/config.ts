// The whole config schema: the sections (src/config-schema.ts) plus each check's params, validated
// by the check itself from the registry. Only the entries and the loader import this file, so the
// checks sit below it and import their types from config-schema.ts. Reading the file and the YAML is
// src/config-load.ts.
import { z } from 'zod';
import { checkRegistry } from '../checks/index.ts';
import { ConfigError, evenWithOtherProblems, isRecord, problemsOf } from './config-problems.ts';
import { baseConfigSchema, type Config } from './config-schema.ts';
import { safeParseWithSecrets, type ParseOptions } from './config-secret.ts';

export const configSchema = baseConfigSchema.superRefine((cfg, ctx) => {
  if (!isRecord(cfg.checks)) return;
  // Each enabled check's params are validated by the check itself, so typos inside them are caught too.
  for (const [id, params] of Object.entries(cfg.checks)) {
    const check = Object.hasOwn(checkRegistry, id) ? checkRegistry[id] : undefined;
    if (!check) {
      ctx.addIssue({ code: 'custom', path: ['checks', id], message: `unknown check (known: ${Object.keys(checkRegistry).join(', ')})` });
      continue;
    }
    const result = check.params.safeParse(params ?? {});
    if (!result.success) {
      for (const issue of result.error.issues) {
        ctx.addIssue({ ...issue, path: ['checks', id, ...issue.path] } as never);
      }
    } else {
      cfg.checks[id] = result.data;
    }
  }
}, evenWithOtherProblems);

export { ConfigError, formatPath, printableProblems, PRINTED_PROBLEMS } from './config-problems.ts';
export { Secret, SSM_SECRET_PATTERN, type CarrierConfig, type Config, type ParseOptions, type ResolverConfig, type StunServerConfig } from './config-schema.ts';

/** Validate an already-parsed object (from YAML, JSON, or code); every problem at once, sorted by key path. */
export function parseConfig(raw: unknown, opts: ParseOptions = {}): Config {
  const result = safeParseWithSecrets(configSchema, raw ?? {}, opts);
  if (!result.success) throw new ConfigError(problemsOf(result.error.issues));
  return result.data;
}

/** The schema for editors (config/schema.json); input side, so `env:NAME` and `5m` validate. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, unknown> };
  // `checks` is validated by each plugin's own params schema; show editors those too.
  schema.properties.checks = {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(
      Object.values(checkRegistry).map((c) => [c.id, { description: c.description, ...(z.toJSONSchema(c.params, { io: 'input', unrepresentable: 'any' }) as object) }]),
    ),
  };
  return schema;
}
