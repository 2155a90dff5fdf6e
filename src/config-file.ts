// The file each loaded config came from, so a finding can name the exact command to run.
// Kept apart from config.ts so checks can read it without importing the config schema
// (which imports the check registry).
import type { Config } from './config.ts';

const configFiles = new WeakMap<Config, string>();

export function rememberConfigFile(config: Config, file: string): void {
  configFiles.set(config, file);
}

export function configFileOf(config: Config): string | undefined {
  return configFiles.get(config);
}
