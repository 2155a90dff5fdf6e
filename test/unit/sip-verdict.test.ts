// The sip-options verdicts as pure functions: acceptable answers, slowness, the fragmentation black
// hole, and destinations that hang on one carrier (or on none that works).
import { describe, expect, it } from 'vitest';
import { acceptableStatus, fragmentationVerdict, routeVerdicts, slowness, type SizeOutcome } from '../../src/sip/verdict.ts';

const steps = (passedUpTo: number, sizes = [500, 1300, 1472, 1600, 1800, 3000]): SizeOutcome[] =>
  sizes.map((size) => ({ size, passed: size <= passedUpTo }));

describe('acceptableStatus', () => {
  it('takes any final response as reachable by default, except server and global failures', () => {
    for (const ok of [200, 202, 404, 405, 403, 480, 501]) expect(acceptableStatus(ok), String(ok)).toBe(true);
    for (const bad of [500, 502, 503, 504, 600, 603]) expect(acceptableStatus(bad), String(bad)).toBe(false);
    expect(acceptableStatus(180)).toBe(false);
  });

  it('follows the carrier’s accept list when there is one', () => {
    expect(acceptableStatus(200, [200])).toBe(true);
    expect(acceptableStatus(404, [200])).toBe(false);
    expect(acceptableStatus(503, [200, 503])).toBe(true);
  });
});

describe('slowness', () => {
  it('is a warning from warnAfter and critical from criticalAfter', () => {
    expect(slowness(999, 1000, 5000)).toBe('ok');
    expect(slowness(1000, 1000, 5000)).toBe('warning');
    expect(slowness(5200, 1000, 5000)).toBe('critical');
  });
});

describe('fragmentationVerdict', () => {
  it('INC-979: requests up to 1472 bytes answered, larger lost over UDP, TCP fine → black hole at 1472', () => {
    // Act
    const v = fragmentationVerdict(steps(1472), [{ transport: 'tcp', size: 3000, basePassed: true, largePassed: true }]);
    // Assess
    expect(v).toEqual({ kind: 'blackhole', largestPassed: 1472, smallestLost: 1600, lostSizes: [1600, 1800, 3000], stream: { transport: 'tcp', status: 'works' } });
  });

  it('large requests lost over TCP as well → large-lost, not fragmentation', () => {
    const v = fragmentationVerdict(steps(1472), [{ transport: 'tcp', size: 3000, basePassed: true, largePassed: false }]);
    expect(v).toMatchObject({ kind: 'large-lost', largestPassed: 1472, transports: ['udp', 'tcp'] });
  });

  it('still a black hole when TCP was not probed or does not work at all, saying so', () => {
    expect(fragmentationVerdict(steps(1300), [])).toMatchObject({ kind: 'blackhole', largestPassed: 1300, stream: { status: 'not-probed' } });
    expect(fragmentationVerdict(steps(1300), [{ transport: 'tcp', size: 3000, basePassed: false, largePassed: false }])).toMatchObject({
      kind: 'blackhole',
      stream: { transport: 'tcp', status: 'down' },
    });
  });

  it('finds nothing when every size passes', () => {
    expect(fragmentationVerdict(steps(3000), [{ transport: 'tls', size: 3000, basePassed: true, largePassed: true }])).toEqual({ kind: 'ok' });
  });

  it('leaves unreachability to the reachability findings', () => {
    expect(fragmentationVerdict(steps(0), [])).toEqual({ kind: 'unreachable' });
  });

  it('calls losses that do not grow with size inconclusive (random loss is not a size limit)', () => {
    const udp = [
      { size: 500, passed: true },
      { size: 1300, passed: false },
      { size: 1600, passed: true },
    ];
    expect(fragmentationVerdict(udp, [])).toMatchObject({ kind: 'inconclusive', lostSizes: [1300] });
  });

  it('a TCP-only trunk that loses its largest request → large-lost over TCP', () => {
    expect(fragmentationVerdict([], [{ transport: 'tcp', size: 3000, basePassed: true, largePassed: false }])).toMatchObject({
      kind: 'large-lost',
      transports: ['tcp'],
      streamLargest: 3000,
    });
  });
});

describe('routeVerdicts', () => {
  const carriers = [
    { name: 'twilio', regions: ['euc1', 'us1'] },
    { name: 'voxbone', regions: ['us1'] },
    { name: 'bics', regions: [] },
  ];

  it('flags a destination routable by one carrier only', () => {
    const v = routeVerdicts([{ prefix: '+44', carriers: ['bics'] }], carriers, new Set());
    expect(v).toEqual([{ code: 'SIP_SINGLE_CARRIER_ROUTE', destination: { prefix: '+44', carriers: ['bics'] }, region: undefined, carrier: 'bics' }]);
  });

  it('flags the region where only one of several carriers is enabled (the incident: Twilio alone in EUC1)', () => {
    const v = routeVerdicts([{ prefix: '+421', carriers: ['twilio', 'voxbone'] }], carriers, new Set());
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ code: 'SIP_SINGLE_CARRIER_ROUTE', region: 'euc1', carrier: 'twilio' });
  });

  it('says a route is down when every carrier enabled for it failed', () => {
    const v = routeVerdicts([{ prefix: '+421', carriers: ['twilio', 'voxbone'] }], carriers, new Set(['twilio']));
    expect(v).toEqual([
      { code: 'SIP_ROUTE_DOWN', destination: { prefix: '+421', carriers: ['twilio', 'voxbone'] }, region: 'euc1', carriers: ['twilio'] },
    ]);
  });

  it('is quiet while a second carrier still works', () => {
    expect(routeVerdicts([{ prefix: '+1', carriers: ['voxbone', 'bics'] }], carriers, new Set(['voxbone']))).toEqual([]);
  });

  it('says a required region has no carrier at all', () => {
    const v = routeVerdicts([{ prefix: '+1', carriers: ['voxbone'], regions: ['euc1'] }], carriers, new Set());
    expect(v).toMatchObject([{ code: 'SIP_ROUTE_DOWN', region: 'euc1', carriers: [] }]);
  });
});
