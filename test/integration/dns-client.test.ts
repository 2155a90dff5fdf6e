// The DNS client against a hostile server on loopback: it must never crash, never believe a
// spoofed or mismatched reply, and say which replies were malformed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseServerAddress } from '../../src/address.ts';
import { UdpTcpDnsClient, type DnsQuery } from '../../src/net/dns.ts';
import { startHostileDns, type HostileDns } from '../lab/hostile-dns.ts';

let hostile: HostileDns;
const client = new UdpTcpDnsClient({ timeoutMs: 300, retries: 1, ednsBufferSize: 1232, limitsFor: () => ({ qps: 1000, concurrency: 50 }) });

function q(label: string): DnsQuery {
  return { server: parseServerAddress(hostile.address, 53)!, name: `${label}.hostile.test`, type: 'A', recursionDesired: true };
}

beforeAll(async () => {
  hostile = await startHostileDns('127.66.0.1', 5353);
});
afterAll(async () => {
  await hostile?.stop();
});

describe('DNS client against a hostile server', () => {
  it('accepts a well-formed reply', async () => {
    const result = await client.query(q('ok'));
    expect(result.ok && result.response.answers.map((a) => a.value)).toEqual(['192.0.2.1']);
  });

  it('does not believe a reply with another id, from another port, or for another question', async () => {
    // Act
    const [wrongId, wrongPort, wrongQuestion] = await Promise.all([client.query(q('wrongid')), client.query(q('wrongport')), client.query(q('wrongquestion'))]);
    // Assess: none of them became an answer.
    expect(wrongId).toMatchObject({ ok: false, kind: 'malformed' });
    expect(wrongId.ok === false && wrongId.detail).toMatch(/id does not match/);
    expect(wrongPort).toMatchObject({ ok: false, kind: 'timeout' });
    expect(wrongQuestion).toMatchObject({ ok: false, kind: 'malformed' });
    expect(wrongQuestion.ok === false && wrongQuestion.detail).toMatch(/question does not match/);
  });

  it('ignores a spoofed answer from another port and takes the real one', async () => {
    const result = await client.query(q('spoofed'));
    expect(result.ok && result.response.answers.map((a) => a.value)).toEqual(['192.0.2.1']);
  });

  it('reports truncated bytes, random bytes and a 1-byte datagram as malformed, never throws', async () => {
    const results = await Promise.all(['cut', 'random', 'tiny'].map((l) => client.query(q(l))));
    for (const r of results) expect(r).toMatchObject({ ok: false, kind: 'malformed' });
    expect(results[0].ok === false && results[0].detail).toMatch(/invalid 20-byte reply: question 1: a name runs past its bounds/);
  });

  it('retries over TCP when the UDP reply is truncated (TC)', async () => {
    const result = await client.query(q('big'));
    expect(result.ok && result.response.transport).toBe('tcp');
    expect(result.ok && result.response.answers).toHaveLength(60);
  });

  it('reports garbage over TCP as malformed', async () => {
    expect(await client.query(q('tcpgarbage'))).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('gives SERVFAIL and NXDOMAIN back as answers with their rcode', async () => {
    const [servfail, nxdomain] = await Promise.all([client.query(q('servfail')), client.query(q('nxdomain'))]);
    expect(servfail.ok && servfail.response.rcode).toBe('SERVFAIL');
    expect(nxdomain.ok && nxdomain.response.rcode).toBe('NXDOMAIN');
  });

  it('times out on silence after its retries, within the deadline', async () => {
    const started = performance.now();
    const result = await client.query(q('silent'));
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({ ok: false, kind: 'timeout', attempts: 2 });
    expect(elapsed).toBeLessThan(2 * 300 + 500);
  });

  it('says "nothing listens" for a closed port', async () => {
    const result = await client.query({ ...q('ok'), server: parseServerAddress('127.66.0.2:5353', 53)! });
    expect(result).toMatchObject({ ok: false, kind: 'refused' });
  });

  it('uses random ids and moves to a new random source port every 128 queries', async () => {
    // Prepare: capture what the server sees.
    const seen: { port: number; id: number }[] = [];
    const dgram = await import('node:dgram');
    const sniff = dgram.createSocket('udp4');
    await new Promise<void>((r) => sniff.bind(5354, '127.66.0.1', () => r()));
    sniff.on('message', (msg, rinfo) => seen.push({ port: rinfo.port, id: msg.readUInt16BE(0) }));
    // The sniffer never answers: without breakerAfter: 0 the client would stop asking it after three.
    const oneSocket = new UdpTcpDnsClient({ timeoutMs: 20, retries: 0, ednsBufferSize: 1232, breakerAfter: 0, limitsFor: () => ({ qps: 100_000, concurrency: 1 }) });
    // Act
    await Promise.all(Array.from({ length: 300 }, () => oneSocket.query({ ...q('ok'), server: parseServerAddress('127.66.0.1:5354', 53)! })));
    sniff.close();
    // Assess: 300 queries over at least 3 ports (128 each), ids spread over the 16-bit space.
    expect(seen).toHaveLength(300);
    expect(new Set(seen.map((s) => s.port)).size).toBeGreaterThanOrEqual(3);
    expect(new Set(seen.map((s) => s.id)).size).toBeGreaterThan(290);
    expect(Math.max(...seen.map((s) => s.id)) - Math.min(...seen.map((s) => s.id))).toBeGreaterThan(50_000);
  });
});

describe('the circuit breaker', () => {
  const breakerClient = () => new UdpTcpDnsClient({ timeoutMs: 150, retries: 1, ednsBufferSize: 1232, limitsFor: () => ({ qps: 10_000, concurrency: 4 }) });

  it('stops asking a silent server after three questions, says it is up when it answers version.bind, and asks again next run', async () => {
    // Prepare: the hostile server answers version.bind but never `silent.*`.
    const client = breakerClient();
    const run1 = new AbortController().signal;
    // Act: twelve questions at once, then one more in the same run and one in the next.
    const first = await Promise.all(Array.from({ length: 12 }, () => client.query(q('silent'), run1)));
    const later = await client.query(q('ok'), run1);
    const nextRun = await client.query(q('ok'), new AbortController().signal);
    // Assess: the first four (concurrency 4) time out twice, which opens the breaker: the eight
    // waiting behind them are not asked.
    const notAsked = first.filter((r) => !r.ok && r.notAsked);
    expect(first.every((r) => !r.ok && r.kind === 'timeout')).toBe(true);
    expect(notAsked.length).toBeGreaterThanOrEqual(8);
    expect(notAsked[0]).toMatchObject({ serverAlive: true, attempts: 0 });
    expect(!notAsked[0].ok && notAsked[0].detail).toMatch(/not asked: \d+ attempts in a row got no answer .*it answers other questions, so it is up but silent for these/);
    expect(later).toMatchObject({ ok: false, notAsked: true });
    expect(nextRun.ok).toBe(true);
  });

  it('stops asking a server that answers nothing at all, and does not call it up', async () => {
    // Prepare: a socket that takes every datagram and answers none, version.bind included.
    const dgram = await import('node:dgram');
    const blackHole = dgram.createSocket('udp4');
    await new Promise<void>((r) => blackHole.bind(5398, '127.66.0.1', () => r()));
    const client = breakerClient();
    const run = new AbortController().signal;
    const dead = { ...q('ok'), server: parseServerAddress('127.66.0.1:5398', 53)! };
    try {
      // Act
      const results = await Promise.all(Array.from({ length: 8 }, () => client.query(dead, run)));
      // Assess
      const notAsked = results.filter((r) => !r.ok && r.notAsked);
      expect(notAsked.length).toBeGreaterThan(0);
      expect(notAsked[0]).toMatchObject({ kind: 'timeout' });
      expect(results.every((r) => !r.ok && r.serverAlive === undefined)).toBe(true);
      expect(!notAsked[0].ok && notAsked[0].detail).not.toMatch(/it is up/);
    } finally {
      blackHole.close();
    }
  });
});

describe('DNS client with a name it cannot ask', () => {
  it('rejects that one query and keeps serving the others', async () => {
    // Prepare: one worker slot, so the bad query is started from the good one's completion.
    const hostile = await startHostileDns('127.66.0.4', 5353);
    const oneSlot = new UdpTcpDnsClient({ timeoutMs: 300, retries: 0, ednsBufferSize: 1232, limitsFor: () => ({ qps: 1000, concurrency: 1 }) });
    const server = parseServerAddress(hostile.address, 53)!;
    try {
      // Act
      const good = oneSlot.query({ server, name: 'ok.hostile.test', type: 'A', recursionDesired: true });
      const bad = oneSlot.query({ server, name: `${'x'.repeat(64)}.hostile.test`, type: 'A', recursionDesired: true });
      const after = oneSlot.query({ server, name: 'ok.hostile.test', type: 'A', recursionDesired: true });
      // Assess
      expect((await good).ok).toBe(true);
      await expect(bad).rejects.toThrow(/not a valid DNS name/);
      expect((await after).ok).toBe(true);
    } finally {
      await hostile.stop();
    }
  });
});
