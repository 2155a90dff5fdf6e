// The daemon's /healthz: a tiny HTTP server (loopback by default) that says when the last run
// finished and how it went, for a systemd watchdog script, a load balancer or a Kubernetes probe.
// It also serves the latest status page at /status (the same self-contained HTML reporters.html writes).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthStatus {
  /** false → 503: the last run could not happen (internal failure). Findings do not make it unhealthy. */
  healthy: boolean;
  body: Record<string, unknown>;
}

export interface HealthServer {
  url: string;
  close(): Promise<void>;
}

/** The page's own policy again as a header: nothing but its inline CSS may load. */
const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export async function startHealthServer(address: string, port: number, status: () => HealthStatus, statusPage?: () => string | undefined): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/status' && statusPage) {
      const page = statusPage();
      if (page === undefined) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '60', 'cache-control': 'no-store' }).end('no run has finished yet: the status page appears after the first run\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': PAGE_POLICY, 'x-content-type-options': 'nosniff' });
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    if (path !== '/healthz') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found; try /healthz${statusPage ? ' or /status' : ''}\n`);
      return;
    }
    const s = status();
    const body = JSON.stringify(s.body) + '\n';
    res.writeHead(s.healthy ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A probe must not keep a stopping daemon alive.
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    url: `http://${host}:${bound.port}/healthz`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
