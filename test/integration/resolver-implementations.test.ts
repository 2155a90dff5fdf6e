// The audit against the resolvers people run — unbound, pdns-recursor, dnsmasq, BIND 9 — with
// their defaults, with TTL floors and caps, and serving stale: a healthy fleet stays quiet, a
// stale cache is found at exactly the resolver that holds it, and a stale answer whose end no
// TTL can tell is not given an invented end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { runJob } from '../../src/job.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { FileStateStore } from '../../src/state/file-store.ts';
import type { Report } from '../../src/types.ts';
import { labQuery } from '../lab/dns-lab.ts';
import { startResolverLab, type ResolverLab } from '../lab/resolvers.ts';

let lab: ResolverLab;
const PLAIN = ['unbound', 'pdns', 'dnsmasq', 'bind'];
const CLAMPING = ['unbound-floor', 'pdns-floor', 'dnsmasq-floor', 'dnsmasq-cap'];

beforeAll(async () => {
  lab = await startResolverLab({
    resolvers: [
      { name: 'unbound', kind: 'unbound' },
      { name: 'pdns', kind: 'pdns-recursor', dnssec: 'process' },
      { name: 'dnsmasq', kind: 'dnsmasq' },
      { name: 'bind', kind: 'named' },
      { name: 'unbound-floor', kind: 'unbound', ttlFloor: 3600 },
      { name: 'pdns-floor', kind: 'pdns-recursor', dnssec: 'process', ttlFloor: 3600 },
      { name: 'dnsmasq-floor', kind: 'dnsmasq', ttlFloor: 3600 },
      { name: 'dnsmasq-cap', kind: 'dnsmasq', ttlCap: 60 },
      { name: 'unbound-stale', kind: 'unbound', serveStale: true, ede: true },
      { name: 'unbound-cut-off', kind: 'unbound', deadUpstream: true },
      { name: 'dnsmasq-cut-off', kind: 'dnsmasq', deadUpstream: true },
    ],
  });
});
afterAll(async () => {
  await lab?.stop();
});

function config(resolvers: string[], dialers: string[]) {
  return parseConfig({
    resolvers: lab.resolvers.filter((r) => resolvers.includes(r.name)).map((r) => ({ name: r.name, address: r.address })),
    authoritative: lab.authoritative,
    targets: { dialers },
    checks: { 'dns-consistency': {} },
    dns: { timeout: '1500ms', retries: 1 },
  });
}

function audit(resolvers: string[], dialers: string[]): Promise<Report> {
  const cfg = config(resolvers, dialers);
  return runAudit(cfg, { dns: dnsClientFromConfig(cfg), log: silentLogger });
}

const addressOf = (name: string) => lab.resolvers.find((r) => r.name === name)!.address;
const summary = (report: Report) => report.findings.map((f) => `${f.code} ${f.target} @${f.resolver}`).sort();
const unique = (label: string) => `${label}-${randomBytes(3).toString('hex')}.${lab.zone}`;

describe('a record moved after one resolver cached it', () => {
  it('is DNS_MISMATCH at that resolver only, in the first run, with unbound, pdns-recursor, dnsmasq and BIND', async () => {
    // Prepare: one record per implementation, cached (24-hour TTL) by that implementation only.
    const names = Object.fromEntries(PLAIN.map((r) => [r, unique(`moved-${r}`)]));
    for (const r of PLAIN) await lab.setRecords(names[r], 'A', 86400, ['127.62.0.1']);
    for (const r of PLAIN) expect((await labQuery(addressOf(r), names[r], 'A')).answers.map((a) => a.data)).toEqual(['127.62.0.1']);
    for (const r of PLAIN) await lab.setRecords(names[r], 'A', 86400, ['127.62.0.2']);
    // Act
    const report = await audit(PLAIN, Object.values(names));
    // Assess
    expect(summary(report)).toEqual(PLAIN.map((r) => `DNS_MISMATCH ${names[r]} @${r}`).sort());
    for (const f of report.findings) {
      expect(f.evidence).toMatchObject({ resolverAnswer: '127.62.0.1', zone: { knot: '127.62.0.2' } });
      expect(f.message).toMatch(/stale for (23h\d+m|1d) more/);
    }
  });
});

describe('resolvers that clamp TTLs', () => {
  it('three healthy runs: no warning, exactly one DNS_TTL_CLAMPED info per clamping resolver', async () => {
    // Prepare: the lab's default fleet (TTL 300 s; negative TTL 900 s) behind floors of 3600 s and a 60 s cap.
    const dialers = ['acme', 'beta', 'gamma', 'lb'].map((d) => `${d}.${lab.zone}`);
    // Act
    const runs: Report[] = [];
    for (let i = 0; i < 3; i++) runs.push(await audit(['unbound', ...CLAMPING], dialers));
    // Assess
    for (const report of runs) {
      expect(report.findings.filter((f) => f.severity !== 'info')).toEqual([]);
      expect(report.findings.map((f) => `${f.code} @${f.resolver}`).sort()).toEqual(CLAMPING.map((r) => `DNS_TTL_CLAMPED @${r}`).sort());
    }
    const byResolver = Object.fromEntries(runs[2].findings.map((f) => [f.resolver, f]));
    for (const r of ['unbound-floor', 'pdns-floor', 'dnsmasq-floor']) {
      expect(byResolver[r].evidence).toMatchObject({ clamp: 'floor', zoneTtl: 900 });
      expect(byResolver[r].evidence?.ttl).toBeGreaterThan(3500);
      expect(byResolver[r].message).toMatch(/raises TTLs to at least \d+ s/);
    }
    expect(byResolver['dnsmasq-cap'].evidence).toMatchObject({ clamp: 'cap', ttl: 60, zoneTtl: 900 });
  });

  it('a stale answer behind a cap says its TTL cannot tell when it ends, and carries how long it has lasted', async () => {
    // Prepare: dnsmasq keeps the 24-hour record but hands it out with at most 60 s.
    const name = unique('capped');
    await lab.setRecords(name, 'A', 86400, ['127.62.1.1']);
    expect((await labQuery(addressOf('dnsmasq-cap'), name, 'A')).answers.map((a) => a.data)).toEqual(['127.62.1.1']);
    await lab.setRecords(name, 'A', 86400, ['127.62.1.2']);
    const cfg = config(['dnsmasq-cap'], [name]);
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolver-impl-state-'));
    const deps = { dns: dnsClientFromConfig(cfg), log: silentLogger, stateStore: new FileStateStore(path.join(stateDir, 'state.json')) };
    try {
      // Act: two runs that keep the alert state.
      const first = await runJob(cfg, deps, { notify: true });
      const second = await runJob(cfg, deps, { notify: true });
      // Assess
      for (const report of [first, second]) {
        const mismatch = report.findings.find((f) => f.code === 'DNS_MISMATCH')!;
        expect(mismatch.resolver).toBe('dnsmasq-cap');
        expect(mismatch.message).toMatch(/caps the TTLs it hands out at 60 s and may keep answers longer, so its remaining TTL cannot say when this ends/);
        expect(mismatch.message).not.toMatch(/stale for .* more/);
        expect(mismatch.evidence?.expiresAt).toBeUndefined();
      }
      expect(first.findings.find((f) => f.code === 'DNS_MISMATCH')!.evidence?.runsInARow).toBeUndefined();
      const again = second.findings.find((f) => f.code === 'DNS_MISMATCH')!;
      expect(again.evidence).toMatchObject({ runsInARow: 2 });
      expect(again.message).toMatch(/stale since \d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d+s, 2 runs in a row\)/);
    } finally {
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});

describe('a resolver serving stale (RFC 8767)', () => {
  it('is DNS_MISMATCH with its EDE, and no invented end', async () => {
    // Prepare: a 2-second record cached by unbound, moved, and unbound cut off from the zone.
    const name = unique('served-stale');
    await lab.setRecords(name, 'A', 2, ['127.62.2.1']);
    expect((await labQuery(addressOf('unbound-stale'), name, 'A')).answers.map((a) => a.data)).toEqual(['127.62.2.1']);
    await lab.setRecords(name, 'A', 2, ['127.62.2.2']);
    await lab.cutUpstream('unbound-stale');
    await new Promise((r) => setTimeout(r, 3000));
    // Act
    const report = await audit(['unbound-stale'], [name]);
    // Assess
    const mismatch = report.findings.find((f) => f.code === 'DNS_MISMATCH')!;
    expect(mismatch).toMatchObject({ resolver: 'unbound-stale', severity: 'critical' });
    expect(mismatch.message).toMatch(/serves it stale \(Stale Answer \(3\)\), so its remaining TTL cannot say when this ends/);
    expect(mismatch.evidence).toMatchObject({ remainingTtl: 30, extendedErrors: ['Stale Answer (3)'] });
  });
});

describe('a resolver whose way to the zone is down', () => {
  it('is as critical when it stays silent (dnsmasq) as when it answers SERVFAIL (unbound)', async () => {
    // Act
    const report = await audit(['unbound', 'unbound-cut-off', 'dnsmasq-cut-off'], [`acme.${lab.zone}`, `beta.${lab.zone}`]);
    // Assess: both are up (they answer version.bind), neither can resolve the dialers.
    expect(report.findings.map((f) => `${f.code} ${f.severity} ${f.target} @${f.resolver}`).sort()).toEqual(
      ['unbound-cut-off', 'dnsmasq-cut-off'].flatMap((r) => [`acme.${lab.zone}`, `beta.${lab.zone}`].map((d) => `DNS_SERVFAIL critical ${d} @${r}`)).sort(),
    );
    const silent = report.findings.find((f) => f.resolver === 'dnsmasq-cut-off')!;
    expect(silent.message).toContain('answers other questions but not this one');
  });
});
