// Params shared by the STUN/TURN checks (zod 4): durations as `3s` / `500ms` / milliseconds.
import { z } from 'zod';
import { parseDuration } from '../units.ts';

export const durationParam = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const parsed = parseDuration(v);
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration such as 3s or 500ms, got "${v}"` });
    return z.NEVER;
  }
  return parsed;
});

/** Per-request limit, first UDP retransmission timeout, slow threshold, address families, fan-out. */
export const probeParamShape = {
  /** One request's limit (UDP retransmits within it, from `rto` doubling); never RFC 8489's 39.5 s. */
  timeout: durationParam.default(3000),
  rto: durationParam.default(500),
  recordTypes: z.array(z.enum(['A', 'AAAA'])).min(1).default(['A']),
  /** At most this many addresses of one name are probed. */
  maxAddresses: z.number().int().min(1).max(32).default(8),
};
