// How the long-running entries (Lambda, daemon) get their config: the file, then a few documented
// environment overrides, then `ssm:/name` secrets fetched from Parameter Store, then validation.
import { parseConfig, SSM_SECRET_PATTERN, type Config } from '../config.ts';
import { parseConfigYaml, readConfigFile } from '../config-load.ts';
import type { ParameterSource } from '../net/ssm.ts';

/**
 * The environment variables that override the config file, and the key each one sets. They exist
 * for what differs per deployment of the same file (region, stage) — never for fix mode.
 */
export const ENV_OVERRIDES = {
  DIALER_AUDIT_VANTAGE: 'run.vantage',
  DIALER_AUDIT_STATE_TABLE: 'state.dynamodb.table',
} as const;

type Raw = Record<string, unknown>;

function section(raw: Raw, key: string): Raw {
  const value = raw[key];
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Raw) } : {};
}

/**
 * Applies the overrides to the parsed (not yet validated) file, so validation still names the key.
 * In Lambda, `run.vantage` defaults to AWS_REGION and `aws.region` (state table, SSM) to the
 * function's region, unless the file sets them.
 */
export function applyEnvOverrides(fileObject: unknown, env: NodeJS.ProcessEnv, opts: { lambda?: boolean } = {}): Raw {
  const raw: Raw = fileObject !== null && typeof fileObject === 'object' && !Array.isArray(fileObject) ? { ...(fileObject as Raw) } : {};
  const run = section(raw, 'run');
  const vantage = env.DIALER_AUDIT_VANTAGE || (opts.lambda && run.vantage === undefined ? env.AWS_REGION : undefined);
  if (vantage) raw.run = { ...run, vantage };
  if (env.DIALER_AUDIT_STATE_TABLE) {
    // The stack's own table wins over whatever store the file names: /tmp does not outlive a container.
    const state = section(raw, 'state');
    raw.state = { dynamodb: { ...section(state, 'dynamodb'), table: env.DIALER_AUDIT_STATE_TABLE } };
  }
  if (opts.lambda && env.AWS_REGION) {
    const aws = section(raw, 'aws');
    if (aws.region === undefined) raw.aws = { ...aws, region: env.AWS_REGION };
  }
  return raw;
}

/** Every `ssm:/name` reference in the config object (the parameter names, without `ssm:`). */
export function collectSsmRefs(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    const m = SSM_SECRET_PATTERN.exec(value);
    if (m) into.add(m[1]);
  } else if (Array.isArray(value)) {
    for (const v of value) collectSsmRefs(v, into);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) collectSsmRefs(v, into);
  }
  return into;
}

export interface EntryConfigOptions {
  env: NodeJS.ProcessEnv;
  lambda?: boolean;
  /** Built only when the config has `ssm:` secrets, so a config without them needs no AWS at all. */
  parameters?: () => ParameterSource | Promise<ParameterSource>;
}

export async function loadEntryConfig(file: string, opts: EntryConfigOptions): Promise<Config> {
  const raw = applyEnvOverrides(parseConfigYaml(await readConfigFile(file), file), opts.env, { lambda: opts.lambda });
  const refs = [...collectSsmRefs(raw)];
  if (refs.length === 0 || !opts.parameters) return parseConfig(raw, { env: opts.env });
  const source = await opts.parameters();
  return parseConfig(raw, { env: opts.env, ssm: await source.get(refs) });
}
