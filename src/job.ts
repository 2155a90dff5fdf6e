// One run of the job as every entry runs it (CLI, Lambda, daemon): audit, then fix and notify as
// configured. Entries only parse their input, build real clients and call this.
import { runAudit, type AuditDeps, type AuditOptions } from './audit.ts';
import type { Config } from './config.ts';
import { notify, type NotifyDeps } from './notify.ts';
import type { Report } from './types.ts';

export interface JobOptions extends AuditOptions {
  /** Update alert state and send notices (always in Lambda and the daemon). */
  notify?: boolean;
}

/** With notify: the alert state store, the notifiers (Slack, email) and metrics sinks; see src/notify.ts. */
export type JobDeps = AuditDeps & Pick<NotifyDeps, 'stateStore' | 'notifiers' | 'metrics'>;

export async function runJob(config: Config, deps: JobDeps, opts: JobOptions = {}): Promise<Report> {
  const report = await runAudit(config, deps, opts);
  if (!opts.notify) return report;
  return notify(report, config, deps, { only: opts.only, targets: opts.targets });
}
