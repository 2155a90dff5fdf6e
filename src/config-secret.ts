// Secrets in the config: `env:NAME` read when the config loads, `ssm:/path` from the values the
// entry fetched from Parameter Store first (an async call cannot run inside zod's parse).
import { inspect } from 'node:util';
import { z } from 'zod';

/** A secret read from the environment; it renders as [secret] in logs, JSON and errors. */
export class Secret {
  readonly #value: string;
  constructor(value: string, readonly source: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [inspect.custom](): string {
    return `[secret ${this.source}]`;
  }
}

/**
 * Values of `ssm:/name` secrets, fetched from Parameter Store by the entry before it parses (an async
 * edge call cannot run inside zod); set only for the duration of one synchronous parseConfig().
 */
let ssmSecretValues: ReadonlyMap<string, string> | undefined;
/** Where `env:NAME` secrets are read during one parseConfig() (default: process.env). */
let secretEnv: NodeJS.ProcessEnv | undefined;

/** `ssm:/path/name`: a Parameter Store parameter (absolute path, so IAM can scope it to a prefix). */
export const SSM_SECRET_PATTERN = /^ssm:(\/[A-Za-z0-9_.\/-]+)$/;

/** `env:NAME` reads the variable when the config loads; `ssm:/path` uses the value the entry fetched. */
export const secret = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|ssm:\/[A-Za-z0-9_.\/-]+)$/, 'expected env:NAME or ssm:/parameter/name (secrets are never written in the config file)')
  .transform((ref, ctx) => {
    if (ref.startsWith('ssm:')) {
      const value = ssmSecretValues?.get(ref.slice(4));
      if (value === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: ssmSecretValues ? `SSM parameter ${ref.slice(4)} was not found` : `${ref}: Parameter Store secrets are read by the Lambda entry and the daemon only; use env:NAME here`,
        });
        return z.NEVER;
      }
      return new Secret(value, ref);
    }
    const name = ref.slice(4);
    const value = (secretEnv ?? process.env)[name];
    if (value === undefined || value === '') {
      ctx.addIssue({ code: 'custom', message: `environment variable ${name} is not set` });
      return z.NEVER;
    }
    return new Secret(value, ref);
  });

export interface ParseOptions {
  /** Values of the config's `ssm:/name` secrets, keyed by parameter name (fetched by the entry). */
  ssm?: ReadonlyMap<string, string>;
  /** The environment `env:NAME` secrets come from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Parse with the secrets' sources in place for exactly this one synchronous parse. */
export function safeParseWithSecrets<T extends z.ZodType>(schema: T, raw: unknown, opts: ParseOptions): ReturnType<T['safeParse']> {
  ssmSecretValues = opts.ssm;
  secretEnv = opts.env;
  try {
    return schema.safeParse(raw) as ReturnType<T['safeParse']>;
  } finally {
    ssmSecretValues = undefined;
    secretEnv = undefined;
  }
}
