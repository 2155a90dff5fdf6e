// ice-policy end to end: the fleet's own config files, and each dialer's webphone config fetched over
// loopback HTTPS (the lab's self-signed certificate), with the servers it names probed against coturn.
import https from 'node:https';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { runAudit } from '../../src/audit.ts';
import { silentLogger } from '../../src/log.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { GOOGLE_INCIDENT_REASON } from '../../src/ice/policy.ts';
import { startCoturnLab, type CoturnLab } from '../lab/coturn.ts';

const fixture = (name: string) => new URL(`../fixtures/ice/${name}`, import.meta.url).pathname;

let lab: CoturnLab;
let web: https.Server;
let base: string;
/** What each dialer's web server serves at /<dialer>/webphone/ice.json. */
const served = new Map<string, string>();

beforeAll(async () => {
  lab = await startCoturnLab();
  web = https.createServer({ cert: fs.readFileSync(lab.caFile), key: fs.readFileSync(lab.keyFile) }, (req, res) => {
    const m = /^\/([^/]+)\/webphone\/ice\.json$/.exec(req.url ?? '');
    const body = m ? served.get(m[1]) : undefined;
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => web.listen(0, `${lab.prefix}.3`, resolve));
  base = `https://${lab.prefix}.3:${(web.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => web?.close(resolve));
  await lab?.stop();
});

async function audit(raw: Record<string, unknown>) {
  const config = parseConfig(raw);
  return runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger });
}

describe('ice-policy on the fleet’s files', () => {
  it('flags the Google default in a webphone config and in rtp.conf, with every file and line, and says what to write instead', async () => {
    // Prepare: the telnyx servers are allowed; nothing is probed (the fixtures name real hosts).
    const report = await audit({
      stun: { servers: [{ uri: 'stun:stun.telnyx.com:3478' }, { uri: 'turn:turn.telnyx.com:3478' }], allow: ['*.telnyx.com'] },
      checks: { 'ice-policy': { sources: [fixture('webphone-ice.json'), fixture('rtp.conf'), fixture('res_stun_monitor.conf'), fixture('pjsip.conf')], probe: 'none' } },
    });
    // Act
    const byTarget = Object.fromEntries(report.findings.map((f) => [`${f.code} ${f.target}`, f]));
    // Assess
    expect(Object.keys(byTarget).sort()).toEqual(['ICE_DISALLOWED_SERVER stun:stun.l.google.com:19302', 'ICE_DISALLOWED_SERVER stun:stun1.l.google.com:19302']);
    const google = byTarget['ICE_DISALLOWED_SERVER stun:stun.l.google.com:19302'];
    expect(google.severity).toBe('critical');
    expect(google.message).toBe(
      `stun:stun.l.google.com:19302 is configured in ${fixture('webphone-ice.json')} line 6, ${fixture('rtp.conf')} line 9 and ${fixture('res_stun_monitor.conf')} line 3, and is not allowed: ${GOOGLE_INCIDENT_REASON}`,
    );
    expect(google.firstStep).toBe(
      `In ${fixture('webphone-ice.json')} line 6 replace "stun:stun.l.google.com:19302" with "stun:stun.telnyx.com:3478"; ` +
        `in ${fixture('rtp.conf')} line 9 replace "stunaddr=stun.l.google.com:19302" with "stunaddr=stun.telnyx.com:3478"; ` +
        `in ${fixture('res_stun_monitor.conf')} line 3 replace "stunaddr=stun.l.google.com:19302" with "stunaddr=stun.telnyx.com:3478"; ` +
        'then redeploy the webphone configuration (agents must reload the page) and asterisk -rx "module reload res_rtp_asterisk.so" and asterisk -rx "module reload res_stun_monitor.so".',
    );
    expect(google.evidence).toMatchObject({ file: fixture('webphone-ice.json'), line: 6 });
    expect((google.evidence?.locations as { source: string; line: number }[]).map((l) => `${l.source.split('/').pop()}:${l.line}`)).toEqual(['webphone-ice.json:6', 'rtp.conf:9', 'res_stun_monitor.conf:3']);
    expect(JSON.stringify(report)).not.toContain('not-a-real-password');
  });

  it('a webphone config without TURN is ICE_NO_TURN; a missing file is ICE_SOURCE_UNREADABLE', async () => {
    const missing = fixture('no-such-file.json');
    const report = await audit({ checks: { 'ice-policy': { sources: [fixture('webphone-no-turn.json'), missing], probe: 'none' } } });
    expect(report.findings.map((f) => `${f.code} ${f.target}`).sort()).toEqual([
      `ICE_NO_TURN ${fixture('webphone-no-turn.json')}`,
      `ICE_SOURCE_UNREADABLE ${missing}`,
      'ICE_DISALLOWED_SERVER stun:stun.l.google.com:19302',
    ].sort());
    expect(report.findings.find((f) => f.code === 'ICE_SOURCE_UNREADABLE')!.message).toBe(`cannot read the ICE configuration ${missing}: ${missing} does not exist`);
  });
});

describe('ice-policy per dialer, over HTTPS', () => {
  it('reads every dialer’s own webphone config; findings name the dialer; the servers it names are probed', async () => {
    // Prepare: acme still ships the Google default; beta is clean but names a dead STUN server; gamma serves nothing.
    const [a, b] = [lab.longTerm.ip, lab.rest.ip];
    const dead = `${lab.prefix}.99`;
    served.set('acme.dialer.test', JSON.stringify({ iceServers: [{ urls: `stun:${a}:3478` }, { urls: 'stun:stun.l.google.com:19302' }, { urls: `turn:${b}:3478`, username: 'x', credential: 'y' }] }, null, 2));
    served.set('beta.dialer.test', JSON.stringify({ iceServers: [{ urls: [`stun:${a}:3478`, `stun:${dead}:3478`] }, { urls: `turns:${b}:5349?transport=tcp`, username: 'x', credential: 'y' }] }, null, 2));
    const config = {
      targets: { dialers: ['acme.dialer.test', 'beta.dialer.test', 'gamma.dialer.test'] },
      stun: { allow: ['127.34.*'] },
      checks: { 'ice-policy': { sources: [`${base}/{dialer}/webphone/ice.json`], caFile: lab.caFile, timeout: '1s' } },
    };
    // Act
    const report = await audit(config);
    // Assess
    expect(report.findings.map((f) => `${f.code} ${f.target}`).sort()).toEqual([
      'ICE_DISALLOWED_SERVER acme.dialer.test',
      'ICE_SOURCE_UNREADABLE gamma.dialer.test',
      'STUN_TIMEOUT beta.dialer.test',
    ]);
    const acme = report.findings.find((f) => f.target === 'acme.dialer.test')!;
    expect(acme.message).toBe(`acme.dialer.test's ICE configuration uses stun:stun.l.google.com:19302 (${base}/acme.dialer.test/webphone/ice.json line 7), not allowed: ${GOOGLE_INCIDENT_REASON}`);
    expect(acme.evidence).toMatchObject({ file: `${base}/acme.dialer.test/webphone/ice.json`, line: 7 });
    const beta = report.findings.find((f) => f.target === 'beta.dialer.test')!;
    expect(beta.message).toMatch(new RegExp(`^beta\\.dialer\\.test's ICE server: stun:${dead.replace(/\./g, '\\.')}:3478 did not answer a Binding request over UDP`));
    expect(report.findings.find((f) => f.target === 'gamma.dialer.test')!.message).toContain('answered HTTP 404');
    // Each allowed server was probed once, however many dialers name it; Google was not probed at all.
    const probed = report.aggregates.filter((m) => m.metric === 'up').map((m) => `${m.labels.target}=${m.sum}`).sort();
    expect(probed).toEqual([`stun:${a}:3478=1`, `stun:${dead}:3478=0`, `turn:${b}:3478=1`, `turns:${b}:5349=1`].sort());
  });
});
