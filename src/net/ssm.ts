// Parameter Store at the edge: the values of `ssm:/name` secrets, fetched in batches and cached per
// process (per Lambda container), so a warm invocation makes no SSM call at all.
import { GetParametersCommand, type SSMClient } from '@aws-sdk/client-ssm';

/** GetParameters takes at most 10 names per request. */
const BATCH = 10;

export interface ParameterSource {
  /** name → decrypted value; names SSM does not know are absent (the config parse names the key). */
  get(names: string[], signal?: AbortSignal): Promise<Map<string, string>>;
}

export class SsmParameters implements ParameterSource {
  readonly #cache = new Map<string, { value: string; fetchedAt: number }>();

  constructor(
    private readonly client: Pick<SSMClient, 'send'>,
    private readonly opts: { maxAgeMs: number; now?: () => number } = { maxAgeMs: 15 * 60_000 },
  ) {}

  async get(names: string[], signal?: AbortSignal): Promise<Map<string, string>> {
    const now = this.opts.now ?? Date.now;
    const fresh = (name: string) => {
      const hit = this.#cache.get(name);
      return hit !== undefined && now() - hit.fetchedAt < this.opts.maxAgeMs;
    };
    const missing = [...new Set(names)].filter((n) => !fresh(n));
    for (let i = 0; i < missing.length; i += BATCH) {
      const out = await this.client.send(new GetParametersCommand({ Names: missing.slice(i, i + BATCH), WithDecryption: true }), { abortSignal: signal });
      for (const p of out.Parameters ?? []) {
        if (p.Name !== undefined && p.Value !== undefined) this.#cache.set(p.Name, { value: p.Value, fetchedAt: now() });
      }
    }
    const values = new Map<string, string>();
    for (const name of names) {
      const hit = this.#cache.get(name);
      if (hit) values.set(name, hit.value);
    }
    return values;
  }
}
