/**
 * A local HTTP server standing in for Slack: an incoming webhook at any path, and the Web API's
 * chat.postMessage at /api/chat.postMessage. It refuses what Slack refuses (blocks over the
 * limits → 400 invalid_blocks) and can be told to answer 429 with Retry-After, 500, or anything.
 * Loopback only.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { slackLimitProblems, type SlackPayload } from '../../src/report/slack.ts';

export interface ReceivedRequest {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  payload?: SlackPayload & { channel?: string };
  /** The HTTP status it was answered with. */
  status?: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface SlackStandIn {
  url: string;
  /** The path part of a webhook URL, e.g. /services/T000/B000/secret. */
  webhook(path: string): string;
  requests: ReceivedRequest[];
  /** Answers to give, in order, before falling back to the default (200 ok / {ok:true}). */
  script: Answer[];
  /** Every request answered with this while set (e.g. Slack is down). */
  down?: Answer;
  /** Answer every request this much later (a slow Slack). */
  delayMs?: number;
  /** The bearer token chat.postMessage accepts. */
  botToken?: string;
  close(): Promise<void>;
}

export async function startSlackStandIn(): Promise<SlackStandIn> {
  const state: Omit<SlackStandIn, 'url' | 'webhook' | 'close'> = { requests: [], script: [] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let payload: ReceivedRequest['payload'];
      try {
        payload = JSON.parse(body);
      } catch {
        payload = undefined;
      }
      const path = req.url ?? '/';
      const received: ReceivedRequest = { path, headers: req.headers, body, payload };
      state.requests.push(received);
      res.on('finish', () => (received.status = res.statusCode));
      const answer = () => {
        const scripted = state.down ?? state.script.shift();
        if (scripted) {
          res.writeHead(scripted.status, scripted.headers ?? { 'content-type': 'text/plain' });
          return res.end(scripted.body ?? '');
        }
        const api = path === '/api/chat.postMessage';
        if (req.method !== 'POST' || !payload) {
          res.writeHead(400, { 'content-type': 'text/plain' });
          return res.end('invalid_payload');
        }
        const problems = slackLimitProblems(payload);
        if (api) {
          res.writeHead(200, { 'content-type': 'application/json' });
          if (req.headers.authorization !== `Bearer ${state.botToken}`) return res.end(JSON.stringify({ ok: false, error: 'invalid_auth' }));
          if (!payload.channel) return res.end(JSON.stringify({ ok: false, error: 'channel_not_found' }));
          return res.end(JSON.stringify(problems.length ? { ok: false, error: 'invalid_blocks' } : { ok: true, ts: '1.2' }));
        }
        if (problems.length) {
          res.writeHead(400, { 'content-type': 'text/plain' });
          return res.end('invalid_blocks');
        }
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      };
      if (state.delayMs) setTimeout(answer, state.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(state, {
    url,
    webhook: (path: string) => `${url}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
