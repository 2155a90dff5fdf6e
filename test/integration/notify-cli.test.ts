// `dialer-audit audit --notify` end to end: the stale-cache outage replayed on the DNS lab (unbound
// ×3 + knot), notices to a Slack stand-in and a real SMTP server (STARTTLS, AUTH), alert state in
// a file, metrics in a node_exporter textfile and EMF lines. Then a scan of every byte the tool
// wrote for the configured secrets.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { connectDnsLab } from '../lab/dns-lab.ts';
import { startSlackStandIn, type SlackStandIn } from '../lab/slack-stand-in.ts';
import { decodeHeader, parseMessage, startSmtpLab, type SmtpLab } from '../lab/smtp-lab.ts';

const info = inject('dnsLab');
const lab = connectDnsLab(info);
const name = `notify-cli.${info.zone}`;

const WEBHOOK_PATH = `/services/T0LAB/B0LAB/${randomBytes(12).toString('hex')}`;
const SMTP_USER = 'dialer-audit-lab';
const SMTP_PASS = `pw-${randomBytes(9).toString('base64url')}`;

let slack: SlackStandIn;
let smtp: SmtpLab;
let dir: string;
let configFile: string;
/** Every byte the tool wrote: stdout, stderr (logs, EMF), the state file, the textfile. */
const output: string[] = [];

async function audit(format: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, out, err } = await runCli(['audit', '--config', configFile, '--notify', '--format', format]);
  output.push(out, err);
  return { code, stdout: out, stderr: err };
}

function slackKinds(): string[] {
  return slack.requests.filter((r) => r.payload && r.status === 200).map((r) => (r.payload!.blocks[0] as { text: { text: string } }).text.text);
}

beforeAll(async () => {
  slack = await startSlackStandIn();
  smtp = await startSmtpLab({ user: SMTP_USER, pass: SMTP_PASS });
  dir = await mkdtemp(path.join(os.tmpdir(), 'dialer-audit-notify-'));
  process.env.DIALER_AUDIT_LAB_SLACK_WEBHOOK_URL = slack.webhook(WEBHOOK_PATH);
  process.env.DIALER_AUDIT_LAB_SMTP_USER = SMTP_USER;
  process.env.DIALER_AUDIT_LAB_SMTP_PASS = SMTP_PASS;
  configFile = path.join(dir, 'dialer-audit.yaml');
  await writeFile(
    configFile,
    `
resolvers:
${info.resolvers.map((r) => `  - { name: ${r.name}, address: "${r.address}" }`).join('\n')}
authoritative:
${info.authoritative.map((a) => `  - { name: ${a.name}, address: "${a.address}" }`).join('\n')}
targets:
  dialers: [${name}]
checks:
  dns-consistency: { recordTypes: [A] }
dns: { timeout: 500ms, retries: 1 }
alerting: { failureThreshold: 2, criticalFailureThreshold: 2, successThreshold: 2, reminderInterval: 4h }
state: { file: ${path.join(dir, 'state', 'state.json')} }
reporters:
  slack: { webhookUrl: env:DIALER_AUDIT_LAB_SLACK_WEBHOOK_URL }
  email:
    smtp: { host: 127.0.0.1, port: ${smtp.port}, user: env:DIALER_AUDIT_LAB_SMTP_USER, pass: env:DIALER_AUDIT_LAB_SMTP_PASS, caFile: ${smtp.certificate.certFile}, timeout: 5s }
    from: dialer-audit@example.com
    to: [voice-oncall@example.com]
  metrics: { emf: true, prometheusTextfile: ${path.join(dir, 'textfile', 'dialer_audit.prom')} }
  links: { runbook: "https://wiki.example.com/dialer-audit" }
`,
  );
  // The dialer with the incident's 24-hour TTL, cached by every resolver.
  await lab.setRecords(name, 'A', 86400, ['127.61.7.1']);
});

afterAll(async () => {
  await slack?.close();
  await smtp?.close();
  await rm(dir, { recursive: true, force: true });
  delete process.env.DIALER_AUDIT_LAB_SLACK_WEBHOOK_URL;
  delete process.env.DIALER_AUDIT_LAB_SMTP_USER;
  delete process.env.DIALER_AUDIT_LAB_SMTP_PASS;
});

describe('audit --notify on the lab', () => {
  it('fail, fail, fail, ok, ok, ok (thresholds 2/2) tells each reporter once and resolves once; Slack down at the problem notice gets it next run', async () => {
    // Prepare: a clean run fills every resolver's cache; then the address moves and pub1 keeps its copy.
    const primed = await audit('text');
    expect(primed.code).toBe(0);
    await lab.setRecords(name, 'A', 86400, ['127.61.7.2']);
    await lab.flush('pub2', name);
    await lab.flush('pub3', name);

    // Act + Assess, run by run
    const fail1 = await audit('json');
    expect(fail1.code).toBe(1);
    expect(JSON.parse(fail1.stdout).findings.map((f: { code: string; resolver: string }) => `${f.code}@${f.resolver}`)).toEqual(['DNS_MISMATCH@pub1']);
    expect(slack.requests).toHaveLength(0);
    expect(smtp.messages).toHaveLength(0);
    const attemptsBefore = slack.requests.length;

    slack.down = { status: 500, body: `upstream failed for ${WEBHOOK_PATH}` };
    const fail2 = await audit('json');
    slack.down = undefined;
    expect(fail2.code).toBe(1);
    expect(slack.requests.length - attemptsBefore).toBe(4);
    expect(slackKinds()).toEqual([]);
    const report2 = JSON.parse(fail2.stdout);
    expect(report2.reporterFailures).toEqual([{ reporter: 'slack', error: expect.stringMatching(/^Slack answered HTTP 500: upstream failed for \[secret\]/) }]);
    expect(report2.summary.failed).toBe(true);
    expect(smtp.messages).toHaveLength(1);

    const fail3 = await audit('markdown');
    expect(fail3.code).toBe(1);
    expect(slackKinds()).toEqual(['dialer-audit: 1 new']);

    await lab.flush('pub1', name);
    const ok1 = await audit('prom');
    const ok2 = await audit('text');
    const ok3 = await audit('text');
    expect([ok1.code, ok2.code, ok3.code]).toEqual([0, 0, 0]);

    // Slack: the failed attempts of run 2, then exactly one problem (run 3) and one resolved (run 5).
    expect(slackKinds()).toEqual(['dialer-audit: 1 new', 'dialer-audit: 1 resolved']);
    const problem = slack.requests.find((r) => r.payload && r.body.includes('NEW critical'))!.body;
    expect(problem).toContain(`*${name}*`);
    expect(problem).toContain('DNS_MISMATCH');
    expect(problem).toMatch(/\*First step:\* [^"]*flush/i);
    // Email: exactly one problem (run 2) and one resolved (run 5), over STARTTLS with AUTH.
    expect(smtp.messages.map((m) => [m.secure, m.user])).toEqual([
      [true, SMTP_USER],
      [true, SMTP_USER],
    ]);
    const subjects = smtp.messages.map((m) => decodeHeader(parseMessage(m.raw).headers.subject));
    expect(subjects).toEqual([`[dialer-audit] 1 critical: ${name} stale at pub1`, `[dialer-audit] 1 resolved: ${name} stale at pub1`]);
    const text = parseMessage(smtp.messages[0].raw).parts.find((p) => p.headers['content-type'].startsWith('text/plain'))!.body;
    expect(text).toMatch(/First step: .*flush/i);
    expect(text).toContain(name);

    // Metrics: the textfile of the last run, EMF lines on stderr, and --format prom.
    const textfile = await readFile(path.join(dir, 'textfile', 'dialer_audit.prom'), 'utf8');
    output.push(textfile, await readFile(path.join(dir, 'state', 'state.json'), 'utf8'));
    expect(textfile).toContain('dialer_audit_run_failed 0');
    expect(textfile).toContain('# TYPE dialer_audit_findings_by_severity gauge');
    expect(ok1.stdout).toContain('dialer_audit_check_targets{check="dns-consistency"} 1');
    const emf = fail2.stderr.split('\n').filter((l) => l.startsWith('{"_aws"')).map((l) => JSON.parse(l));
    expect(emf.at(-1)).toMatchObject({ findings_critical: 1, reporter_failures: 1, run_failed: 1 });
    // The state is clean again: nothing fires, nobody is owed anything.
    expect(JSON.parse(await readFile(path.join(dir, 'state', 'state.json'), 'utf8')).state.entries).toEqual({});
  });

  it('never writes a configured secret into any output, log, report or state', () => {
    const everything = output.join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    const secrets = [slack.webhook(WEBHOOK_PATH), WEBHOOK_PATH, WEBHOOK_PATH.split('/').at(-1)!, SMTP_PASS, Buffer.from(SMTP_PASS).toString('base64')];
    for (const secret of secrets) expect(everything).not.toContain(secret);
  });
});
