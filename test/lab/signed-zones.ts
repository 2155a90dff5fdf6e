// The lab's signed zones and its test CA: sec.test with children in three DNSSEC states, signed
// with BIND's dnssec-signzone (so signatures can be made already expired), and a certificate for
// DoT/DoH made by openssl. Used by test/lab/resolvers.ts.
import fsp from 'node:fs/promises';
import path from 'node:path';
import { bin, run } from './dns-lab.ts';

// ── the signed zones ────────────────────────────────────────────────────────────────────────

export interface SignedZones {
  parent: string;
  valid: string;
  expired: string;
  wrongDs: string;
  /** DS of the parent's key: the resolvers' trust anchor, as "keytag alg digesttype hex". */
  trustAnchor: string;
  files: Record<string, string>;
}

async function keygen(dir: string, zone: string): Promise<string> {
  const r = await run(bin('dnssec-keygen'), ['-q', '-K', dir, '-a', 'ECDSAP256SHA256', '-f', 'KSK', '-n', 'ZONE', zone]);
  if (r.code !== 0) throw new Error(`resolvers lab: dnssec-keygen ${zone} failed: ${r.stderr}`);
  return path.join(dir, r.stdout.trim());
}

async function dsOf(keyBase: string): Promise<string> {
  const r = await run(bin('dnssec-dsfromkey'), ['-2', `${keyBase}.key`]);
  if (r.code !== 0) throw new Error(`resolvers lab: dnssec-dsfromkey failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function sign(dir: string, zone: string, source: string, key: string, validity: { start: string; end: string }): Promise<string> {
  const out = path.join(dir, `${zone}.signed`);
  // -P: no verification afterwards (it refuses signatures that have already expired, which is the point);
  // -d: its dsset- file goes into the lab's dir, not the working directory.
  const r = await run(bin('dnssec-signzone'), ['-q', '-P', '-z', '-d', dir, '-o', zone, '-s', validity.start, '-e', validity.end, '-f', out, source, key]);
  if (r.code !== 0) throw new Error(`resolvers lab: dnssec-signzone ${zone} failed: ${r.stdout}${r.stderr}`);
  return out;
}

export async function signedZones(dir: string, nsAddress: string): Promise<SignedZones> {
  const keys = path.join(dir, 'keys');
  await fsp.mkdir(keys, { recursive: true });
  const parent = 'sec.test';
  const children = { valid: `valid.${parent}`, expired: `expired.${parent}`, wrongDs: `wrongds.${parent}` };
  const files: Record<string, string> = {};
  const childDs: string[] = [];
  for (const [state, zone] of Object.entries(children)) {
    const key = await keygen(keys, zone);
    const source = path.join(dir, `${zone}.zone`);
    await fsp.writeFile(
      source,
      [
        `$ORIGIN ${zone}.`,
        '$TTL 300',
        `@ 300 IN SOA ns1.${parent}. hostmaster.${parent}. 1 7200 900 1209600 300`,
        `@ 300 IN NS ns1.${parent}.`,
        'acme 300 IN A 127.61.1.1',
        'beta 300 IN A 127.61.1.2',
        `$INCLUDE ${key}.key`,
        '',
      ].join('\n'),
    );
    const validity = state === 'expired' ? { start: 'now-2592000', end: 'now-86400' } : { start: 'now-3600', end: 'now+2592000' };
    files[zone] = await sign(dir, zone, source, key, validity);
    // wrongds.sec.test: the parent's DS is that of a key the zone never published.
    childDs.push(await dsOf(state === 'wrongDs' ? await keygen(keys, zone) : key));
  }
  const parentKey = await keygen(keys, parent);
  const parentSource = path.join(dir, `${parent}.zone`);
  await fsp.writeFile(
    parentSource,
    [
      `$ORIGIN ${parent}.`,
      '$TTL 300',
      `@ 300 IN SOA ns1 hostmaster 1 7200 900 1209600 300`,
      '@ 300 IN NS ns1',
      `ns1 300 IN A ${nsAddress}`,
      ...Object.values(children).map((zone) => `${zone}. 300 IN NS ns1.${parent}.`),
      ...childDs,
      `$INCLUDE ${parentKey}.key`,
      '',
    ].join('\n'),
  );
  files[parent] = await sign(dir, parent, parentSource, parentKey, { start: 'now-3600', end: 'now+2592000' });
  const trustAnchor = (await dsOf(parentKey)).split(/\s+/).slice(3).join(' ');
  return { parent, ...children, trustAnchor, files };
}

// ── the test CA and the DoT/DoH certificate ────────────────────────────────────────────────

/** The name on the DoT/DoH certificate (besides the resolver's address). */
export const TLS_NAME = 'resolver.lab.test';

export async function makeCertificates(dir: string, ip: string): Promise<{ caFile: string; keyFile: string; certFile: string }> {
  const openssl = bin('openssl');
  const caKey = path.join(dir, 'ca.key');
  const caFile = path.join(dir, 'ca.pem');
  const keyFile = path.join(dir, 'resolver.key');
  const csr = path.join(dir, 'resolver.csr');
  const certFile = path.join(dir, 'resolver.pem');
  const ext = path.join(dir, 'resolver.ext');
  const steps: string[][] = [
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=dialer-audit lab CA'],
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', csr, '-subj', `/CN=${TLS_NAME}`],
    ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext],
  ];
  await fsp.writeFile(ext, `subjectAltName=DNS:${TLS_NAME},IP:${ip}\nextendedKeyUsage=serverAuth\n`);
  for (const args of steps) {
    const r = await run(openssl, args);
    if (r.code !== 0) throw new Error(`resolvers lab: openssl ${args[0]} failed: ${r.stderr}`);
  }
  return { caFile, keyFile, certFile };
}

