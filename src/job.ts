// One run of the job as every entry runs it (CLI, Lambda, daemon): audit, then fix and notify as
// configured. Entries only parse their input, build real clients and call this.
import { runAudit, type AuditDeps, type AuditOptions } from './audit.ts';
import type { Config } from './config.ts';
import type { Report } from './types.ts';

export interface JobOptions extends AuditOptions {
  /** Update alert state and send notices (always in Lambda and the daemon). */
  notify?: boolean;
}

export type JobDeps = AuditDeps;

export async function runJob(config: Config, deps: JobDeps, opts: JobOptions = {}): Promise<Report> {
  return runAudit(config, deps, opts);
}
