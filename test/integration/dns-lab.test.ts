/**
 * The DNS lab itself, proved with real queries against real daemons (knot + 3 unbound) on loopback.
 * This file starts its OWN lab on 127.54.0.x (127.54.N.x if that is taken) so it never collides with the shared one of the
 * global setup (127.53.0.x), and mutates its zone freely.
 */
import fs from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLabPackages, labQuery, startDnsLab, type DnsLab } from '../lab/dns-lab.ts';

// 127.54.0 unless a concurrent run of this file holds it: then 127.54.1, ...
const PREFIXES = Array.from({ length: 10 }, (_, i) => `127.54.${i}`);
const ZONE = 'dialer.test';

let lab: DnsLab;

function resolverAt(address: string): Resolver {
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setServers([address]);
  return r;
}

async function a(address: string, name: string): Promise<{ address: string; ttl: number }[]> {
  return resolverAt(address).resolve4(name, { ttl: true });
}

async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}

/** Running = exists and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

const addr = (name: string) => lab.resolvers.find((r) => r.name === name)!.address;

/**
 * The incident: `name` had a long TTL, pub1 cached it, then the record changed at the authoritative.
 * Leaves pub1 holding `oldIp` (primed with TTL 86400) while knot serves `newIp`.
 */
async function arrangeStaleCache(name: string, oldIp: string, newIp: string): Promise<void> {
  await lab.setRecords(name, 'A', 86400, [oldIp]);
  for (const r of lab.resolvers) await lab.flush(r.name, name); // a clean slate for this name everywhere
  const primed = await a(addr('pub1'), name);
  expect(primed).toEqual([{ address: oldIp, ttl: 86400 }]);
  await lab.setRecords(name, 'A', 86400, [newIp]);
}

beforeAll(async () => {
  await ensureLabPackages();
  const t0 = performance.now();
  lab = await startDnsLab({ prefix: PREFIXES[0], fallbackPrefixes: PREFIXES.slice(1) });
  console.log(`[dns-lab] started in ${Math.round(performance.now() - t0)} ms (dir ${lab.dir})`);
}, 60_000);

afterAll(async () => {
  if (!lab) return;
  await lab.stop();
  fs.rmSync(lab.dir, { recursive: true, force: true });
});

describe('dns lab', () => {
  it('describes itself on the requested prefix', () => {
    // prepare / act
    const info = lab.info();
    const prefix = info.authoritative[0].address.replace(/\.10:53$/, '');
    // assess
    expect(PREFIXES).toContain(prefix);
    expect(info.zone).toBe(ZONE);
    expect(info.resolvers).toEqual([
      { name: 'pub1', address: `${prefix}.1:53` },
      { name: 'pub2', address: `${prefix}.2:53` },
      { name: 'pub3', address: `${prefix}.3:53` },
    ]);
    expect(info.authoritative).toEqual([{ name: 'knot', address: `${prefix}.10:53` }]);
    expect(info.deadAddress).toBe(`${prefix}.99:53`);
    expect(JSON.parse(JSON.stringify(info))).toEqual(info); // serialisable for provide/inject
  });

  it('resolves the healthy fleet through every resolver', async () => {
    // prepare
    const expected: Record<string, string> = { acme: '127.60.0.1', beta: '127.60.0.2', gamma: '127.60.0.3' };
    for (const r of lab.resolvers) {
      // act
      const fleet = await Promise.all(Object.keys(expected).map((h) => a(r.address, `${h}.${ZONE}`)));
      const pool = await a(r.address, `lb.${ZONE}`);
      const cname = await resolverAt(r.address).resolveCname(`lb.${ZONE}`);
      const aaaa = await errorCode(resolverAt(r.address).resolve6(`acme.${ZONE}`));
      // assess
      Object.values(expected).forEach((ip, i) => {
        expect(fleet[i].map((x) => x.address), `${r.name}`).toEqual([ip]);
        expect(fleet[i][0].ttl).toBeGreaterThan(0);
        expect(fleet[i][0].ttl).toBeLessThanOrEqual(300);
      });
      expect(pool.map((x) => x.address).sort()).toEqual(['127.60.0.10', '127.60.0.11']);
      expect(pool[0].ttl).toBeLessThanOrEqual(60);
      expect(cname).toEqual([`lb-pool.${ZONE}`]);
      expect(aaaa, 'AAAA is NODATA').toBe('ENODATA');
    }
  });

  it('replays the stale cache: the primed resolver keeps the old address, the others get the new one', async () => {
    // prepare
    const name = `acme.${ZONE}`;
    await arrangeStaleCache(name, '127.60.0.1', '127.60.0.42');
    // act
    const [pub1, pub2, pub3] = await Promise.all(['pub1', 'pub2', 'pub3'].map((r) => a(addr(r), name)));
    const authoritative = await labQuery(lab.authoritative[0].address, name, 'A', { recursionDesired: false });
    // assess
    expect(authoritative.aa).toBe(true);
    expect(authoritative.answers.map((x) => x.data)).toEqual(['127.60.0.42']);
    expect(pub1.map((x) => x.address)).toEqual(['127.60.0.1']);
    expect(pub1[0].ttl).toBeGreaterThan(80000);
    expect(pub2.map((x) => x.address)).toEqual(['127.60.0.42']);
    expect(pub3.map((x) => x.address)).toEqual(['127.60.0.42']);
    expect(await lab.records()).toContainEqual({ name, type: 'A', ttl: 86400, values: ['127.60.0.42'] });
  });

  it('flushing the name on the stale resolver makes it serve the new address', async () => {
    // prepare
    const name = `beta.${ZONE}`;
    await arrangeStaleCache(name, '127.60.0.2', '127.60.0.43');
    expect((await a(addr('pub1'), name)).map((x) => x.address)).toEqual(['127.60.0.2']);
    // act
    await lab.flush('pub1', name);
    const after = await a(addr('pub1'), name);
    // assess
    expect(after.map((x) => x.address)).toEqual(['127.60.0.43']);
    expect(after[0].ttl).toBeGreaterThan(86000);
  });

  it('answers SERVFAIL for the servfail name, quickly, on every resolver', async () => {
    for (const r of lab.resolvers) {
      // prepare
      const t0 = performance.now();
      // act
      const raw = await labQuery(r.address, lab.servfailName, 'A', { timeoutMs: 10_000 });
      const elapsed = performance.now() - t0;
      const viaNode = await errorCode(a(r.address, lab.servfailName));
      // assess
      expect(raw.rcode, r.name).toBe('SERVFAIL');
      expect(elapsed).toBeLessThan(3000);
      expect(viaNode).toBe('ESERVFAIL');
    }
  });

  it('answers NXDOMAIN for the nxdomain name, with the SOA negative TTL', async () => {
    for (const r of lab.resolvers) {
      // act
      const raw = await labQuery(r.address, lab.nxdomainName, 'A');
      const viaNode = await errorCode(a(r.address, lab.nxdomainName));
      // assess
      expect(raw.rcode, r.name).toBe('NXDOMAIN');
      const soa = raw.authorities.find((x) => x.type === 'SOA');
      expect(soa?.name).toBe(ZONE);
      expect(soa!.ttl).toBeLessThanOrEqual(900); // min(SOA TTL 900, minimum 86400)
      expect(viaNode).toBe('ENOTFOUND');
    }
  });

  it('rejects an update knot refuses and keeps serving the previous zone', async () => {
    // prepare
    const before = await lab.records();
    const serial = async () => (await labQuery(lab.authoritative[0].address, ZONE, 'SOA', { recursionDesired: false })).answers[0].data;
    const serialBefore = await serial();
    // act: a CNAME beside an A record is not a valid zone
    const err = await lab.setRecords(`gamma.${ZONE}`, 'CNAME', 60, [`acme.${ZONE}`]).then(
      () => undefined,
      (e: Error) => e,
    );
    // assess
    expect(err?.message).toMatch(/knot rejected the zone/);
    expect(err?.message).toMatch(/CNAME/);
    expect(await lab.records()).toEqual(before);
    expect(await serial()).toBe(serialBefore);
    expect((await a(addr('pub3'), `gamma.${ZONE}`)).map((x) => x.address)).toEqual(['127.60.0.3']);
  });

  it('stop() leaves no process behind and is idempotent', async () => {
    // prepare
    const procs = await lab.processes();
    expect(procs.map((p) => p.name).sort()).toEqual(['knot', 'pub1', 'pub2', 'pub3']);
    expect(procs.every((p) => isRunning(p.pid))).toBe(true);
    // act
    await lab.stop();
    await lab.stop();
    // assess
    expect(procs.filter((p) => isRunning(p.pid))).toEqual([]);
    await expect(labQuery(addr('pub1'), `acme.${ZONE}`, 'A', { timeoutMs: 500 })).rejects.toThrow();
  });
});
