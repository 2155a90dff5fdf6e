// The one way a config value that is a span of time is read: `30s`, `5m`, `4h`, `1d`, `250ms`,
// or a bare number in the key's own unit (milliseconds for timeouts, seconds for TTLs, days for
// certificate warnings). Every key accepts the same forms, so `maxTtl: 5m` works like `timeout: 3s`.
import { z } from 'zod';
import { parseDuration } from './units.ts';

const FORMS = 'such as 30s, 5m, 4h or 1d';

function spanIn(unitMs: number, unitName: string, opts: { positive?: boolean; max?: number } = {}) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = typeof v === 'number' ? (Number.isFinite(v) && v >= 0 ? v * unitMs : undefined) : parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration ${FORMS}${unitMs === 1 ? '' : `, or a number of ${unitName}`}, got "${v}"` });
      return z.NEVER;
    }
    const value = ms / unitMs;
    if (unitMs > 1 && !Number.isInteger(value)) {
      ctx.addIssue({ code: 'custom', message: `expected whole ${unitName}, got "${v}" (${value} ${unitName})` });
      return z.NEVER;
    }
    if (opts.positive && value <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a duration longer than zero, got "${v}"` });
      return z.NEVER;
    }
    if (opts.max !== undefined && value > opts.max) {
      ctx.addIssue({ code: 'custom', message: `expected at most ${opts.max} ${unitName}, got "${v}"` });
      return z.NEVER;
    }
    return value;
  });
}

/** Milliseconds: timeouts, budgets, intervals. */
export const duration = spanIn(1, 'milliseconds');
/** Milliseconds, more than zero (a timeout of 0 would never let anything answer). */
export const positiveDuration = spanIn(1, 'milliseconds', { positive: true });
/** Route 53's ceiling for a TTL. */
export const MAX_TTL_SECONDS = 2_147_483_647;
/** Whole seconds, as DNS TTLs are: `300`, `5m`, `1h`. */
export const ttlSeconds = spanIn(1000, 'seconds', { max: MAX_TTL_SECONDS });
/** Whole days: `14`, `14d`. */
export const wholeDays = spanIn(86_400_000, 'days');
