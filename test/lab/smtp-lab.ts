/**
 * A real SMTP server for tests (smtp-server from npm) on 127.0.0.1: STARTTLS with a certificate
 * made by the openssl CLI for this test, AUTH PLAIN/LOGIN (refused before STARTTLS, as real
 * servers do), and every accepted message kept raw. Plus a small MIME reader for the assertions.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';

const run = promisify(execFile);

export interface Certificate {
  dir: string;
  certFile: string;
  cert: string;
  key: string;
}

/** A self-signed certificate for localhost / 127.0.0.1, valid for a day. */
export async function makeCertificate(): Promise<Certificate> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dialer-audit-smtp-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { dir, certFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
}

export interface ReceivedMail {
  from: string;
  to: string[];
  user: string;
  /** True when the session ran over TLS (STARTTLS or implicit TLS). */
  secure: boolean;
  raw: string;
}

export interface SmtpLab {
  port: number;
  certificate: Certificate;
  messages: ReceivedMail[];
  /** Failed AUTH attempts (user names only). */
  refusedLogins: string[];
  /**
   * While true, every AUTH is refused with a 535 that echoes what the client sent (the PLAIN blob
   * "\0user\0pass" in base64 and in hex), as careless or hostile servers do.
   */
  echoRefusals: boolean;
  close(): Promise<void>;
}

export async function startSmtpLab(opts: { user: string; pass: string; starttls?: boolean; implicitTls?: boolean }): Promise<SmtpLab> {
  const certificate = await makeCertificate();
  const messages: ReceivedMail[] = [];
  const refusedLogins: string[] = [];
  const control = { echoRefusals: false };
  const server = new SMTPServer({
    secure: opts.implicitTls ?? false,
    key: certificate.key,
    cert: certificate.cert,
    ...(opts.starttls === false ? { hideSTARTTLS: true, disabledCommands: ['STARTTLS'] } : {}),
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (control.echoRefusals) {
        const blob = Buffer.from(`\0${auth.username ?? ''}\0${auth.password ?? ''}`);
        refusedLogins.push(auth.username ?? '');
        return callback(Object.assign(new Error(`5.7.8 Authentication failed for AUTH PLAIN ${blob.toString('base64')} (hex ${blob.toString('hex')})`), { responseCode: 535 }));
      }
      if (auth.username === opts.user && auth.password === opts.pass) return callback(null, { user: auth.username });
      refusedLogins.push(auth.username ?? '');
      callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: String(session.user ?? ''),
          secure: session.secure,
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return Object.assign(control, {
    port,
    certificate,
    messages,
    refusedLogins,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(certificate.dir, { recursive: true, force: true });
    },
  });
}

export interface MimePart {
  headers: Record<string, string>;
  body: string;
}

function splitHeaders(text: string): { headers: Record<string, string>; body: string } {
  const at = text.indexOf('\r\n\r\n');
  const head = at < 0 ? text : text.slice(0, at);
  const body = at < 0 ? '' : text.slice(at + 4);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function decode(body: string, encoding: string | undefined): string {
  if (encoding?.toLowerCase() === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding?.toLowerCase() === 'quoted-printable') {
    const soft = body.replace(/=\r?\n/g, '');
    const bytes: number[] = [];
    for (let i = 0; i < soft.length; i++) {
      const hex = soft.slice(i + 1, i + 3);
      if (soft[i] === '=' && /^[0-9A-F]{2}$/i.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else bytes.push(...Buffer.from(soft[i], 'utf8'));
    }
    return Buffer.from(bytes).toString('utf8');
  }
  return body;
}

/** The top-level headers and the decoded leaf parts of a (multipart) message. */
export function parseMessage(raw: string): { headers: Record<string, string>; parts: MimePart[] } {
  const top = splitHeaders(raw);
  const parts: MimePart[] = [];
  const walk = (headers: Record<string, string>, body: string) => {
    const type = headers['content-type'] ?? 'text/plain';
    const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
    if (type.toLowerCase().startsWith('multipart/') && boundary) {
      const sections = body.split(`--${boundary}`).slice(1);
      for (const section of sections) {
        if (section.startsWith('--')) break;
        const inner = splitHeaders(section.replace(/^\r\n/, ''));
        walk(inner.headers, inner.body.replace(/\r\n$/, ''));
      }
    } else {
      parts.push({ headers, body: decode(body, headers['content-transfer-encoding']) });
    }
  };
  walk(top.headers, top.body);
  return { headers: top.headers, parts };
}

/** RFC 2047 encoded words in a header, decoded (nodemailer encodes non-ASCII subjects). */
export function decodeHeader(value: string): string {
  return value.replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_m, kind: string, text: string) =>
    kind.toLowerCase() === 'b' ? Buffer.from(text, 'base64').toString('utf8') : decode(text.replace(/_/g, ' '), 'quoted-printable'),
  );
}
