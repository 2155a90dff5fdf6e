// Issue 12's hostile servers and files, one per row of its table ("Output", "SIP", "ICE fetch",
// "ICE file"): each is a finding that says what was wrong — never a crash (CHECK_ERROR), a hang, or
// terminal escapes written raw. Real servers where users have them: the DNS lab's knot + unbound
// serve the SRV records; the hostile DNS resolver, SIP UAS and HTTP servers are small node servers
// on this file's own 127.70.N.x addresses.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { runCli } from '../support/cli.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import type { Finding, Report } from '../../src/types.ts';
import { connectDnsLab } from '../lab/dns-lab.ts';
import { startHostileDns, type HostileDns } from '../lab/hostile-dns.ts';
import { startNodeUas, type LabServer } from '../lab/sip-servers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const info = inject('dnsLab');
const lab = connectDnsLab(info);
/** This file's own /24 in 127.70.0.0/16, so parallel runs do not collide. */
const net = `127.70.${1 + ((process.pid * 7 + Date.now()) % 250)}`;
const names = `hardening-${net.split('.')[2]}.${info.zone}`;
/** Any C0 byte but newline, DEL, or C1: what a terminal would obey. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

let dir: string;
let hostileDns: HostileDns;
const servers: LabServer[] = [];
const http1: { server?: http.Server; url?: string } = {};
const http2: { server?: http.Server; url?: string } = {};

async function listen(server: http.Server, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-hostile-'));
  hostileDns = await startHostileDns(`${net}.1`, 5353);
  // A carrier whose 503 reason phrase retitles the terminal and clears the screen.
  servers.push(await startNodeUas({ address: `${net}.2`, port: 5060, transport: 'udp', status: 503, reason: 'Service Unavailable\x1b]0;owned\x07\x1b[2J\x9b31m' }));
  // A healthy carrier edge for the SRV records.
  servers.push(await startNodeUas({ address: `${net}.5`, port: 5070, transport: 'udp', status: 200 }));
  http2.server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{ "iceServers": [{ "urls": "stun:stun.example.net:3478" }] }');
  });
  http2.url = await listen(http2.server, `${net}.4`);
  http1.server = http.createServer((req, res) => {
    const to: Record<string, string> = {
      '/file': 'file:///etc/passwd',
      '/data': 'data:text/plain,stun:evil.example:3478',
      '/ftp': `ftp://${net}.3/ice.json`,
      '/broken': 'http://[::1',
      '/other': `${http2.url}/ice.json`,
      '/allowed': `${http2.url}/ice.json`,
    };
    const location = to[req.url ?? ''];
    if (location) res.writeHead(302, { location }).end();
    else res.writeHead(404).end();
  });
  http1.url = await listen(http1.server, `${net}.3`);
  await lab.setRecords(`controlname.${names}`, 'A', 300, [`${net}.9`]);
  await lab.setRecords(`_sip._udp.srv0.${names}`, 'SRV', 300, [`0 0 0 edge.${names}.`]);
  await lab.setRecords(`_sip._udp.mixed.${names}`, 'SRV', 300, [`0 0 0 edge.${names}.`, `10 0 5070 edge.${names}.`]);
  await lab.setRecords(`_sip._udp.notoffered.${names}`, 'SRV', 300, ['0 0 0 .']);
  await lab.setRecords(`edge.${names}`, 'A', 300, [`${net}.5`]);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await hostileDns?.stop();
  for (const h of [http1, http2]) await new Promise((resolve) => (h.server ? h.server.close(resolve) : resolve(undefined)));
  for (const name of ['controlname', '_sip._udp.srv0', '_sip._udp.mixed', '_sip._udp.notoffered', 'edge']) {
    await lab.setRecords(`${name}.${names}`, name === 'controlname' || name === 'edge' ? 'A' : 'SRV', 300, []);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function configFile(name: string, config: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

async function audit(raw: Record<string, unknown>): Promise<Report> {
  const config = parseConfig({ run: { budget: '20s' }, ...raw });
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

const codes = (r: Report) => r.findings.map((f) => `${f.code} ${f.target}`).sort();
const noCrash = (r: Report) => expect(r.findings.filter((f) => f.code === 'CHECK_ERROR')).toEqual([]);

describe('Output: escapes from a DNS name, a SIP reason phrase and an ICE file', () => {
  it('are shown escaped in the text and Markdown reports and in merge', async () => {
    // Prepare: a resolver answering with a CNAME full of escapes, a carrier's 503 reason phrase,
    // and a webphone file whose STUN URL carries them.
    const ice = path.join(dir, 'webphone.js');
    writeFileSync(ice, 'const pc = new RTCPeerConnection({\n  iceServers: [{ urls: "stun:evil\x1b]0;owned\x07\x1b[8m.example:3478" }],\n});\n');
    const config = configFile('output.json', {
      resolvers: [{ name: 'hostile', address: hostileDns.address }],
      authoritative: info.authoritative,
      targets: { dialers: [`controlname.${names}`] },
      carriers: [{ name: 'hostile-sip', uri: `${net}.2:5060` }],
      checks: { 'dns-consistency': { recordTypes: ['A'] }, 'sip-options': { fragmentation: false, timeout: '2s' }, 'ice-policy': { sources: [ice], probe: 'none', requireTurn: false } },
      dns: { timeout: '1s', retries: 0 },
      run: { vantage: 'lab' },
    });
    // Act
    const text = await runCli(['audit', '--config', config, '--format', 'text']);
    const markdown = await runCli(['audit', '--config', config, '--format', 'markdown']);
    const json = await runCli(['audit', '--config', config, '--format', 'json']);
    const reportFile = path.join(dir, 'lab.json');
    writeFileSync(reportFile, json.out);
    const merged = await runCli(['merge', reportFile, reportFile]);
    // Assess: every source reached the report, escaped.
    expect(JSON.parse(json.out).findings.map((f: Finding) => f.code).sort()).toEqual(['DNS_MISMATCH', 'ICE_BAD_URI', 'SIP_ERROR_RESPONSE']);
    for (const out of [text, markdown, merged]) {
      expect(out.code).toBe(1);
      expect(out.out + out.err).not.toMatch(RAW_CONTROL);
    }
    for (const out of [text.out, markdown.out]) {
      expect(out).toContain('evil\\x1b]0;owned\\x07\\x1b[2j.example'); // names are compared lower-case
      expect(out).toContain('Unavailable\\x1b]0;owned\\x07\\x1b[2J\\x9b31m');
      expect(out).toContain('\\x1b[8m');
    }
  });
});

describe('SIP: SRV records a carrier should not publish', () => {
  const carrier = (host: string) => ({
    resolvers: info.resolvers,
    authoritative: info.authoritative,
    carriers: [{ name: 'lab-carrier', uri: `sip:${host}.${names}` }],
    checks: { 'sip-options': { fragmentation: false, timeout: '2s' } },
  });

  it('an SRV record with port 0 is SIP_DNS_BAD_RECORD and, with nothing else to reach, SIP_DNS_FAILURE — not a crash', async () => {
    const report = await audit(carrier('srv0'));
    noCrash(report);
    expect(codes(report)).toEqual(['SIP_DNS_BAD_RECORD lab-carrier', 'SIP_DNS_FAILURE lab-carrier']);
    const bad = report.findings.find((f) => f.code === 'SIP_DNS_BAD_RECORD')!;
    expect(bad.message).toBe(`lab-carrier: _sip._udp.srv0.${names} SRV "0 0 0 edge.${names}" is skipped: port 0: nothing can be reached there`);
  });

  it('next to a usable SRV record, the port-0 one is skipped and the carrier is probed at the other', async () => {
    const report = await audit(carrier('mixed'));
    noCrash(report);
    expect(codes(report)).toEqual(['SIP_DNS_BAD_RECORD lab-carrier']);
    expect(report.measurements.filter((m) => m.metric === 'up').map((m) => `${m.labels?.address} ${m.value}`)).toEqual([`${net}.5:5070 1`]);
  });

  it('an SRV target of "." (RFC 2782: not offered) is SIP_DNS_FAILURE, without guessing the A record', async () => {
    const report = await audit(carrier('notoffered'));
    noCrash(report);
    expect(codes(report)).toEqual(['SIP_DNS_FAILURE lab-carrier']);
    expect(report.findings[0].message).toContain(`_sip._udp.notoffered.${names} says the service is not offered (SRV target ".")`);
  });
});

describe('ICE fetch: redirects', () => {
  const ice = (sources: unknown[]) => ({ checks: { 'ice-policy': { sources, probe: 'none', requireTurn: false, timeout: '2s' } } });
  const unreadable = (r: Report) => r.findings.filter((f) => f.code === 'ICE_SOURCE_UNREADABLE').map((f) => f.message);

  it.each([
    ['/file', 'only http and https redirects are followed, not file:'],
    ['/data', 'only http and https redirects are followed, not data:'],
    ['/ftp', 'only http and https redirects are followed, not ftp:'],
    ['/broken', 'redirects to "http://[::1": not a URL; not followed'],
  ])('%s: ICE_SOURCE_UNREADABLE with the reason, not a crash', async (route, reason) => {
    const report = await audit(ice([`${http1.url}${route}`]));
    noCrash(report);
    expect(unreadable(report)).toEqual([expect.stringContaining(reason)]);
  });

  it('to another host: not followed, and the finding names both URLs', async () => {
    const report = await audit(ice([`${http1.url}/other`]));
    noCrash(report);
    const [finding] = report.findings;
    expect(finding.code).toBe('ICE_SOURCE_UNREADABLE');
    expect(finding.message).toContain(`${http1.url}/other redirects to ${http2.url}/ice.json: another host (${net}.4), not listed in this source's redirectHosts`);
    expect(finding.evidence).toMatchObject({ redirectedFrom: `${http1.url}/other`, redirectedTo: `${http2.url}/ice.json` });
    expect(finding.firstStep).toContain('redirectHosts');
  });

  it('to a host listed in the source\'s redirectHosts: followed', async () => {
    const report = await audit(ice([{ source: `${http1.url}/allowed`, redirectHosts: [`${net}.4`] }]));
    expect(report.findings).toEqual([]);
  });
});

describe('ICE file: what is not a regular file of a sane size', () => {
  it('a FIFO, /dev/zero and a 200 MB file are ICE_SOURCE_UNREADABLE at once, and the process exits', async () => {
    // Prepare: the FIFO never gets a writer; the 200 MB file is sparse.
    const fifo = path.join(dir, 'ice.fifo');
    execFileSync('mkfifo', [fifo]);
    const huge = path.join(dir, 'huge.json');
    writeFileSync(huge, '{}');
    truncateSync(huge, 200 * 1024 * 1024);
    const config = configFile('ice-files.json', { checks: { 'ice-policy': { sources: [fifo, '/dev/zero', huge], probe: 'none', requireTurn: false } }, run: { budget: '20s' } });
    // Act: a separate process, as users run it, so "never exits" shows.
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "const { main } = await import('./src/entry/cli.ts'); process.exitCode = await main(process.argv.slice(1));", 'audit', '--config', config, '--format', 'json'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c) => (stdout += c));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    // Assess
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as Report;
    expect(report.findings.map((f) => f.message).sort()).toEqual(
      [
        `cannot read the ICE configuration /dev/zero: /dev/zero is a character device, not a regular file`,
        `cannot read the ICE configuration ${fifo}: ${fifo} is a FIFO (named pipe), not a regular file`,
        `cannot read the ICE configuration ${huge}: ${huge} is 200 MB, over the limit of 1 MB`,
      ].sort(),
    );
  });
});
