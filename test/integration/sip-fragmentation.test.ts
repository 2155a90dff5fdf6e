// INC-979 reproduced: a carrier behind a path that drops IP fragments. Two network namespaces
// joined by a veth pair (MTU 1500); SIPp answers OPTIONS over UDP and TCP in the receiver; nft
// there drops fragments before reassembly. The audit runs inside the sender namespace (a child
// process started with `ip netns exec`), exactly as the CLI would run on the dialer host.
// Runs as root (CI does); it must not be skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { createFragLab, type FragLab } from '../lab/netns.ts';
import { startSippUas, type SippUas } from '../lab/sipp.ts';
import { formatScorecardText } from '../../src/report/scorecard.ts';
import type { Report } from '../../src/types.ts';

const CHILD = fileURLToPath(new URL('../lab/audit-child.ts', import.meta.url));
const PROBE_TIMEOUT_MS = 3000;

let lab: FragLab | undefined;
const sipp: SippUas[] = [];

beforeAll(async () => {
  lab = createFragLab();
  try {
    sipp.push(
      await startSippUas({ address: lab.receiverAddress, transport: 'udp', answer: 200, netns: lab.receiver }),
      await startSippUas({ address: lab.receiverAddress, transport: 'tcp', answer: 200, netns: lab.receiver }),
    );
  } catch (err) {
    await Promise.all(sipp.map((s) => s.stop()));
    lab.destroy();
    lab = undefined;
    throw err;
  }
});

afterAll(async () => {
  await Promise.all(sipp.map((s) => s.stop()));
  lab?.destroy();
});

async function auditFromSender(): Promise<Report> {
  const config = {
    carriers: [{ name: 'twilio', uri: `sip:${lab!.receiverAddress}:5060`, transports: ['udp', 'tcp'] }],
    checks: { 'sip-options': { fragmentation: true, timeout: PROBE_TIMEOUT_MS } },
  };
  const stdout = await lab!.runInSender(CHILD, [JSON.stringify(config)], 60_000);
  return JSON.parse(stdout) as Report;
}

describe('the fragmentation black hole (INC-979) between two namespaces', () => {
  it('with fragments dropped: SIP_FRAGMENTATION_BLACKHOLE at 1472 bytes while TCP stays healthy', async () => {
    // Prepare
    lab!.dropFragments(true);
    // Act
    const report = await auditFromSender();
    // Assess
    expect(report.findings.map((f) => `${f.target} ${f.code}`)).toEqual(['twilio/udp SIP_FRAGMENTATION_BLACKHOLE']);
    const [f] = report.findings;
    expect(f.severity).toBe('critical');
    expect(f.evidence).toMatchObject({ largestPassed: 1472, smallestLost: 1600, lostSizes: [1600, 1800, 3000], stream: { transport: 'tcp', status: 'works' } });
    expect(f.firstStep).toContain('UDP to twilio loses requests above 1472 bytes; TCP works — move the trunk to TCP');
    // TCP carried the largest request; the nft rule really dropped fragments.
    const tcpUp = report.measurements.filter((m) => m.metric === 'up' && m.labels?.transport === 'tcp');
    expect(tcpUp.map((m) => m.value)).toEqual([1, 1]);
    expect(lab!.droppedFragments()).toBeGreaterThan(0);
    console.info(`[sip] netns black hole: ${f.message}\n${formatScorecardText(report.aggregates)}`);
  });

  it('without the nft rule: no finding at any size', async () => {
    // Prepare
    lab!.dropFragments(false);
    // Act
    const report = await auditFromSender();
    // Assess
    expect(report.findings).toEqual([]);
    expect(report.aggregates.filter((m) => m.metric === 'up').every((m) => m.sum === m.count)).toBe(true);
  });
});
