// Email against a real SMTP server (smtp-server) with STARTTLS and AUTH (test/lab/smtp-lab.ts).
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { emailNotifier, formatEmail, sendEmail, type EmailConfig } from '../../src/report/email.ts';
import { noticeContent } from '../../src/report/notice.ts';
import type { Notice } from '../../src/state/policy.ts';
import { decodeHeader, parseMessage, startSmtpLab, type SmtpLab } from '../lab/smtp-lab.ts';

const USER = 'dialer-audit';
const PASS = 'smtp-pass-Qm4zT8wK1v';
const NOW = Date.parse('2026-11-23T15:20:00Z');

const NOTICES: Notice[] = [
  {
    fingerprint: 'a',
    kind: 'problem',
    channels: ['email'],
    check: 'dns-consistency',
    target: 'acme.dialer.example.com',
    code: 'DNS_MISMATCH',
    resolver: 'google',
    severity: 'critical',
    message: 'acme.dialer.example.com A at google: 192.0.2.99, the zone has 192.0.2.10; it expires by itself in 23h59m',
    firstStep: 'Flush it sooner at https://developers.google.com/speed/public-dns/cache',
    firstSeen: '2026-11-23T15:15:00.000Z',
    lastSeen: '2026-11-23T15:20:00.000Z',
    consecutiveFailures: 1,
  },
  {
    fingerprint: 'b',
    kind: 'problem',
    channels: ['email'],
    check: 'ttl-policy',
    target: 'beta.dialer.example.com',
    code: 'TTL_ABOVE_POLICY',
    severity: 'warning',
    message: 'beta.dialer.example.com A has TTL 86400 s, the policy allows 300 s',
    firstStep: 'dialer-audit audit --config dialer-audit.yaml --fix would set TTL 300 (was 86400) — “café” <ok> & done',
    firstSeen: '2026-11-23T15:10:00.000Z',
    lastSeen: '2026-11-23T15:20:00.000Z',
    consecutiveFailures: 2,
  },
  {
    fingerprint: 'c',
    kind: 'resolved',
    channels: ['email'],
    check: 'sip-options',
    target: 'carrier-a',
    code: 'SIP_TIMEOUT',
    severity: 'critical',
    message: 'carrier-a did not answer OPTIONS over udp',
    firstStep: 'Call the carrier',
    firstSeen: '2026-11-23T13:00:00.000Z',
    lastSeen: '2026-11-23T14:43:00.000Z',
    consecutiveFailures: 0,
  },
];

function content() {
  return noticeContent({ channel: 'email', notices: NOTICES, firing: [], runId: 'run-7', vantage: 'eu-west-1', now: NOW, links: { runbook: 'https://wiki.example.com/runbook' } });
}

let lab: SmtpLab;

function emailConfig(over: { pass?: string; requireTls?: boolean; caFile?: string | false } = {}): EmailConfig {
  process.env.DIALER_AUDIT_TEST_SMTP_USER = USER;
  process.env.DIALER_AUDIT_TEST_SMTP_PASS = over.pass ?? PASS;
  const config = parseConfig({
    reporters: {
      email: {
        smtp: {
          host: '127.0.0.1',
          port: lab.port,
          user: 'env:DIALER_AUDIT_TEST_SMTP_USER',
          pass: 'env:DIALER_AUDIT_TEST_SMTP_PASS',
          requireTls: over.requireTls ?? true,
          ...(over.caFile === false ? {} : { caFile: over.caFile ?? lab.certificate.certFile }),
          timeout: '5s',
        },
        from: 'dialer-audit@example.com',
        to: ['voice-oncall@example.com', 'noc@example.com'],
      },
    },
  });
  return config.reporters!.email!;
}

beforeAll(async () => {
  lab = await startSmtpLab({ user: USER, pass: PASS });
});
afterAll(() => lab.close());
beforeEach(() => {
  lab.messages.length = 0;
  lab.refusedLogins.length = 0;
});

describe('email over SMTP', () => {
  it('delivers a multipart message over STARTTLS with AUTH whose text and HTML carry each finding and its first step', async () => {
    // Act
    await emailNotifier(emailConfig()).send(content());
    // Assess
    expect(lab.messages).toHaveLength(1);
    const [mail] = lab.messages;
    expect(mail).toMatchObject({ from: 'dialer-audit@example.com', to: ['voice-oncall@example.com', 'noc@example.com'], user: USER, secure: true });
    const { headers, parts } = parseMessage(mail.raw);
    expect(decodeHeader(headers.subject)).toBe('[dialer-audit] 1 critical: acme.dialer.example.com stale at google; 1 resolved');
    expect(headers['content-type']).toMatch(/^multipart\/alternative/);
    const text = parts.find((p) => p.headers['content-type'].startsWith('text/plain'))!.body;
    const html = parts.find((p) => p.headers['content-type'].startsWith('text/html'))!.body;
    for (const n of NOTICES) {
      expect(text).toContain(n.target);
      expect(text).toContain(n.code);
      expect(html).toContain(n.target);
      if (n.kind !== 'resolved') {
        expect(text).toContain(`First step: ${n.firstStep}`);
      }
    }
    expect(html).toContain('<strong>First step:</strong> Flush it sooner at https://developers.google.com/speed/public-dns/cache');
    expect(html).toContain('would set TTL 300 (was 86400) — “café” &lt;ok&gt; &amp; done');
    expect(text).toContain('RESOLVED  SIP_TIMEOUT  carrier-a');
  });

  it('also speaks implicit TLS (secure: true, as on port 465)', async () => {
    const tls = await startSmtpLab({ user: USER, pass: PASS, implicitTls: true });
    try {
      const base = emailConfig();
      await sendEmail(formatEmail(content()), { ...base, smtp: { ...base.smtp, port: tls.port, secure: true, caFile: tls.certificate.certFile } });
      expect(tls.messages.map((m) => [m.secure, m.user])).toEqual([[true, USER]]);
    } finally {
      await tls.close();
    }
  });

  it('refuses to send (or log in) when the server offers no STARTTLS and TLS is required', async () => {
    // Prepare: a server that hides STARTTLS
    const plain = await startSmtpLab({ user: USER, pass: PASS, starttls: false });
    try {
      const config = { ...emailConfig(), smtp: { ...emailConfig().smtp, port: plain.port } };
      // Act
      const error = await sendEmail(formatEmail(content()), config).catch((e: Error) => e);
      // Assess
      expect(String(error)).toMatch(/email via 127\.0\.0\.1:\d+ failed \(ETLS\): Error upgrading connection with STARTTLS/);
      expect(plain.messages).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  it('rejects a certificate it cannot verify unless told to trust it', async () => {
    const error = await sendEmail(formatEmail(content()), emailConfig({ caFile: false })).catch((e: Error) => e);
    expect(String(error)).toMatch(/failed.*(self[- ]signed|certificate)/i);
    expect(lab.messages).toEqual([]);
  });

  it('gives up when the run has no time left, even if the server never greets', async () => {
    // Prepare: a TCP server that accepts and says nothing
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const base = emailConfig();
    const config = { ...base, smtp: { ...base.smtp, port: (silent.address() as AddressInfo).port, timeout: 60_000 } };
    try {
      // Act
      const error = await sendEmail(formatEmail(content()), config, { signal: AbortSignal.timeout(300) }).catch((e: Error) => e);
      // Assess
      expect(String(error)).toMatch(/email via 127\.0\.0\.1:\d+ failed.*abort/i);
    } finally {
      silent.close();
    }
  });

  it('reports a wrong password without showing it', async () => {
    // Act
    const error = await sendEmail(formatEmail(content()), emailConfig({ pass: 'wrong-pass-Hq3Xr9' })).catch((e: Error) => e);
    // Assess
    expect(lab.refusedLogins).toEqual([USER]);
    expect(String(error)).toMatch(/email via 127\.0\.0\.1:\d+ failed \(EAUTH\)/);
    expect(String(error)).not.toContain('wrong-pass-Hq3Xr9');
    expect(String(error)).not.toContain(Buffer.from('wrong-pass-Hq3Xr9').toString('base64'));
  });
});
