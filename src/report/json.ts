// The JSON report: a documented, versioned schema (schemaVersion 2: aggregates instead of every
// measurement, so its size follows what is wrong, not the fleet). The zod schema below is the
// contract; config/report.schema.json is generated from it and a test validates real output.
import { z } from 'zod';
import type { Report } from '../types.ts';

const severity = z.enum(['critical', 'warning', 'info']);

const bound = z.strictObject({
  seconds: z.number(),
  checks: z.record(z.string(), z.strictObject({ targets: z.number().int(), seconds: z.number() })),
  busiest: z.strictObject({ server: z.string(), queries: z.number().int(), qps: z.number() }).optional(),
  budgetSeconds: z.number(),
  intervalSeconds: z.number().optional(),
  fits: z.boolean(),
  advice: z.string().optional(),
});

const aggregate = z.strictObject({
  check: z.string(),
  metric: z.string(),
  labels: z.record(z.string(), z.string()),
  count: z.number().int(),
  sum: z.number(),
  min: z.number(),
  max: z.number(),
  buckets: z.array(z.number().int()).optional(),
  values: z.array(z.number()).optional(),
});

export const reportSchema = z.strictObject({
  schemaVersion: z.literal(2),
  runId: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  vantage: z.string().optional(),
  dryRun: z.boolean(),
  summary: z.strictObject({
    critical: z.number().int(),
    warning: z.number().int(),
    info: z.number().int(),
    findings: z.number().int(),
    targets: z.number().int(),
    checks: z.record(z.string(), z.strictObject({ targets: z.number(), findings: z.number(), errors: z.number(), durationMs: z.number() })),
    failOn: severity,
    failed: z.boolean(),
    // Only in a report merged from several vantage points (`dialer-audit merge`).
    vantages: z
      .strictObject({
        vantages: z.array(z.string()),
        partial: z.array(
          z.strictObject({
            check: z.string(),
            target: z.string(),
            code: z.string(),
            resolver: z.string().optional(),
            severity,
            seenFrom: z.array(z.string()),
            notSeenFrom: z.array(z.string()),
            unknownAt: z.array(z.string()).optional(),
          }),
        ),
        everywhere: z.number().int(),
      })
      .optional(),
    bound: bound.optional(),
  }),
  // Only in a shard's partial report (`audit --shard I/N`): its findings are not folded yet.
  shard: z.strictObject({ index: z.number().int().min(1), count: z.number().int().min(1) }).optional(),
  aggregates: z.array(aggregate),
  findings: z.array(
    z.strictObject({
      check: z.string(),
      target: z.string(),
      severity,
      code: z.string().regex(/^[A-Z][A-Z0-9_]+$/),
      message: z.string(),
      firstStep: z.string().optional(),
      resolver: z.string().optional(),
      vantage: z.string().optional(),
      evidence: z.record(z.string(), z.unknown()).optional(),
      fix: z
        .strictObject({ zoneId: z.string(), zoneName: z.string(), name: z.string(), type: z.string(), setIdentifier: z.string().optional(), fromTtl: z.number(), toTtl: z.number() })
        .optional(),
      // Only in a report merged from several vantage points (`dialer-audit merge`).
      vantages: z.strictObject({ seenFrom: z.array(z.string()), notSeenFrom: z.array(z.string()), notRunFrom: z.array(z.string()) }).optional(),
    }),
  ),
  fixes: z.array(
    z.strictObject({
      zoneId: z.string(),
      name: z.string(),
      type: z.string(),
      setIdentifier: z.string().nullable(),
      fromTtl: z.number(),
      toTtl: z.number(),
      status: z.enum(['planned', 'applied', 'pending', 'failed', 'skipped', 'refused']),
      reason: z.string().optional(),
      changeId: z.string().optional(),
    }),
  ),
  measurements: z.array(
    z.strictObject({ check: z.string(), target: z.string(), metric: z.string(), value: z.number(), labels: z.record(z.string(), z.string()).optional() }),
  ),
  reporterFailures: z.array(z.strictObject({ reporter: z.string(), error: z.string() })),
  // What a run with notify did: the alert state and the notices sent or still owed, per reporter.
  notify: z
    .strictObject({
      state: z.enum(['saved', 'not-loaded', 'not-saved', 'none']),
      sent: z.record(z.string(), z.number().int()),
      owed: z.record(z.string(), z.number().int()),
    })
    .optional(),
});

export function formatJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}

export function reportJsonSchema(): unknown {
  return z.toJSONSchema(reportSchema, { io: 'output' });
}
