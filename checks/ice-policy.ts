// ice-policy: which STUN/TURN servers does the fleet really hand to webphones and Asterisk? In 2020 the
// webphones and the Asterisk backend quietly used Google's default STUN server and nobody could see it.
// Reads the fleet's own ICE configuration (files or each dialer's URL), flags servers that are not
// allowed (file and line, and what to put there instead), and probes the ones that are.
import { z } from 'zod';
import { ICE_CODES, disallowedFinding, iceFinding, type Location } from '../src/ice/findings.ts';
import { judgeServer, type IcePolicy, type PolicyVerdict } from '../src/ice/policy.ts';
import { detectFormat, parseIceSource, type IceFormat, type IceServerRef } from '../src/ice/sources.ts';
import { readSource } from '../src/net/source.ts';
import { STUN_CODES } from '../src/stun/codes.ts';
import { probeStunServer } from '../src/stun/probe.ts';
import { durationParam, probeParamShape } from '../src/stun/params.ts';
import { DEFAULT_TLS_PORT, formatIceUri, parseIceUri, type IceUri } from '../src/stun/uri.ts';
import type { Config } from '../src/config-schema.ts';
import type { Check, CheckContext, Finding, Target } from '../src/types.ts';

const ID = 'ice-policy';
const DIALER_PLACEHOLDER = '{dialer}';

const sourceSpec = z.union([
  z.string().min(1),
  z.strictObject({
    /** A file path or an http(s) URL; `{dialer}` makes it one source per dialer. */
    source: z.string().min(1),
    /** When the name does not tell: webphone (JSON/JS) or asterisk (rtp.conf-style INI). */
    format: z.enum(['webphone', 'asterisk']).optional(),
    /** Hosts a redirect from this URL may lead to (`cdn.example.net`, `*.example.net`); others are a finding. */
    redirectHosts: z.array(z.string().regex(/^(\*\.)?[A-Za-z0-9_.-]+$/, 'expected a host name, or *. and a domain')).optional(),
  }),
]);

const params = z.strictObject({
  sources: z.array(sourceSpec).min(1),
  /** A webphone configuration without a TURN server is ICE_NO_TURN. */
  requireTurn: z.boolean().default(true),
  /** Send a Binding request to the servers found: allowed ones (default), all, or none. Configured stun.servers are stun-binding's. */
  probe: z.enum(['allowed', 'all', 'none']).default('allowed'),
  ...probeParamShape,
  slowAfter: durationParam.default(500),
  /** For https sources and stuns:/turns: probes in a lab: accept any certificate, or trust this CA file. */
  insecureTls: z.boolean().default(false),
  caFile: z.string().optional(),
});
type Params = z.output<typeof params>;

/** ice-policy's own codes, plus the STUN probe codes for the servers it finds and probes. */
const codes = { ...ICE_CODES, ...STUN_CODES };

interface SourceToRead {
  /** File path or URL, with {dialer} filled in. */
  location: string;
  format?: IceFormat;
  redirectHosts?: string[];
}

interface IceTarget extends Target {
  data: { dialer?: string; sources: SourceToRead[] };
}

function policyOf(config: Config): IcePolicy {
  const configured = (config.stun?.servers ?? []).flatMap((s) => {
    const p = parseIceUri(s.uri);
    return p.ok ? [p.uri] : [];
  });
  return { allow: config.stun?.allow ?? [], deny: config.stun?.deny ?? [], denyPublicDefaults: config.stun?.denyPublicDefaults ?? true, configured };
}

async function readOne(src: SourceToRead, p: Params, ctx: CheckContext) {
  const read = await readSource(src.location, { timeoutMs: p.timeout, signal: ctx.signal, insecureTls: p.insecureTls, caFile: p.caFile, redirectHosts: src.redirectHosts });
  if (!read.ok) return { src, ok: false as const, detail: read.detail, redirect: read.redirect };
  const format = src.format ?? detectFormat(src.location, read.contentType);
  return { src, ok: true as const, format, parsed: parseIceSource(read.text, format, src.location) };
}

export const icePolicy: Check<Params, IceTarget> = {
  id: ID,
  description: 'Reads the ICE servers webphones and Asterisk really use (JSON/JS configs, rtp.conf, pjsip.conf, res_stun_monitor.conf; per dialer via {dialer} URLs), flags disallowed ones and probes the rest.',
  params,
  codes,
  *targets(inventory, p) {
    const specs = p.sources.map((s) => (typeof s === 'string' ? { location: s } : { location: s.source, format: s.format, redirectHosts: s.redirectHosts }));
    const fixed = specs.filter((s) => !s.location.includes(DIALER_PLACEHOLDER));
    const templated = specs.filter((s) => s.location.includes(DIALER_PLACEHOLDER));
    for (const s of fixed) yield { name: s.location, data: { sources: [s] } };
    if (templated.length > 0) {
      for (const dialer of inventory.dialers) {
        yield { name: dialer, data: { dialer, sources: templated.map((s) => ({ ...s, location: s.location.split(DIALER_PLACEHOLDER).join(dialer) })) } };
      }
    }
  },
  async run(target, p, ctx) {
    const policy = policyOf(ctx.config);
    const dialer = target.data.dialer;
    const findings: Finding[] = [];
    const reads = await Promise.all(target.data.sources.map((s) => readOne(s, p, ctx)));
    const found: { ref: IceServerRef; loc: Location }[] = [];
    let webphoneSources = 0;
    let webphoneTurn = false;

    for (const r of reads) {
      const where = dialer ?? r.src.location;
      if (!r.ok) {
        if (ctx.signal.aborted) continue;
        const step =
          r.redirect?.reason === 'other-host'
            ? `If ${new URL(r.redirect.to).hostname} serves this configuration on purpose, list it under redirectHosts of this source in checks.ice-policy.sources; otherwise find out why ${r.redirect.from} sends webphones there.`
            : `Open it yourself (${/^https?:/i.test(r.src.location) ? `curl -v ${r.src.location}` : `ls -l ${r.src.location}`}); fix the path or URL in checks.ice-policy.sources, or the server that should serve it.`;
        findings.push(iceFinding(where, 'ICE_SOURCE_UNREADABLE', `${dialer ? `${dialer}: ` : ''}cannot read the ICE configuration ${r.src.location}: ${r.detail}`, step, {
          evidence: { source: r.src.location, detail: r.detail, ...(r.redirect ? { redirectedFrom: r.redirect.from, redirectedTo: r.redirect.to } : {}) },
        }));
        continue;
      }
      for (const problem of r.parsed.problems) {
        if (problem.text.startsWith('not valid JSON')) {
          findings.push(iceFinding(where, 'ICE_SOURCE_UNREADABLE', `${r.src.location}: ${problem.text}; a webphone loading it fails too`, `Validate it (\`jq . ${r.src.location}\` or python3 -m json.tool) and fix the syntax error it points at.`, {
            evidence: { source: r.src.location, detail: problem.text },
          }));
        } else if (!problem.text.startsWith('a URI built at run time')) {
          findings.push(iceFinding(where, 'ICE_BAD_URI', `${r.src.location} line ${problem.line}: ${problem.text}`, `Fix the URL in ${r.src.location} line ${problem.line} to stun:host:port, turn:host:port?transport=udp|tcp or turns:host:port.`, {
            evidence: { source: r.src.location, file: r.src.location, line: problem.line, detail: problem.text },
          }));
        }
      }
      if (r.format === 'webphone') {
        webphoneSources++;
        if (r.parsed.servers.some((s) => s.uri.isTurn)) webphoneTurn = true;
      }
      for (const ref of r.parsed.servers) found.push({ ref, loc: { source: r.src.location, line: ref.line, raw: ref.raw, key: ref.key, format: r.format } });
    }

    // Disallowed servers, grouped by server.
    const disallowed = new Map<string, { uri: IceUri; verdict: Extract<PolicyVerdict, { allowed: false }>; locations: Location[] }>();
    const allowed = new Map<string, IceUri>();
    const everyServer = new Map<string, IceUri>();
    for (const { ref, loc } of found) {
      const key = formatIceUri(ref.uri);
      everyServer.set(key, ref.uri);
      const verdict = judgeServer(ref.uri, policy);
      if (verdict.allowed) {
        allowed.set(key, ref.uri);
        continue;
      }
      const entry = disallowed.get(key) ?? { uri: ref.uri, verdict, locations: [] };
      entry.locations.push(loc);
      disallowed.set(key, entry);
    }
    if (dialer && disallowed.size > 0) findings.push(disallowedFinding(dialer, [...disallowed.values()], policy, dialer));
    if (!dialer) for (const [key, d] of disallowed) findings.push(disallowedFinding(key, [d], policy));

    if (p.requireTurn && webphoneSources > 0 && !webphoneTurn) {
      const sources = reads.filter((r) => r.ok && r.format === 'webphone').map((r) => r.src.location);
      const turn = policy.configured.find((c) => c.isTurn);
      findings.push(iceFinding(dialer ?? target.name, 'ICE_NO_TURN', `${dialer ? `${dialer}'s webphone configuration` : sources.join(', ')} has no TURN server: agents behind symmetric NATs or UDP-blocking firewalls get no audio`, `Add a TURN server to the iceServers in ${sources.join(', ')}${turn ? ` (e.g. { urls: "${formatIceUri(turn)}", username, credential } with REST credentials)` : ' (turn:…:3478?transport=udp plus turns:…:5349, with REST credentials)'}, then redeploy the webphone.`, {
        evidence: { sources, servers: [...everyServer.keys()] },
      }));
    }

    // Probe what was found (a server in stun.servers is stun-binding's to probe).
    if (p.probe !== 'none') {
      const toProbe = [...(p.probe === 'all' ? everyServer : allowed).values()].filter((u) => !policy.configured.some((c) => c.host === u.host && c.port === u.port && c.transport === u.transport));
      const probed = await Promise.all(
        toProbe.map((uri) => {
          const server = { uri, transports: [uri.transport], tlsPort: DEFAULT_TLS_PORT, tls: { insecure: p.insecureTls, caFile: p.caFile } };
          return probeStunServer(ctx, ID, { ...server, target: dialer, context: dialer ? `${dialer}'s ICE server` : undefined }, p);
        }),
      );
      findings.push(...probed.flat());
    }
    return findings;
  },
  aggregate(findings, _targets, p, config) {
    // The same server in several static sources: one finding with every file and line, in the
    // order the sources are configured (targets finish in any order).
    const policy = policyOf(config);
    const sourceOrder = new Map(p.sources.map((s, i) => [typeof s === 'string' ? s : s.source, i]));
    const merged = new Map<string, Finding[]>();
    const rest: Finding[] = [];
    for (const f of findings) {
      const ev = f.evidence as { servers?: { server: string }[]; locations?: Location[] } | undefined;
      if (f.code !== 'ICE_DISALLOWED_SERVER' || !ev?.servers || ev.servers.length !== 1 || ev.servers[0].server !== f.target) rest.push(f);
      else merged.set(f.target, [...(merged.get(f.target) ?? []), f]);
    }
    for (const [server, group] of merged) {
      if (group.length === 1) {
        rest.push(group[0]);
        continue;
      }
      const parsed = parseIceUri(server);
      const verdict = parsed.ok ? judgeServer(parsed.uri, policy) : undefined;
      if (!parsed.ok || !verdict || verdict.allowed) {
        rest.push(...group);
        continue;
      }
      const locations = group.flatMap((f) => (f.evidence as { locations: Location[] }).locations).sort((a, b) => (sourceOrder.get(a.source) ?? 0) - (sourceOrder.get(b.source) ?? 0));
      rest.push(disallowedFinding(server, [{ uri: parsed.uri, verdict, locations }], policy));
    }
    return rest;
  },
};
