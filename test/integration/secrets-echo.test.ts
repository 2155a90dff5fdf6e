// Issue 12, "Secrets" rows: servers that echo a secret back in another encoding. The Slack
// stand-in refuses with a 400 whose body holds the webhook path URL-encoded and base64-encoded; a
// real SMTP server (smtp-server) refuses AUTH with a 535 that quotes the AUTH PLAIN blob
// ("\0user\0pass") in base64 and hex. Two `audit --notify` runs: the first meets both refusals,
// the second delivers — each reporter then tells of the other's failure. Every byte the tool
// wrote (stdout, stderr, the JSON report, the state file, the email, the Slack notice) is searched
// for every secret in every encoding.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { startSlackStandIn, type SlackStandIn } from '../lab/slack-stand-in.ts';
import { parseMessage, startSmtpLab, type SmtpLab } from '../lab/smtp-lab.ts';

const info = inject('dnsLab');
const net = `127.70.${1 + ((process.pid * 17 + Date.now()) % 250)}`;
const TOKEN = randomBytes(12).toString('hex');
const WEBHOOK_PATH = `/services/T0LAB/B0LAB/${TOKEN}`;
const USER = 'dialer-audit-lab';
const PASS = `pw-${randomBytes(9).toString('base64url')}`;

let dir: string;
let slack: SlackStandIn;
let smtp: SmtpLab;
let blackhole: Socket;
let configFile: string;
let stateFile: string;
/** Every output of the tool, by where it went. */
const outputs: { where: string; text: string }[] = [];

/** The ways a secret may be written: raw, %-encoded (once, twice), base64 (padded, not, url-safe), hex. */
function encodings(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const once = encodeURIComponent(value);
  const b64 = bytes.toString('base64');
  return [value, once, encodeURIComponent(once), b64, b64.replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex'), bytes.toString('hex').toUpperCase()];
}

async function auditNotify(): Promise<number> {
  const { code, out, err } = await runCli(['audit', '--config', configFile, '--notify', '--format', 'json']);
  outputs.push({ where: 'stdout (JSON report)', text: out }, { where: 'stderr', text: err });
  return code;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-secrets-'));
  slack = await startSlackStandIn();
  smtp = await startSmtpLab({ user: USER, pass: PASS });
  blackhole = createSocket('udp4');
  blackhole.on('message', () => {});
  await new Promise<void>((resolve) => blackhole.bind(0, `${net}.1`, resolve));
  process.env.LAB_ECHO_SLACK_WEBHOOK = slack.webhook(WEBHOOK_PATH);
  process.env.LAB_ECHO_SMTP_USER = USER;
  process.env.LAB_ECHO_SMTP_PASS = PASS;
  stateFile = path.join(dir, 'state.json');
  configFile = path.join(dir, 'config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      resolvers: [{ name: 'blackhole', address: `${net}.1:${blackhole.address().port}` }],
      authoritative: info.authoritative,
      targets: { dialers: [`acme.${info.zone}`] },
      checks: { 'dns-consistency': { recordTypes: ['A'] } },
      dns: { timeout: '300ms', retries: 0 },
      alerting: { failureThreshold: 1, criticalFailureThreshold: 1 },
      state: { file: stateFile },
      reporters: {
        slack: { webhookUrl: 'env:LAB_ECHO_SLACK_WEBHOOK' },
        email: {
          smtp: { host: '127.0.0.1', port: smtp.port, user: 'env:LAB_ECHO_SMTP_USER', pass: 'env:LAB_ECHO_SMTP_PASS', caFile: smtp.certificate.certFile, timeout: '5s' },
          from: 'dialer-audit@example.com',
          to: ['voice-oncall@example.com'],
        },
      },
    }),
  );
});

afterAll(async () => {
  delete process.env.LAB_ECHO_SLACK_WEBHOOK;
  delete process.env.LAB_ECHO_SMTP_USER;
  delete process.env.LAB_ECHO_SMTP_PASS;
  blackhole?.close();
  await slack?.close();
  await smtp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('secrets echoed back by servers, in any encoding', () => {
  it('a Slack 400 echoing the webhook path and an SMTP 535 echoing the AUTH PLAIN blob leave no trace in any output', async () => {
    // Prepare: run 1 meets both refusals.
    const path64 = Buffer.from(WEBHOOK_PATH).toString('base64');
    slack.script.push({ status: 400, body: `invalid_token: no such hook ${encodeURIComponent(WEBHOOK_PATH)} (base64 ${path64}; token ${Buffer.from(TOKEN).toString('base64')})` });
    smtp.echoRefusals = true;
    // Act
    const first = await auditNotify();
    smtp.echoRefusals = false;
    const second = await auditNotify();
    outputs.push({ where: 'state file', text: readFileSync(stateFile, 'utf8') });
    for (const m of smtp.messages) outputs.push({ where: 'email (raw)', text: m.raw }, ...parseMessage(m.raw).parts.map((p) => ({ where: 'email (decoded)', text: p.body })));
    for (const r of slack.requests) outputs.push({ where: 'Slack notice', text: r.body });
    // Assess: the refusals happened and were reported, each by the other reporter the next run.
    expect([first, second]).toEqual([1, 1]);
    expect(smtp.refusedLogins).toEqual([USER]);
    const report1 = JSON.parse(outputs[0].text);
    expect(report1.reporterFailures).toEqual([
      { reporter: 'slack', error: expect.stringMatching(/^Slack refused the message: HTTP 400: invalid_token: no such hook \[secret\] \(base64 \[secret\]; token \[secret\]\)$/) },
      { reporter: 'email', error: expect.stringMatching(/535.*AUTH PLAIN \[secret\] \(hex \[secret\]\)/) },
    ]);
    const slackNotice = slack.requests.filter((r) => r.status === 200).map((r) => r.body).join('\n');
    expect(slackNotice).toContain('REPORTER_FAILED');
    expect(slackNotice).toContain('AUTH PLAIN [secret]');
    expect(smtp.messages).toHaveLength(1);
    expect(parseMessage(smtp.messages[0].raw).parts[0].body).toContain('no such hook [secret]');
    // Assess: no secret, in no encoding, anywhere.
    const secrets = [
      ...encodings(slack.webhook(WEBHOOK_PATH)),
      ...encodings(WEBHOOK_PATH),
      ...encodings(TOKEN),
      ...encodings(PASS),
      ...encodings(`\0${USER}\0${PASS}`).slice(1),
      ...encodings(`${USER}\0${USER}\0${PASS}`).slice(1),
    ];
    const leaks = outputs.flatMap((o) => secrets.filter((s) => o.text.includes(s)).map((s) => `${o.where}: ${JSON.stringify(s)}`));
    expect(outputs.map((o) => o.text).join('').length).toBeGreaterThan(5000);
    expect(leaks).toEqual([]);
  });
});
