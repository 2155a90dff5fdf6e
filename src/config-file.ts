// The file each loaded config came from, so a finding can name the exact command to run.
// Kept apart from config.ts so checks can read it without importing the config schema
// (which imports the check registry).
import type { Config } from './config-schema.ts';

const configFiles = new WeakMap<Config, string>();

export function rememberConfigFile(config: Config, file: string): void {
  configFiles.set(config, file);
}

export function configFileOf(config: Config): string | undefined {
  return configFiles.get(config);
}

/** Quoted when the shell would otherwise expand it (a wildcard record's `*`, a path with spaces). */
export function shellWord(word: string): string {
  return /^[\w./:@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The exact `dialer-audit audit` command for this config, with `args` after it. */
export function auditCommand(config: Config, args: string[]): string {
  return ['dialer-audit audit --config', shellWord(configFileOf(config) ?? 'FILE'), ...args].join(' ');
}
