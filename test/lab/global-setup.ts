/**
 * Vitest global setup: one DNS lab (knot + unbound pub1..pub3 on 127.53.0.x:53 — or 127.53.N.x when
 * another run already holds 127.53.0.x) for the whole run.
 *
 *   // vitest.config.ts
 *   test: { globalSetup: ['test/lab/global-setup.ts'] }
 *
 *   // in a test file
 *   import { inject } from 'vitest';
 *   import { connectDnsLab } from '../lab/dns-lab.ts';
 *   const lab = connectDnsLab(inject('dnsLab'));
 *
 * IMPORTANT: test files run in parallel workers against this ONE shared lab. Tests that mutate the
 * zone (setRecords/replaceZone) or flush resolver caches must use their OWN record names (e.g.
 * `<test-file-name>-x.dialer.test`) and never touch the default fleet (acme, beta, gamma, lb,
 * lb-pool) nor call replaceZone() or flush(resolver) without a name: that would pull the rug out
 * from under the other files. Zone updates themselves are serialised by a cross-process lock, so
 * concurrent setRecords() on different names are safe. A test that needs a whole zone to itself
 * should start its own lab with startDnsLab({ prefix: '127.5x.0' }) (another prefix).
 *
 * Environment:
 *   DNS_LAB_JSON=/path/lab.json  reuse a lab started with `npx tsx test/lab/cli.ts start` (not stopped here)
 *   DNS_LAB_PREFIX, DNS_LAB_PORT override the 127.53.0 / 53 defaults (an explicit prefix has no fallback)
 *   DNS_LAB_KEEP=1               keep the lab's temp dir (configs, logs) after the run
 */
import fs from 'node:fs';
import type { TestProject } from 'vitest/node';
import { ensureLabPackages, startDnsLab, type DnsLabInfo } from './dns-lab.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dnsLab: DnsLabInfo;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.DNS_LAB_JSON;
  if (external) {
    project.provide('dnsLab', JSON.parse(fs.readFileSync(external, 'utf8')) as DnsLabInfo);
    return undefined;
  }
  await ensureLabPackages();
  const explicit = process.env.DNS_LAB_PREFIX || undefined;
  const lab = await startDnsLab({
    prefix: explicit ?? '127.53.0',
    // another vitest run (another checkout, another terminal) may hold 127.53.0.x: then take the
    // next free 127.53.N — tests must use the addresses from inject('dnsLab'), never hard-code them
    fallbackPrefixes: explicit ? [] : Array.from({ length: 19 }, (_, i) => `127.53.${i + 1}`),
    port: process.env.DNS_LAB_PORT ? Number(process.env.DNS_LAB_PORT) : undefined,
  });
  // startDnsLab registered exit/SIGINT/SIGTERM/SIGHUP hooks that SIGTERM the daemons if vitest dies
  // without running the teardown; the daemons are also in vitest's process group, so a Ctrl-C in the
  // terminal reaches them directly.
  project.provide('dnsLab', lab.info());
  return async () => {
    await lab.stop();
    if (!process.env.DNS_LAB_KEEP) fs.rmSync(lab.dir, { recursive: true, force: true });
  };
}
