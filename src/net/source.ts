// Reading a configuration source as text: a local file, or an http(s) URL (a dialer's own webphone
// config). Bounded in time and size, a few redirects at most; never throws. A local file must be a
// regular file no larger than the limit (checked before reading); a redirect is followed only to
// http(s), never from https down to http, and to another host only when the source lists it.
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readLocalFile, sizeWords } from './local-file.ts';

export interface SourceOptions {
  timeoutMs: number;
  signal: AbortSignal;
  maxBytes?: number;
  /** Accept any certificate (labs only). */
  insecureTls?: boolean;
  /** A PEM file of an extra CA to trust. */
  caFile?: string;
  /** Hosts a redirect may lead to besides the source's own: `cdn.example.net` or `*.example.net`. */
  redirectHosts?: string[];
}

/** A redirect that was not followed: where it came from, where it led, and why not. */
export interface RefusedRedirect {
  from: string;
  to: string;
  reason: 'not-a-url' | 'scheme' | 'downgrade' | 'other-host';
}

export type SourceText =
  | { ok: true; text: string; contentType?: string; finalUrl?: string }
  | { ok: false; detail: string; redirect?: RefusedRedirect };

const MAX_BYTES = 1024 * 1024;
const MAX_CA_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 3;

export function isUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** Whether `host` is the source's own host or matches one of `patterns` (exact, or `*.` + suffix). */
export function redirectHostAllowed(host: string, sourceHost: string, patterns: readonly string[] = []): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === sourceHost.toLowerCase().replace(/\.$/, '')) return true;
  return patterns.some((p) => {
    const pattern = p.toLowerCase().replace(/\.$/, '');
    return pattern.startsWith('*.') ? h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1 : h === pattern;
  });
}

/** Where a redirect leads, or why it is not followed. */
function followRedirect(from: URL, location: string, source: URL, opts: SourceOptions): { ok: true; url: URL } | { ok: false; detail: string; redirect: RefusedRedirect } {
  const refuse = (to: string, reason: RefusedRedirect['reason'], why: string) => ({ ok: false as const, detail: `${from} redirects to ${to}: ${why}`, redirect: { from: from.toString(), to, reason } });
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return refuse(JSON.stringify(location.slice(0, 200)), 'not-a-url', 'not a URL; not followed');
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') return refuse(next.toString().slice(0, 200), 'scheme', `only http and https redirects are followed, not ${next.protocol}`);
  if (from.protocol === 'https:' && next.protocol === 'http:') return refuse(next.toString(), 'downgrade', 'from https down to plain http; not followed');
  if (!redirectHostAllowed(next.hostname, source.hostname, opts.redirectHosts)) {
    return refuse(next.toString(), 'other-host', `another host (${next.hostname}), not listed in this source's redirectHosts; not followed`);
  }
  return { ok: true, url: next };
}

export async function readSource(location: string, opts: SourceOptions): Promise<SourceText> {
  const maxBytes = opts.maxBytes ?? MAX_BYTES;
  if (!isUrl(location)) {
    const read = await readLocalFile(location, maxBytes);
    if (read.ok) return { ok: true, text: read.bytes.toString('utf8') };
    if (read.reason === 'cannot-open' && read.code === 'ENOENT') return { ok: false, detail: `${location} does not exist` };
    return { ok: false, detail: read.reason === 'not-regular' || read.reason === 'too-big' ? `${location} is ${read.detail}` : `cannot read ${location}: ${read.detail}` };
  }
  let source: URL;
  try {
    source = new URL(location);
  } catch {
    return { ok: false, detail: `${location} is not a URL` };
  }
  let ca: string | undefined;
  if (opts.caFile) {
    const read = await readLocalFile(opts.caFile, MAX_CA_BYTES);
    if (!read.ok) return { ok: false, detail: `cannot read the CA file ${opts.caFile}: ${read.detail}` };
    ca = read.bytes.toString('utf8');
  }
  let url = source;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const r = await getOnce(url, opts, ca, maxBytes);
    if (r.kind === 'redirect') {
      const next = followRedirect(url, r.location, source, opts);
      if (!next.ok) return next;
      url = next.url;
      continue;
    }
    if (r.kind === 'error') return { ok: false, detail: r.detail };
    return { ok: true, text: r.text, contentType: r.contentType, finalUrl: url === source ? undefined : url.toString() };
  }
  return { ok: false, detail: `more than ${MAX_REDIRECTS} redirects from ${location}` };
}

type Got = { kind: 'body'; text: string; contentType?: string } | { kind: 'redirect'; location: string } | { kind: 'error'; detail: string };

function getOnce(url: URL, opts: SourceOptions, ca: string | undefined, maxBytes: number): Promise<Got> {
  return new Promise((resolve) => {
    const secure = url.protocol === 'https:';
    let settled = false;
    let req: http.ClientRequest | undefined;
    const settle = (g: Got) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      req?.destroy();
      resolve(g);
    };
    const onAbort = () => settle({ kind: 'error', detail: 'the run budget was spent' });
    const timer = setTimeout(() => settle({ kind: 'error', detail: `${url} did not answer within ${opts.timeoutMs} ms` }), opts.timeoutMs);
    opts.signal.addEventListener('abort', onAbort, { once: true });
    const options: https.RequestOptions = {
      method: 'GET',
      headers: { accept: 'application/json, application/javascript, text/plain, */*', 'user-agent': 'dialer-audit' },
      ...(secure ? { rejectUnauthorized: !opts.insecureTls, ca: ca ? [...tls.rootCertificates, ca] : undefined } : {}),
    };
    try {
      req = (secure ? https : http).request(url, options, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          return settle({ kind: 'redirect', location: res.headers.location });
        }
        if (status !== 200) {
          res.resume();
          return settle({ kind: 'error', detail: `${url} answered HTTP ${status}` });
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) return settle({ kind: 'error', detail: `${url} is ${sizeWords(declared)}, over the limit of ${sizeWords(maxBytes)}` });
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) return settle({ kind: 'error', detail: `${url} is larger than ${sizeWords(maxBytes)}` });
          chunks.push(c);
        });
        res.on('end', () => settle({ kind: 'body', text: Buffer.concat(chunks).toString('utf8'), contentType: res.headers['content-type'] }));
        res.on('error', (err) => settle({ kind: 'error', detail: `${url}: ${err.message}` }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => settle({ kind: 'error', detail: `${url}: ${err.code ?? err.message}` }));
      req.end();
    } catch (err) {
      // http.request throws at once for what it cannot send (a bad host, a header it refuses).
      settle({ kind: 'error', detail: `${url}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
  });
}
