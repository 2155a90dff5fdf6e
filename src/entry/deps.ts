// The only place real clients are built (sockets, AWS SDK, SMTP); tests build their own.
import type { Config } from '../config.ts';
import type { JobDeps } from '../job.ts';
import { dnsClientFromConfig } from '../net/dns-client.ts';
import type { Logger } from '../types.ts';

export function realDeps(config: Config, log: Logger): JobDeps {
  return { dns: dnsClientFromConfig(config), log };
}
