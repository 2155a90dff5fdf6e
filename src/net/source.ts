// Reading a configuration source as text: a local file, or an http(s) URL (a dialer's own webphone
// config). Bounded in time and size, a few redirects at most; never throws.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export interface SourceOptions {
  timeoutMs: number;
  signal: AbortSignal;
  maxBytes?: number;
  /** Accept any certificate (labs only). */
  insecureTls?: boolean;
  /** A PEM file of an extra CA to trust. */
  caFile?: string;
}

export type SourceText = { ok: true; text: string; contentType?: string; finalUrl?: string } | { ok: false; detail: string };

const MAX_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 3;

export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

export async function readSource(location: string, opts: SourceOptions): Promise<SourceText> {
  if (!isUrl(location)) {
    try {
      const text = await readFile(location, { encoding: 'utf8', signal: opts.signal });
      if (text.length > (opts.maxBytes ?? MAX_BYTES)) return { ok: false, detail: `${location} is larger than ${opts.maxBytes ?? MAX_BYTES} bytes` };
      return { ok: true, text };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return { ok: false, detail: e.code === 'ENOENT' ? `${location} does not exist` : `cannot read ${location}: ${e.code ?? e.message}` };
    }
  }
  let ca: string | undefined;
  try {
    ca = opts.caFile ? readFileSync(opts.caFile, 'utf8') : undefined;
  } catch (err) {
    return { ok: false, detail: `cannot read the CA file ${opts.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  let url = location;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const r = await getOnce(url, opts, ca);
    if (r.kind === 'redirect') {
      url = new URL(r.location, url).toString();
      continue;
    }
    if (r.kind === 'error') return { ok: false, detail: r.detail };
    return { ok: true, text: r.text, contentType: r.contentType, finalUrl: url === location ? undefined : url };
  }
  return { ok: false, detail: `more than ${MAX_REDIRECTS} redirects from ${location}` };
}

type Got = { kind: 'body'; text: string; contentType?: string } | { kind: 'redirect'; location: string } | { kind: 'error'; detail: string };

function getOnce(url: string, opts: SourceOptions, ca: string | undefined): Promise<Got> {
  return new Promise((resolve) => {
    const secure = url.toLowerCase().startsWith('https:');
    const maxBytes = opts.maxBytes ?? MAX_BYTES;
    let settled = false;
    const settle = (g: Got) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(g);
    };
    const onAbort = () => settle({ kind: 'error', detail: 'the run budget was spent' });
    const options: https.RequestOptions = {
      method: 'GET',
      headers: { accept: 'application/json, application/javascript, text/plain, */*', 'user-agent': 'dialer-audit' },
      ...(secure ? { rejectUnauthorized: !opts.insecureTls, ca: ca ? [...tls.rootCertificates, ca] : undefined } : {}),
    };
    const req = (secure ? https : http).request(url, options, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        return settle({ kind: 'redirect', location: res.headers.location });
      }
      if (status !== 200) {
        res.resume();
        return settle({ kind: 'error', detail: `${url} answered HTTP ${status}` });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) return settle({ kind: 'error', detail: `${url} is larger than ${maxBytes} bytes` });
        chunks.push(c);
      });
      res.on('end', () => settle({ kind: 'body', text: Buffer.concat(chunks).toString('utf8'), contentType: res.headers['content-type'] }));
      res.on('error', (err) => settle({ kind: 'error', detail: `${url}: ${err.message}` }));
    });
    const timer = setTimeout(() => settle({ kind: 'error', detail: `${url} did not answer within ${opts.timeoutMs} ms` }), opts.timeoutMs);
    opts.signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err: NodeJS.ErrnoException) => settle({ kind: 'error', detail: `${url}: ${err.code ?? err.message}` }));
    req.end();
  });
}
