// Params shared by the STUN/TURN checks (zod 4).
import { z } from 'zod';
import { duration } from '../durations.ts';

/** Durations as `3s`, `500ms` or milliseconds: the project's one duration schema. */
export const durationParam = duration;

/** Per-request limit, first UDP retransmission timeout, slow threshold, address families, fan-out. */
export const probeParamShape = {
  /** One request's limit (UDP retransmits within it, from `rto` doubling); never RFC 8489's 39.5 s. */
  timeout: durationParam.default(3000),
  rto: durationParam.default(500),
  recordTypes: z.array(z.enum(['A', 'AAAA'])).min(1).default(['A']),
  /** At most this many addresses of one name are probed. */
  maxAddresses: z.number().int().min(1).max(32).default(8),
};
