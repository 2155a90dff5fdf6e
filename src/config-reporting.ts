// The config's sections about what happens with a run's findings: when people are told (alerting),
// where the alert state and history live, the reporters, and the daemon's schedule.
import { validateDetailed as validateCron } from 'node-cron';
import { z } from 'zod';
import { evenWithOtherProblems } from './config-problems.ts';
import { secret } from './config-secret.ts';
import { duration } from './durations.ts';

export const severity = z.enum(['critical', 'warning', 'info']);

// Defaults for a 5-minute schedule: a warning must survive two runs (a lost packet or one
// resolver hiccup is not worth a page), a critical one is told at once, "resolved" needs two
// clean runs (no flapping), and a problem that lasts is repeated every 4 h (about twice a shift).
export const alertingSchema = z.strictObject({
  failureThreshold: z.number().int().positive().default(2),
  criticalFailureThreshold: z.number().int().positive().default(1),
  successThreshold: z.number().int().positive().default(2),
  reminderInterval: duration.default(4 * 3_600_000),
  /** Findings below this severity are reported but never notified. */
  notifyOn: severity.default('warning'),
  /** All of a run's notices must be delivered within this; what is not stays owed to the next run. */
  deliveryTimeout: duration.default(10_000),
});

export const stateSchema = z
  .strictObject({
    /** Default for the CLI and the daemon: .dialer-audit/state.json. */
    file: z.string().min(1).optional(),
    /** For Lambda: one item (partition key attribute `pk`) written with a version condition. */
    dynamodb: z.strictObject({ table: z.string().min(1), key: z.string().min(1).default('dialer-audit'), endpoint: z.url().optional() }).optional(),
    /** The run history beside the state (status page: uptime, trends): one document per UTC day, kept this long. */
    history: z
      .strictObject({
        retention: duration
          .default(14 * 86_400_000)
          .refine((ms) => typeof ms !== 'number' || (ms >= 86_400_000 && ms <= 90 * 86_400_000), { message: 'expected between 1d and 90d' }),
      })
      .default({ retention: 14 * 86_400_000 }),
  })
  .refine((s) => !(s.file && s.dynamodb), { message: 'expected either file or dynamodb, not both', ...evenWithOtherProblems });

export const reportersSchema = z.strictObject({
  slack: z
    .strictObject({
      webhookUrl: secret.optional(),
      botToken: secret.optional(),
      channel: z.string().optional(),
      /** Web API base for chat.postMessage with botToken (a stand-in in tests). */
      apiUrl: z.url().default('https://slack.com/api'),
    })
    .refine((s) => s.webhookUrl !== undefined || (s.botToken !== undefined && s.channel !== undefined), {
      message: 'expected webhookUrl, or botToken together with channel',
      ...evenWithOtherProblems,
    })
    .optional(),
  email: z
    .strictObject({
      smtp: z.strictObject({
        host: z.string(),
        port: z.number().int().min(1).max(65535).default(587),
        secure: z.boolean().optional(),
        user: secret.optional(),
        pass: secret.optional(),
        /** Refuse to send (and to authenticate) unless STARTTLS succeeds; false only for a plain local relay. */
        requireTls: z.boolean().default(true),
        /** PEM file of a private CA that signed the server's certificate. */
        caFile: z.string().optional(),
        insecureTls: z.boolean().default(false),
        timeout: duration.default(15_000),
      }).refine((s) => (s.user === undefined) === (s.pass === undefined), { message: 'expected user and pass together', ...evenWithOtherProblems }),
      from: z.string(),
      to: z.array(z.string()).min(1),
    })
    .optional(),
  metrics: z
    .strictObject({
      emf: z.boolean().default(false),
      prometheusTextfile: z.string().optional(),
      namespace: z.string().default('DialerAudit'),
    })
    .optional(),
  links: z.strictObject({ runbook: z.url().optional(), dashboard: z.url().optional() }).optional(),
  /** The static status page, rewritten after every notifying run: into a directory, or to S3 (Lambda). */
  html: z
    .strictObject({
      dir: z.string().min(1).optional(),
      s3: z
        .strictObject({
          bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3–63 lower-case letters, digits, dots, hyphens)'),
          /** Key prefix: the page is `<prefix>index.html`. */
          prefix: z.string().regex(/^[^\/][\x21-\x7e]*$|^$/, 'expected a key prefix such as status/ (printable, not starting with /)').default(''),
          region: z.string().optional(),
          /** An S3-compatible endpoint (a lab); path-style requests. */
          endpoint: z.url().optional(),
        })
        .optional(),
    })
    .refine((h) => (h.dir === undefined) !== (h.s3 === undefined), { message: 'expected either dir or s3', ...evenWithOtherProblems })
    .optional(),
});

/** A time zone the runtime knows (node-cron would otherwise fail only when the daemon starts). */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const daemonSchema = z.strictObject({
  /** node-cron: 5 fields, or 6 with seconds first ("*\/10 * * * * *"). */
  schedule: z
    .string()
    .default('*/5 * * * *')
    .superRefine((expr, ctx) => {
      const result = validateCron(expr);
      if (!result.valid) {
        const detail = result.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
        ctx.addIssue({ code: 'custom', message: `expected a cron expression such as "*/5 * * * *" (${detail || 'not a cron expression'})` });
      }
    }),
  timezone: z.string().refine(isTimeZone, 'expected an IANA time zone such as Europe/Berlin').optional(),
  /** On SIGTERM/SIGINT: how long the current run may take to finish (then aborted) and its state saved. */
  grace: duration.default(30_000),
  /** Optional /healthz; loopback by default (a local probe, not a public endpoint). */
  healthz: z.strictObject({ port: z.number().int().min(0).max(65535), address: z.string().default('127.0.0.1') }).optional(),
});
