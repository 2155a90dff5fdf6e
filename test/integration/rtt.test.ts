// Honest RTTs: what a probe reads is held against the lab server's own clock. test/lab/timed_server.py
// reads the kernel's receive time of each request and notes when it handed the answer to its socket,
// so client RTT − (answered − received) is the client's own delay: the time between its stamp and
// the kernel on the way out, and between the kernel and its stamp on the way back. Loopback adds
// microseconds; everything else is ours (or the machine's scheduler).
//
// The machine runs other test suites at the same time, and a process that is not scheduled cannot
// read its socket: a round can be late for reasons that are not ours. So each round also reads how
// long this thread sat runnable on the kernel's run queue (/proc/thread-self/schedstat, the
// scheduler's own account), and a round's worst reading is judged without that wait; each claim is
// made over several rounds and judged on the median round (for single probes, the median probe).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../../src/audit.ts';
import { parseConfig } from '../../src/config.ts';
import { silentLogger } from '../../src/log.ts';
import { defaultSipClient, type SipProbeResult } from '../../src/net/sip.ts';
import { dnsClientFromConfig } from '../../src/net/dns-client.ts';
import { stunBinding } from '../../src/net/stun.ts';
import { startTimedLab, type TimedLab, type TimedRecord } from '../lab/timed-lab.ts';
import type { Measurement } from '../../src/types.ts';

const CARRIERS = 20;
const ROUNDS = 5;
const SINGLE_PROBES = 15;
// Our own /24 in 127.80.0.0/16, picked at random so parallel runs of this file do not collide.
const prefix = `127.80.${1 + Math.floor(Math.random() * 250)}`;
const addresses = Array.from({ length: CARRIERS }, (_, i) => `${prefix}.${i + 1}`);

let lab: TimedLab;
beforeAll(async () => {
  lab = await startTimedLab(
    addresses.flatMap((address) => [
      { protocol: 'sip' as const, transport: 'udp' as const, address, port: 5060 },
      { protocol: 'sip' as const, transport: 'tcp' as const, address, port: 5060 },
      { protocol: 'stun' as const, transport: 'udp' as const, address, port: 3478 },
      { protocol: 'stun' as const, transport: 'tcp' as const, address, port: 3478 },
    ]),
  );
});
afterAll(async () => {
  await lab?.stop();
});

/** Milliseconds this thread has spent runnable but not running, since it started (the kernel's count). */
function runQueueWaitMs(): number {
  return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[1]) / 1e6;
}

/** Runs `round` and returns how long the scheduler kept this thread waiting meanwhile. */
async function timed<T>(round: () => Promise<T>): Promise<{ result: T; waitedMs: number }> {
  const before = runQueueWaitMs();
  const result = await round();
  return { result, waitedMs: runQueueWaitMs() - before };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const hold = (r: TimedRecord) => r.answeredAt - r.receivedAt;
const ms = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');

function sipOptions(address: string, transport: 'udp' | 'tcp'): Promise<SipProbeResult> {
  return defaultSipClient.options({ transport, address, port: 5060, requestUri: `sip:${address}`, fromUser: 'rtt-test', timeoutMs: 3000 });
}

async function stunRtt(address: string, transport: 'udp' | 'tcp'): Promise<number> {
  const outcome = await stunBinding({ host: address, port: 3478, family: 4 }, transport, { timeoutMs: 3000, rtoMs: 1000, deadline: Date.now() + 5000, signal: new AbortController().signal });
  if (!outcome.ok) throw new Error(`STUN ${transport} to ${address}: ${outcome.detail}`);
  return outcome.rttMs;
}

describe('a single probe reads within 1 ms of the wire', () => {
  it.each([
    ['SIP OPTIONS', 'udp'],
    ['SIP OPTIONS', 'tcp'],
    ['STUN Binding', 'udp'],
    ['STUN Binding', 'tcp'],
  ] as const)('%s over %s', async (what, transport) => {
    // Prepare
    const address = addresses[0];
    const excess: number[] = [];
    // Act: one at a time, each held against the server's record of it.
    const own: number[] = [];
    for (let i = 0; i < SINGLE_PROBES; i++) {
      await lab.clear();
      const { result: rtt, waitedMs } = await timed(async () => (what === 'SIP OPTIONS' ? (await sipOptions(address, transport)).rttMs! : await stunRtt(address, transport)));
      const [record] = await lab.records();
      excess.push(rtt - hold(record));
      own.push(Math.max(0, rtt - hold(record) - waitedMs));
    }
    // Assess
    console.info(`[rtt] ${what} ${transport}, one at a time: client − server hold (ms) ${ms(excess)}`);
    expect(Math.min(...excess)).toBeGreaterThan(-0.05); // never shorter than the server's own hold
    expect(median(own)).toBeLessThan(1);
  });
});

describe('with 20 carriers probed at once, each reads within 2 ms of the wire', () => {
  it('sip-options through the audit: 20 carriers over UDP in one run, five runs', async () => {
    // Prepare
    const config = parseConfig({
      run: { concurrency: CARRIERS },
      carriers: addresses.map((a, i) => ({ name: `carrier-${i + 1}`, uri: `${a}:5060`, transports: ['udp'] })),
      checks: { 'sip-options': { fragmentation: false, timeout: '3s' } },
    });
    const worstPerRound: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await lab.clear();
      // Act
      // Every probe's own RTT, as `--measurements` streams them (the report keeps only aggregates of healthy targets).
      const measured: Measurement[] = [];
      const { waitedMs } = await timed(() => runAudit(config, { dns: dnsClientFromConfig(config), log: silentLogger, onMeasurement: (m) => measured.push(m) }));
      // Assess (per round): every carrier answered once; each RTT against its server's hold.
      const records = await lab.records();
      const rtts = measured.filter((m) => m.metric === 'rtt_seconds');
      expect(rtts).toHaveLength(CARRIERS);
      const excess = rtts.map((m) => {
        const record = records.find((r) => r.protocol === 'sip' && r.server === m.labels?.address);
        if (!record) throw new Error(`no server record for ${m.labels?.address}`);
        return m.value * 1000 - hold(record);
      });
      expect(Math.min(...excess)).toBeGreaterThan(-0.05);
      worstPerRound.push(Math.max(...excess) - waitedMs);
      console.info(`[rtt] 20 carriers at once, run ${round + 1}: client − server hold (ms) ${ms(excess.sort((a, b) => a - b))}; run-queue wait ${waitedMs.toFixed(2)} ms`);
    }
    expect(median(worstPerRound)).toBeLessThan(2);
  });

  it.each(['udp', 'tcp'] as const)('STUN Binding over %s to 20 servers at once, five rounds', async (transport) => {
    const worstPerRound: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await lab.clear();
      const { result: rtts, waitedMs } = await timed(() => Promise.all(addresses.map((a) => stunRtt(a, transport))));
      const records = await lab.records();
      const excess = rtts.map((rtt, i) => rtt - hold(records.find((r) => r.protocol === 'stun' && r.server === `${addresses[i]}:3478`)!));
      expect(Math.min(...excess)).toBeGreaterThan(-0.05);
      worstPerRound.push(Math.max(...excess) - waitedMs);
      console.info(`[rtt] STUN ${transport}, 20 at once, round ${round + 1}: client − server hold (ms) ${ms(excess.sort((a, b) => a - b))}; run-queue wait ${waitedMs.toFixed(2)} ms`);
    }
    expect(median(worstPerRound)).toBeLessThan(2);
  });

  it('SIP OPTIONS over TCP to 20 carriers at once, five rounds', async () => {
    const worstPerRound: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await lab.clear();
      const { result: results, waitedMs } = await timed(() => Promise.all(addresses.map((a) => sipOptions(a, 'tcp'))));
      const records = await lab.records();
      const excess = results.map((r) => r.rttMs! - hold(records.find((x) => x.protocol === 'sip' && x.server === `${r.address}:5060`)!));
      expect(Math.min(...excess)).toBeGreaterThan(-0.05);
      worstPerRound.push(Math.max(...excess) - waitedMs);
      console.info(`[rtt] SIP tcp, 20 at once, round ${round + 1}: client − server hold (ms) ${ms(excess.sort((a, b) => a - b))}; run-queue wait ${waitedMs.toFixed(2)} ms`);
    }
    expect(median(worstPerRound)).toBeLessThan(2);
  });
});
