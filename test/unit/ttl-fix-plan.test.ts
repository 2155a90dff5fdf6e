// The TTL plan is pure: which changes, which safety limit refuses them, how they print, and how
// they are cut into batches Route 53 accepts.
import { describe, expect, it } from 'vitest';
import { batchUpserts, planFixes, sameRecordSet, upsertCost, withTtl, type FixLimits } from '../../src/fix/plan.ts';
import { planSummary, renderPlanMarkdown, renderPlanText } from '../../src/fix/render.ts';
import type { AppliedTtlChange, Finding, Inventory, RecordSet } from '../../src/types.ts';

const ZONE = { zoneId: 'Z1', name: 'dialer.example.com' };
const LIMITS: FixLimits = { maxChanges: 100, maxPercent: 30, protect: [] };

function ttlFinding(name: string, type = 'A', fromTtl = 86400, toTtl = 300, setIdentifier?: string, zone = ZONE): Finding {
  return {
    check: 'ttl-policy',
    target: name,
    severity: 'warning',
    code: 'TTL_ABOVE_POLICY',
    message: 'over policy',
    fix: { zoneId: zone.zoneId, zoneName: zone.name, name, type, setIdentifier, fromTtl, toTtl },
  };
}

function zoneOf(size: number, zone = ZONE): Inventory['zones'][number] {
  const recordSets: RecordSet[] = Array.from({ length: size }, (_, i) => ({ Name: `r${i}.${zone.name}.`, Type: 'A', TTL: 300, ResourceRecords: [{ Value: `10.0.0.${i % 250}` }] }));
  return { zoneId: zone.zoneId, name: zone.name, privateZone: false, recordSets, dialerRecordSets: recordSets };
}

function inventoryOf(...zones: Inventory['zones']): Inventory {
  return { dialers: [], zones };
}

describe('planFixes', () => {
  it('plans one TTL change per over-policy record set and prints it as dnscontrol does', () => {
    // Prepare
    const findings = [ttlFinding('beta.dialer.example.com'), ttlFinding('acme.dialer.example.com'), ttlFinding('acme.dialer.example.com', 'AAAA')];
    // Act
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(3)), limits: LIMITS, force: false });
    // Assess
    expect(renderPlanText(fixes)).toEqual([
      '± MODIFY-TTL acme.dialer.example.com A ttl=(86400->300)',
      '± MODIFY-TTL acme.dialer.example.com AAAA ttl=(86400->300)',
      '± MODIFY-TTL beta.dialer.example.com A ttl=(86400->300)',
      'Plan: 3 TTL changes in 1 zone',
    ]);
    expect(fixes.every((f) => f.status === 'planned' && f.setIdentifier === null)).toBe(true);
  });

  it('keeps one change per record set, the stricter TTL, and names the set identifier', () => {
    // Prepare
    const findings = [ttlFinding('w.dialer.example.com', 'A', 86400, 300, 'eu'), ttlFinding('w.dialer.example.com', 'A', 86400, 60, 'eu'), ttlFinding('w.dialer.example.com', 'A', 86400, 300, 'us')];
    // Act
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(3)), limits: LIMITS, force: false });
    // Assess
    expect(renderPlanText(fixes).slice(0, 2)).toEqual(['± MODIFY-TTL w.dialer.example.com [eu] A ttl=(86400->60)', '± MODIFY-TTL w.dialer.example.com [us] A ttl=(86400->300)']);
  });

  it('refuses every fix when a zone of 50 record sets would have 40 % changed, and says why once', () => {
    // Prepare
    const findings = Array.from({ length: 20 }, (_, i) => ttlFinding(`d${String(i).padStart(2, '0')}.dialer.example.com`));
    // Act
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(50)), limits: LIMITS, force: false });
    // Assess
    expect(fixes.map((f) => f.status)).toEqual(Array(20).fill('refused'));
    expect(fixes[0].reason).toContain('20 of 50 record sets (40 %) in zone dialer.example.com, over fix.maxPercent 30 %');
    expect(fixes[0].reason).toContain('--force');
    const text = renderPlanText(fixes);
    expect(text[0]).toBe('± MODIFY-TTL d00.dialer.example.com A ttl=(86400->300) refused');
    expect(text).toContain('Plan: 20 TTL changes in 1 zone (20 refused)');
    expect(text.filter((l) => l.includes('fix.maxPercent'))).toHaveLength(1);
  });

  it('lets --force lift the percentage and count limits', () => {
    // Prepare
    const findings = Array.from({ length: 20 }, (_, i) => ttlFinding(`d${i}.dialer.example.com`));
    // Act
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(50)), limits: { ...LIMITS, maxChanges: 5 }, force: true });
    // Assess
    expect(fixes.every((f) => f.status === 'planned')).toBe(true);
  });

  it('has no percentage limit for zones under 10 record sets', () => {
    // Prepare: 5 of 9 record sets is 55 %, but a small zone trips any percentage with one change.
    const findings = Array.from({ length: 5 }, (_, i) => ttlFinding(`d${i}.dialer.example.com`));
    // Act
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(9)), limits: LIMITS, force: false });
    // Assess
    expect(fixes.every((f) => f.status === 'planned')).toBe(true);
  });

  it('refuses the whole plan, every zone, over fix.maxChanges', () => {
    // Prepare
    const other = { zoneId: 'Z2', name: 'other.example.com' };
    const findings = [...Array.from({ length: 3 }, (_, i) => ttlFinding(`d${i}.dialer.example.com`)), ttlFinding('x.other.example.com', 'A', 600, 300, undefined, other)];
    // Act
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(100), zoneOf(100, other)), limits: { ...LIMITS, maxChanges: 3 }, force: false });
    // Assess
    expect(fixes.map((f) => f.status)).toEqual(['refused', 'refused', 'refused', 'refused']);
    expect(fixes[3].reason).toContain('4 changes, over fix.maxChanges 3');
    expect(planSummary(fixes)).toBe('Plan: 4 TTL changes in 2 zones (4 refused)');
  });

  it('never touches a protected name, not even with --force, and plans the rest', () => {
    // Prepare
    const findings = [ttlFinding('acme.dialer.example.com'), ttlFinding('legacy-pbx.dialer.example.com')];
    // Act
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(3)), limits: { ...LIMITS, protect: ['legacy-*.dialer.example.com'] }, force: true });
    // Assess
    expect(fixes.map((f) => `${f.name} ${f.status}`)).toEqual(['acme.dialer.example.com planned', 'legacy-pbx.dialer.example.com refused']);
    expect(renderPlanText(fixes)[1]).toBe('± MODIFY-TTL legacy-pbx.dialer.example.com A ttl=(86400->300) refused: protected by fix.protect "legacy-*.dialer.example.com" (never changed, not even with --force)');
  });

  it('leaves protected fixes out of the count that the limits judge', () => {
    // Prepare: 4 fixes, 2 protected, maxChanges 2 → the 2 others are within the limit.
    const findings = ['a', 'b', 'p1', 'p2'].map((n) => ttlFinding(`${n}.dialer.example.com`));
    // Act
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(3)), limits: { ...LIMITS, maxChanges: 2, protect: ['p?.dialer.example.com'] }, force: false });
    // Assess
    expect(fixes.map((f) => f.status)).toEqual(['planned', 'planned', 'refused', 'refused']);
  });
});

describe('plan rendering', () => {
  it('renders Markdown as a table with the summary and each shared reason once', () => {
    // Prepare
    const findings = Array.from({ length: 4 }, (_, i) => ttlFinding(`d${i}.dialer.example.com`));
    const fixes = planFixes({ findings, inventory: inventoryOf(zoneOf(10)), limits: LIMITS, force: false });
    // Act
    const md = renderPlanMarkdown(fixes).join('\n');
    // Assess
    expect(md).toContain('| Z1 | d0.dialer.example.com | A |  | 86400 → 300 | refused |');
    expect(md).toContain('Plan: 4 TTL changes in 1 zone (4 refused)');
    expect(md.match(/fix\.maxPercent/g)).toHaveLength(1);
  });

  it('keeps wildcard and underscore names literal in Markdown', () => {
    // Prepare
    const fixes = planFixes({ findings: [ttlFinding('*.dialer.example.com'), ttlFinding('_sip._udp.dialer.example.com', 'SRV')], inventory: inventoryOf(zoneOf(3)), limits: LIMITS, force: false });
    // Act
    const md = renderPlanMarkdown(fixes);
    // Assess
    expect(md).toContain('| Z1 | \\*.dialer.example.com | A |  | 86400 → 300 | planned |');
    expect(md).toContain('| Z1 | \\_sip.\\_udp.dialer.example.com | SRV |  | 86400 → 300 | planned |');
  });

  it('shows each status after an apply, with the reason of a lone failure on its line', () => {
    // Prepare
    const fixes = planFixes({ findings: [ttlFinding('a.dialer.example.com'), ttlFinding('b.dialer.example.com')], inventory: inventoryOf(zoneOf(3)), limits: LIMITS, force: false });
    fixes[0].status = 'applied';
    fixes[1].status = 'failed';
    fixes[1].reason = "InvalidChangeBatch: [Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address']";
    // Act
    const text = renderPlanText(fixes);
    // Assess
    expect(text).toEqual([
      '± MODIFY-TTL a.dialer.example.com A ttl=(86400->300) applied',
      "± MODIFY-TTL b.dialer.example.com A ttl=(86400->300) failed: InvalidChangeBatch: [Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address']",
      'Plan: 2 TTL changes in 1 zone (1 applied, 1 failed)',
    ]);
  });
});

describe('planFixes over fix.window (the fix journal)', () => {
  const NOW = Date.parse('2026-11-23T15:00:00Z');
  const applied = (name: string, hoursAgo: number, zoneId = ZONE.zoneId): AppliedTtlChange => ({
    zoneId,
    name,
    type: 'A',
    setIdentifier: null,
    fromTtl: 86400,
    toTtl: 300,
    at: new Date(NOW - hoursAgo * 3_600_000).toISOString(),
  });

  it('counts changes earlier runs applied within the window: the 4th one-by-one change in a 10-set zone is refused', () => {
    // Prepare: three earlier --target runs each lowered one TTL in the last hours.
    const journal = { entries: [applied('d1.dialer.example.com', 3), applied('d2.dialer.example.com', 2), applied('d3.dialer.example.com', 1)] };
    // Act
    const fixes = planFixes({ findings: [ttlFinding('d4.dialer.example.com')], inventory: inventoryOf(zoneOf(10)), limits: LIMITS, force: false, journal, now: NOW });
    // Assess
    expect(fixes.map((f) => f.status)).toEqual(['refused']);
    expect(fixes[0].reason).toContain('4 of 10 record sets (40 %) in zone dialer.example.com within fix.window 1d (1 planned, 3 applied by earlier runs), over fix.maxPercent 30 %');
  });

  it('forgets changes older than the window, and never counts a record set twice', () => {
    const journal = { entries: [applied('d1.dialer.example.com', 30), applied('d2.dialer.example.com', 25), applied('d3.dialer.example.com', 1), applied('d4.dialer.example.com', 1)] };
    const fixes = planFixes({ findings: [ttlFinding('d4.dialer.example.com'), ttlFinding('d5.dialer.example.com')], inventory: inventoryOf(zoneOf(10)), limits: LIMITS, force: false, journal, now: NOW });
    expect(fixes.map((f) => f.status)).toEqual(['planned', 'planned']);
  });

  it('maxChanges counts earlier runs too; --force lifts it; a journal that cannot be read refuses the plan', () => {
    const journal = { entries: [applied('d1.dialer.example.com', 1, 'Z9'), applied('d2.dialer.example.com', 1, 'Z9')] };
    const input = { findings: [ttlFinding('d3.dialer.example.com')], inventory: inventoryOf(zoneOf(100)), limits: { ...LIMITS, maxChanges: 2 }, journal, now: NOW };
    expect(planFixes({ ...input, force: false })[0].reason).toContain('3 changes within fix.window 1d (1 planned, 2 applied by earlier runs), over fix.maxChanges 2');
    expect(planFixes({ ...input, force: true })[0].status).toBe('planned');
    const unreadable = planFixes({ ...input, limits: LIMITS, journal: { entries: [], problem: 'the fix journal in state file x could not be read: EACCES' }, force: false });
    expect(unreadable[0].reason).toContain('could not be read: EACCES, so fix.window cannot be checked');
  });
});

describe('batching within Route 53 limits', () => {
  const simple = (i: number, values = 1, valueLength = 9): { recordSet: RecordSet } => ({
    recordSet: { Name: `r${i}.x.`, Type: 'TXT', TTL: 300, ResourceRecords: Array.from({ length: values }, () => ({ Value: 'v'.repeat(valueLength) })) },
  });

  it('counts an UPSERT twice: 500 one-value record sets fill a batch of 1,000 records', () => {
    // Act
    const batches = batchUpserts(Array.from({ length: 1201 }, (_, i) => simple(i)));
    // Assess
    expect(batches.map((b) => b.length)).toEqual([500, 500, 201]);
    expect(upsertCost(simple(0, 5).recordSet)).toEqual({ records: 10, chars: 90 });
  });

  it('cuts on the 32,000-character limit too, and keeps the order', () => {
    // Prepare: each UPSERT costs 2 × 255 = 510 characters → 62 fit in 32,000.
    const items = Array.from({ length: 130 }, (_, i) => simple(i, 1, 255));
    // Act
    const batches = batchUpserts(items);
    // Assess
    expect(batches.map((b) => b.length)).toEqual([62, 62, 6]);
    expect(batches.flat()).toEqual(items);
  });

  it('sends an oversized record set alone rather than never', () => {
    // Act
    const batches = batchUpserts([simple(0), simple(1, 600), simple(2)]);
    // Assess
    expect(batches.map((b) => b.length)).toEqual([1, 1, 1]);
  });
});

describe('the record copy', () => {
  it('keeps every field of the record set and changes only TTL', () => {
    // Prepare
    const original: RecordSet = {
      Name: 'acme.dialer.example.com.',
      Type: 'A',
      SetIdentifier: 'eu-primary',
      Weight: 10,
      Region: 'eu-west-1',
      Failover: 'PRIMARY',
      GeoLocation: { ContinentCode: 'EU', CountryCode: 'DE', SubdivisionCode: 'BY' },
      CidrRoutingConfig: { CollectionId: 'c-1', LocationName: 'office' },
      GeoProximityLocation: { AWSRegion: 'eu-west-1', Bias: 10, Coordinates: { Latitude: '48.1', Longitude: '11.5' } },
      MultiValueAnswer: true,
      HealthCheckId: 'hc-1',
      TTL: 86400,
      ResourceRecords: [{ Value: '192.0.2.1' }, { Value: '192.0.2.2' }],
    };
    const before = structuredClone(original);
    // Act
    const copy = withTtl(original, 300);
    // Assess
    expect(copy).toEqual({ ...before, TTL: 300 });
    expect(original).toEqual(before);
    copy.ResourceRecords![0].Value = 'changed';
    expect(original.ResourceRecords![0].Value).toBe('192.0.2.1');
  });

  it('refuses to make a TTL copy of an alias record', () => {
    expect(() => withTtl({ Name: 'a.x.', Type: 'A', AliasTarget: { HostedZoneId: 'Z', DNSName: 'lb.', EvaluateTargetHealth: false } }, 300)).toThrow(/alias/);
  });

  it('compares record sets deeply, whatever the key order', () => {
    const a: RecordSet = { Name: 'a.x.', Type: 'A', TTL: 60, ResourceRecords: [{ Value: '192.0.2.1' }] };
    expect(sameRecordSet(a, { ResourceRecords: [{ Value: '192.0.2.1' }], TTL: 60, Type: 'A', Name: 'a.x.' })).toBe(true);
    expect(sameRecordSet(a, { ...a, TTL: 61 })).toBe(false);
    expect(sameRecordSet(a, { ...a, HealthCheckId: 'hc' })).toBe(false);
  });
});
