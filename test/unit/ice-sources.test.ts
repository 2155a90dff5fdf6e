// Reading ICE servers out of webphone and Asterisk configs, and judging them against the policy.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { disallowedFinding } from '../../src/ice/findings.ts';
import { judgeServer, matchesPattern, replacementFor, type IcePolicy } from '../../src/ice/policy.ts';
import { detectFormat, parseIceSource } from '../../src/ice/sources.ts';
import { formatIceUri, parseIceUri, type IceUri } from '../../src/stun/uri.ts';

const fixturePath = (name: string) => new URL(`../fixtures/ice/${name}`, import.meta.url).pathname;
const read = (name: string) => readFileSync(fixturePath(name), 'utf8');
const parse = (name: string) => parseIceSource(read(name), detectFormat(name), name);
const list = (name: string) => parse(name).servers.map((s) => `${s.line} ${formatIceUri(s.uri)}`);

function uri(text: string): IceUri {
  const p = parseIceUri(text);
  if (!p.ok) throw new Error(p.problem);
  return p.uri;
}

describe('STUN/TURN URIs (RFC 7064/7065)', () => {
  it.each([
    ['stun:stun.example.net', 'stun:stun.example.net:3478', 'udp'],
    ['stuns:stun.example.net', 'stuns:stun.example.net:5349', 'tls'],
    ['turn:turn.example.net:3479?transport=tcp', 'turn:turn.example.net:3479?transport=tcp', 'tcp'],
    ['turn:turn.example.net?transport=udp', 'turn:turn.example.net:3478', 'udp'],
    ['turns:turn.example.net:443?transport=tcp', 'turns:turn.example.net:443', 'tls'],
    ['STUN:[2001:db8::1]:3478', 'stun:[2001:db8::1]:3478', 'udp'],
    ['stun://Stun.L.Google.com:19302', 'stun:stun.l.google.com:19302', 'udp'],
  ])('%s → %s over %s', (text, canonical, transport) => {
    const u = uri(text);
    expect(formatIceUri(u)).toBe(canonical);
    expect(u.transport).toBe(transport);
  });

  it.each([
    ['http://stun.example.net', /not a STUN\/TURN URI/],
    ['stun:stun.example.net:70000', /out of range/],
    ['turns:turn.example.net?transport=udp', /DTLS/],
    ['turn:turn.example.net?proto=udp', /only query/],
    ['stun:bad host', /not a STUN\/TURN URI/],
    ['stun:[not-v6]:3478', /not an IPv6 address/],
  ])('rejects %s', (text, problem) => {
    const p = parseIceUri(text);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.problem).toMatch(problem);
  });
});

describe('webphone configs (JSON / JS)', () => {
  it('finds every iceServers URL with its line in a JsSIP-style JSON file', () => {
    expect(list('webphone-ice.json')).toEqual([
      '5 stun:stun.telnyx.com:3478',
      '6 stun:stun.l.google.com:19302',
      '6 stun:stun1.l.google.com:19302',
      '7 turn:turn.telnyx.com:3478',
    ]);
    expect(parse('webphone-ice.json').problems).toEqual([]);
  });

  it('reads a SIP.js-style JS file: skips commented-out servers and run-time URLs, finds a bare Google default', () => {
    // Act
    const parsed = parse('webphone.js');
    // Assess
    expect(parsed.format).toBe('webphone');
    expect(list('webphone.js')).toEqual([
      '8 stun:stun.telnyx.com:3478',
      '9 turns:turn.telnyx.com:5349',
      '10 stun:stun2.l.google.com:19302',
      '14 stun:stun.l.google.com:19302',
    ]);
    expect(parsed.problems).toEqual([
      { line: 15, text: expect.stringMatching(/^a URI built at run time \(turn:\$\{host\}:3478\)/) },
      { line: 16, text: expect.stringMatching(/^"stun:bad host:3478" is not a STUN\/TURN URI/) },
    ]);
  });

  it('keeps no credentials from the file', () => {
    const json = JSON.stringify(parse('webphone-ice.json'));
    expect(json).not.toContain('not-a-real-password');
  });

  it('says when a .json file is not valid JSON (the webphone would fail to load it)', () => {
    const parsed = parseIceSource('{ "iceServers": [ { "urls": "stun:stun.l.google.com:19302" }, ] ', 'webphone', 'broken.json');
    expect(parsed.problems[0].text).toMatch(/^not valid JSON/);
    expect(parsed.servers.map((s) => formatIceUri(s.uri))).toEqual(['stun:stun.l.google.com:19302']);
  });
});

describe('Asterisk configs', () => {
  it('rtp.conf: stunaddr and turnaddr with their lines; commented lines ignored', () => {
    const parsed = parse('rtp.conf');
    expect(parsed.format).toBe('asterisk');
    expect(parsed.servers.map((s) => `${s.line} ${s.key} ${s.raw} → ${formatIceUri(s.uri)}`)).toEqual([
      '9 stunaddr stun.l.google.com:19302 → stun:stun.l.google.com:19302',
      '10 turnaddr turn.telnyx.com:3478 → turn:turn.telnyx.com:3478',
    ]);
    expect(JSON.stringify(parsed)).not.toContain('not-a-real-password');
  });

  it('res_stun_monitor.conf: stunaddr with spaces around =', () => {
    expect(list('res_stun_monitor.conf')).toEqual(['3 stun:stun.l.google.com:19302']);
  });

  it('pjsip.conf: nothing in comments counts', () => {
    expect(list('pjsip.conf')).toEqual([]);
  });

  it('detects the format from the name', () => {
    expect(detectFormat('/etc/asterisk/rtp.conf')).toBe('asterisk');
    expect(detectFormat('https://acme.example.com/asterisk/pjsip.conf?x=1')).toBe('asterisk');
    expect(detectFormat('https://acme.example.com/webphone/ice.json')).toBe('webphone');
    expect(detectFormat('webphone/config.js')).toBe('webphone');
  });
});

describe('the ICE-server policy', () => {
  const telnyx = uri('stun:stun.telnyx.com:3478');
  const policy = (p: Partial<IcePolicy> = {}): IcePolicy => ({ allow: [], deny: [], denyPublicDefaults: true, configured: [], ...p });

  it("flags Google's default out of the box, with the 2020 outage as the reason", () => {
    const v = judgeServer(uri('stun:stun1.l.google.com:19302'), policy());
    expect(v).toMatchObject({ allowed: false, rule: 'public-default', pattern: 'stun*.l.google.com' });
    if (!v.allowed) expect(v.reason).toMatch(/2020 outage/);
    expect(judgeServer(telnyx, policy())).toEqual({ allowed: true, why: 'no-allow-list' });
  });

  it('with an allow-list, everything else is flagged; deny beats allow; configured servers are allowed', () => {
    const p = policy({ allow: ['*.telnyx.com'], deny: ['stun.telnyx.com:3479'], configured: [uri('turn:turn.example.net:3478')] });
    expect(judgeServer(telnyx, p)).toEqual({ allowed: true, why: 'allow-list' });
    expect(judgeServer(uri('turn:turn.example.net:3478'), p)).toEqual({ allowed: true, why: 'configured' });
    expect(judgeServer(uri('stun:stun.telnyx.com:3479'), p)).toMatchObject({ allowed: false, rule: 'deny' });
    expect(judgeServer(uri('stun:stun.other.org'), p)).toMatchObject({ allowed: false, rule: 'not-allowed' });
    expect(judgeServer(uri('stun:stun.l.google.com:19302'), p)).toMatchObject({ allowed: false, rule: 'public-default' });
    expect(judgeServer(uri('stun:stun.l.google.com:19302'), policy({ allow: ['*.google.com'] }))).toMatchObject({ allowed: true });
  });

  it('patterns: host globs of any depth, optional scheme and port', () => {
    expect(matchesPattern(uri('stun:a.b.example.net'), '*.example.net')).toBe(true);
    expect(matchesPattern(uri('stun:example.net'), '*.example.net')).toBe(false);
    expect(matchesPattern(uri('turn:t.example.net:3478'), 'turn:*.example.net:3478')).toBe(true);
    expect(matchesPattern(uri('stun:t.example.net:3478'), 'turn:*.example.net')).toBe(false);
    expect(matchesPattern(uri('stun:[2001:db8::1]'), '[2001:db8::1]:3478')).toBe(true);
  });

  it('suggests a configured server of the same kind (a TURN server will do for STUN)', () => {
    const p = policy({ configured: [uri('turn:turn.telnyx.com:3478'), uri('stun:stun.telnyx.com:3478')] });
    expect(formatIceUri(replacementFor(uri('stun:stun.l.google.com:19302'), p)!)).toBe('stun:stun.telnyx.com:3478');
    expect(formatIceUri(replacementFor(uri('turn:turn.other.org'), p)!)).toBe('turn:turn.telnyx.com:3478');
    expect(formatIceUri(replacementFor(uri('stun:stun.l.google.com:19302'), policy({ configured: [uri('turn:turn.telnyx.com:3478')] }))!)).toBe('stun:turn.telnyx.com:3478');
  });

  it('the finding names the file, the line, and what to write there instead, in the file’s own syntax', () => {
    // Prepare
    const p = policy({ configured: [telnyx] });
    const google = uri('stun:stun.l.google.com:19302');
    const verdict = judgeServer(google, p);
    if (verdict.allowed) throw new Error('expected disallowed');
    // Act
    const f = disallowedFinding('stun:stun.l.google.com:19302', [{
      uri: google,
      verdict,
      locations: [
        { source: 'webphone/ice.json', line: 6, raw: 'stun:stun.l.google.com:19302', format: 'webphone' },
        { source: '/etc/asterisk/rtp.conf', line: 9, raw: 'stun.l.google.com:19302', key: 'stunaddr', format: 'asterisk' },
      ],
    }], p);
    // Assess
    expect(f.code).toBe('ICE_DISALLOWED_SERVER');
    expect(f.severity).toBe('critical');
    expect(f.message).toBe(
      `stun:stun.l.google.com:19302 is configured in webphone/ice.json line 6 and /etc/asterisk/rtp.conf line 9, and is not allowed: ${verdict.reason}`,
    );
    expect(f.firstStep).toBe(
      'In webphone/ice.json line 6 replace "stun:stun.l.google.com:19302" with "stun:stun.telnyx.com:3478"; ' +
        'in /etc/asterisk/rtp.conf line 9 replace "stunaddr=stun.l.google.com:19302" with "stunaddr=stun.telnyx.com:3478"; ' +
        'then redeploy the webphone configuration (agents must reload the page) and asterisk -rx "module reload res_rtp_asterisk.so".',
    );
    expect(f.evidence).toMatchObject({ file: 'webphone/ice.json', line: 6, replacement: 'stun:stun.telnyx.com:3478' });
  });
});
