// turn-allocate: can a webphone behind a strict NAT still get audio? Allocate a relay with the
// configured credentials, prove it forwards (a round trip through the relay back to ourselves), and
// release it at once (Refresh with LIFETIME 0). Credentials never leave src/net/stun.ts.
import { z } from 'zod';
import type { StunServerConfig } from '../src/config-schema.ts';
import { formatTransportAddress } from '../src/stun/codec.ts';
import { STUN_CODES } from '../src/stun/codes.ts';
import { resolveServerName, serverToProbe, stunClientOf, type ResolvedAddress, type ServerToProbe } from '../src/stun/probe.ts';
import { probeParamShape } from '../src/stun/params.ts';
import { formatIceUri, withTransport, type StunTransport } from '../src/stun/uri.ts';
import { turnClientCommand } from '../src/stun/reference-clients.ts';
import type { TurnCredentials, TurnProbeOutcome } from '../src/net/stun.ts';
import type { Check, CodeDoc, Finding, Target } from '../src/types.ts';

const ID = 'turn-allocate';

const params = z.strictObject({
  ...probeParamShape,
  maxAddresses: z.number().int().min(1).max(16).default(4),
});
type Params = z.output<typeof params>;

const codes = {
  STUN_DNS_MISMATCH: STUN_CODES.STUN_DNS_MISMATCH,
  STUN_NO_ADDRESS: STUN_CODES.STUN_NO_ADDRESS,
  TURN_AUTH_FAILED: {
    severity: 'critical',
    meaning: 'The TURN server refused our credentials (401/441), or asks for credentials the config does not have: webphones using the same credentials get no relay candidate.',
    firstStep: 'Compare the username/secret with the server (coturn: `turnadmin -l` for users, static-auth-secret and realm for use-auth-secret); for REST credentials check both clocks (the expiry is in the username).',
  },
  TURN_ALLOCATE_FAILED: {
    severity: 'critical',
    meaning: 'The TURN server answered the authenticated Allocate with an error (quota, capacity, forbidden, unsupported transport), an unusable response, or the TLS handshake failed.',
    firstStep: "Read the error code in the message (486: allocation quota, 508: out of relay ports, 403: forbidden) and the server's log for this moment; check its relay port range and quotas.",
  },
  TURN_RELAY_FAILED: {
    severity: 'critical',
    meaning: 'An allocation was granted but data sent through the relay did not come back (CreatePermission refused or the relay does not forward): relayed calls have no audio.',
    firstStep: "Check the relay side of the server: relay-ip/external-ip (behind NAT coturn needs external-ip=PUBLIC/PRIVATE), the relay port range open in the firewall, and denied-peer-ip rules.",
  },
  TURN_TIMEOUT: {
    severity: 'critical',
    meaning: 'The TURN server did not answer the Allocate within the budget (or refused the connection): no relay for webphones behind strict NATs.',
    firstStep: 'From this host run `turnutils_uclient -y -n 1 -u USER -w PASS -p PORT ADDRESS` (add -t for TCP, -t -S for TLS); check that the server runs and the port is open.',
  },
  TURN_UNAUTHENTICATED: {
    severity: 'warning',
    meaning: 'The TURN server granted an allocation without asking for credentials: anyone can relay traffic through it (and through your bandwidth).',
    firstStep: 'Enable authentication on the server (coturn: lt-cred-mech or use-auth-secret, and remove no-auth); then configure credentials here.',
  },
  TURN_RELEASE_FAILED: {
    severity: 'info',
    meaning: 'The test allocation could not be released with Refresh LIFETIME 0; it holds a relay port until its lifetime (usually 10 minutes) ends.',
    firstStep: "Nothing breaks now; if it repeats, read the server's log for the Refresh (a 437 means it was already gone, a 438 loop means nonce trouble).",
  },
} satisfies Record<string, CodeDoc>;
type TurnCode = Exclude<keyof typeof codes, 'STUN_DNS_MISMATCH' | 'STUN_NO_ADDRESS'>;

interface TurnTarget extends Target {
  data: { server: ServerToProbe; credentials?: TurnCredentials; index: number };
}

function credentialsOf(s: StunServerConfig): TurnCredentials | undefined {
  if (s.sharedSecret) return { kind: 'rest', sharedSecret: s.sharedSecret, user: s.restUser, ttlSeconds: s.restTtl / 1000 };
  if (s.username && s.credential) return { kind: 'long-term', username: s.username, password: s.credential };
  return undefined;
}

interface Result {
  address: ResolvedAddress;
  transport: StunTransport;
  port: number;
  outcome: TurnProbeOutcome;
}

function codeOf(o: TurnProbeOutcome): TurnCode | undefined {
  const f = o.failure;
  if (!f) return o.unauthenticated ? 'TURN_UNAUTHENTICATED' : undefined;
  if (f.kind === 'aborted') return undefined;
  if (f.kind === 'auth') return 'TURN_AUTH_FAILED';
  if (f.stage === 'permission' || f.stage === 'relay') return 'TURN_RELAY_FAILED';
  if (f.kind === 'timeout' || f.kind === 'refused' || f.kind === 'closed') return 'TURN_TIMEOUT';
  return 'TURN_ALLOCATE_FAILED';
}

const ms = (n: number | undefined) => (n === undefined ? undefined : Math.round(n * 10) / 10);

function evidenceOf(r: Result): Record<string, unknown> {
  const o = r.outcome;
  return {
    address: formatTransportAddress({ address: r.address.address, port: r.port, family: r.address.family }),
    seenBy: r.address.seenBy,
    stage: o.failure?.stage,
    failure: o.failure?.kind,
    detail: o.failure?.detail,
    errorCode: o.failure?.errorCode,
    realm: o.realm,
    relayed: o.relayed ? formatTransportAddress(o.relayed) : undefined,
    mapped: o.mapped ? formatTransportAddress(o.mapped) : undefined,
    lifetime: o.lifetime,
    timingsMs: { connect: ms(o.timings.connectMs), allocate: ms(o.timings.allocateMs), permission: ms(o.timings.permissionMs), relay: ms(o.timings.relayMs) },
    retransmissions: o.retransmissions,
    staleNonces: o.staleNonces,
    release: o.release,
  };
}

function findingFor(target: TurnTarget, code: TurnCode, transport: StunTransport, results: Result[]): Finding {
  const server = target.data.server;
  const uriText = formatIceUri(withTransport(server.uri, transport, server.tlsPort));
  const where = results.map((r) => formatTransportAddress({ address: r.address.address, port: r.port, family: r.address.family }));
  const whereText = server.uri.hostKind === 'name' ? ` at ${where.join(', ')}` : '';
  const first = results[0].outcome;
  const detail = first.failure?.detail ?? '';
  const cfg = `stun.servers[${target.data.index}]`;
  const [host, port] = [results[0].address.address, results[0].port];
  const base = { check: ID, target: uriText, code, severity: codes[code].severity, evidence: { server: uriText, transport, results: results.map(evidenceOf) } };
  switch (code) {
    case 'TURN_AUTH_FAILED': {
      const missing = !target.data.credentials;
      return {
        ...base,
        message: `${uriText}: ${missing ? 'the server asks for credentials and none are configured' : detail}${first.realm ? ` (realm "${first.realm}")` : ''}${whereText}`,
        firstStep: missing
          ? `Add username + credential (env: secrets) or sharedSecret to ${cfg} in the config.`
          : target.data.credentials?.kind === 'rest'
            ? `Check that ${cfg}.sharedSecret equals the server's static-auth-secret${first.realm ? ` for realm "${first.realm}"` : ''} and that this host's clock is right (the expiry is in the username).`
            : `Check the user and password of ${cfg} against the server${first.realm ? ` (realm "${first.realm}")` : ''}, e.g. coturn \`turnadmin -l\`; rotate them in the webphone config too if they changed.`,
      };
    }
    case 'TURN_TIMEOUT':
      return {
        ...base,
        message: `${uriText} did not answer the Allocate over ${transport.toUpperCase()}${whereText}: ${detail}`,
        firstStep: `From this host run \`${turnClientCommand(transport, host, port)}\` (USER and PASS from ${cfg}); check that the server runs and ${transport === 'udp' ? 'udp' : 'tcp'}/${port} is open in its firewall / security group.`,
      };
    case 'TURN_ALLOCATE_FAILED': {
      const ec = first.failure?.errorCode;
      const hint =
        ec === 486 ? 'the allocation quota is used up: raise user-quota/total-quota or look for leaked allocations' :
        ec === 508 ? 'the server is out of relay ports: widen min-port/max-port or add capacity' :
        ec === 403 ? 'the server forbids this client: check its allowed/denied address rules' :
        ec === 442 ? 'the server does not relay UDP: enable the UDP relay' :
        first.failure?.kind === 'tls' ? `fix the certificate (\`openssl s_client -connect ${host}:${port}\`)` :
        "read the server's log for this allocation";
      return {
        ...base,
        message: `${uriText}: the allocation failed${first.failure?.stage === 'connect' ? ' before it started' : ''}: ${detail}${whereText}`,
        firstStep: `On ${server.uri.host}: ${hint}.`,
      };
    }
    case 'TURN_RELAY_FAILED':
      return {
        ...base,
        message: `${uriText} granted a relay${first.relayed ? ` (${formatTransportAddress(first.relayed)})` : ''} but ${first.failure?.stage === 'permission' ? `refused the permission: ${detail}` : detail}${whereText}`,
        firstStep: `Check the relay side of ${server.uri.host}: that the relayed address ${first.relayed ? formatTransportAddress(first.relayed) : ''} is reachable (external-ip behind NAT), its relay port range is open, and no denied-peer-ip rule covers it.`,
      };
    case 'TURN_UNAUTHENTICATED':
      return {
        ...base,
        message: `${uriText} granted a relay without asking for credentials${whereText}: it is an open relay`,
        firstStep: `Turn on authentication on ${server.uri.host} (coturn: lt-cred-mech or use-auth-secret, no no-auth) and configure credentials in ${cfg}.`,
      };
    case 'TURN_RELEASE_FAILED':
      return {
        ...base,
        message: `${uriText}: the test allocation was not released: ${first.release?.detail ?? ''}${whereText}`,
        firstStep: `Nothing breaks now (it expires after ${first.lifetime ?? 600} s); if it repeats, read ${server.uri.host}'s log for the Refresh request.`,
      };
  }
}

export const turnAllocate: Check<Params, TurnTarget> = {
  id: ID,
  description: 'Allocates a TURN relay with the configured credentials on every address and transport, sends data through it back to itself, and releases it.',
  params,
  codes,
  targets(_inventory, _p, config) {
    const out: TurnTarget[] = [];
    (config.stun?.servers ?? []).forEach((s, index) => {
      const server = serverToProbe(s);
      if (!server || !server.uri.isTurn) return;
      out.push({ name: formatIceUri(server.uri), data: { server, credentials: credentialsOf(s), index } });
    });
    return out;
  },
  async run(target, p, ctx) {
    const { server, credentials } = target.data;
    const resolved = await resolveServerName(ctx, ID, server.uri.host, p.recordTypes, target.name);
    // Name problems are stun-binding's to report; without it enabled they would go unseen, so they come from here.
    const nameFindings = ctx.config.checks['stun-binding'] === undefined ? resolved.findings : [];
    const addresses = resolved.addresses.slice(0, p.maxAddresses);
    const client = stunClientOf(ctx);
    const results: Result[] = await Promise.all(
      addresses.flatMap((address) =>
        server.transports.map(async (transport): Promise<Result> => {
          const u = withTransport(server.uri, transport, server.tlsPort);
          const outcome = await client.turn({
            server: { host: address.address, port: u.port, family: address.family },
            transport,
            tls: { ...server.tls, servername: server.tls.servername ?? (server.uri.hostKind === 'name' ? server.uri.host : undefined) },
            credentials,
            budget: { timeoutMs: p.timeout, rtoMs: p.rto, deadline: ctx.deadline, signal: ctx.signal },
          });
          return { address, transport, port: u.port, outcome };
        }),
      ),
    );
    const groups = new Map<string, { code: TurnCode; transport: StunTransport; results: Result[] }>();
    const note = (code: TurnCode, r: Result) => {
      const key = `${code}|${r.transport}`;
      const g = groups.get(key) ?? { code, transport: r.transport, results: [] };
      g.results.push(r);
      groups.set(key, g);
    };
    for (const r of results) {
      const o = r.outcome;
      if (o.failure?.kind === 'aborted') continue;
      const labels = { transport: r.transport, address: formatTransportAddress({ address: r.address.address, port: r.port, family: r.address.family }) };
      const metricTarget = formatIceUri(withTransport(server.uri, r.transport, server.tlsPort));
      ctx.measure({ metric: 'up', value: o.ok ? 1 : 0, target: metricTarget, labels });
      ctx.measure({ metric: 'retransmissions', value: o.retransmissions, target: metricTarget, labels });
      if (o.timings.allocateMs !== undefined) ctx.measure({ metric: 'rtt_seconds', value: o.timings.allocateMs / 1000, target: metricTarget, labels: { ...labels, step: 'allocate' } });
      if (o.timings.relayMs !== undefined) ctx.measure({ metric: 'rtt_seconds', value: o.timings.relayMs / 1000, target: metricTarget, labels: { ...labels, step: 'relay' } });
      const code = codeOf(o);
      if (code) note(code, r);
      if (o.release && !o.release.ok) note('TURN_RELEASE_FAILED', r);
    }
    return [...nameFindings, ...[...groups.values()].map((g) => findingFor(target, g.code, g.transport, g.results))];
  },
};
