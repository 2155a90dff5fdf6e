// The status page as a pure function of (report, history, alert state): what it shows and in which
// order, that it is self-contained (nothing to fetch, no script), and that hostile names stay text.
import { describe, expect, it } from 'vitest';
import { parseOutputSpec, planOutputs } from '../../src/report/outputs.ts';
import { MAX_MATRIX_ROWS } from '../../src/report/status/model.ts';
import { renderStatusPage } from '../../src/report/status/page.ts';
import { fingerprint } from '../../src/state/fingerprint.ts';
import { emptyState, type AlertState } from '../../src/state/policy.ts';
import { FLEET_END, fleetHistory, fleetReport, nameOf } from '../fixtures/status-fleet.ts';

const rowsOf = (html: string) => [...html.matchAll(/<tr data-name="([^"]+)" class="row-(\w+)"/g)].map((m) => `${m[2]} ${m[1]}`);

describe('the status page', () => {
  it('lists failing, then routed, then stale names in the matrix, and counts the healthy ones', () => {
    // Prepare
    const report = fleetReport({ dialers: 1000, stale: 2, failing: 1, routed: 1 });
    // Act
    const html = renderStatusPage(report, { history: [], notes: [] });
    // Assess
    expect(rowsOf(html)).toEqual([`failing ${nameOf(2)}`, `routed ${nameOf(3)}`, `stale ${nameOf(0)}`, `stale ${nameOf(1)}`]);
    expect(html).toContain('996 names</th><td colspan="5">consistent at every server that answered (of 1,000 audited)');
    const cell = /<tr data-name="d00001[^]*?<\/tr>/.exec(html)![0];
    expect(cell).toMatch(/<td class="c stale" data-resolver="pub1"><details><summary title="DNS_MISMATCH \(critical @pub1 from eu-central-1\): A at pub1: the resolver hands out 192.0.2.1/);
    expect(cell).toContain('<td class="c consistent" data-resolver="pub2" title="consistent">');
    // A resolver that answered nothing vouches for no name.
    expect(cell).toContain('<td class="c unknown" data-resolver="dead" title="no usable answer from dead this run (see its column)">–</td>');
    // The dead resolver's one folded finding sits on its column, not on a row.
    expect(html).toMatch(/<th data-server="dead" class="col-bad">dead<small>resolver · 0.00% up<\/small><details class="wide"><summary title="DNS_TIMEOUT/);
  });

  it('at 50,000 dialers with thousands of names with findings lists the worst and counts the rest', () => {
    const report = fleetReport({ dialers: 50_000, stale: 3000, failing: 10 });
    const html = renderStatusPage(report, { history: [], notes: [] });
    const rows = rowsOf(html);
    expect(rows).toHaveLength(MAX_MATRIX_ROWS);
    expect(rows.slice(0, 10).every((r) => r.startsWith('failing '))).toBe(true);
    expect(html).toContain(`${(3010 - MAX_MATRIX_ROWS).toLocaleString('en-US')} more names with findings</th>`);
    expect(html).toContain('46,990 names</th>');
  });

  it('says since when a problem fails, from the alert state, with its first step', () => {
    // Prepare: the dead carrier fails since yesterday and was told two runs later.
    const report = fleetReport({ dialers: 10 });
    const carrier = report.findings.find((f) => f.code === 'SIP_TIMEOUT')!;
    const since = new Date(FLEET_END - 26 * 3_600_000).toISOString();
    const told = new Date(FLEET_END - 26 * 3_600_000 + 600_000).toISOString();
    const state: AlertState = {
      ...emptyState(),
      entries: { [fingerprint(carrier)]: { ...carrier, firstSeen: since, lastSeen: since, firingSince: told, firing: true, consecutiveFailures: 300, consecutiveSuccesses: 0, told: {} } },
    };
    // Act
    const html = renderStatusPage(report, { history: [], state, notes: ['History: 2026-11-20: 3 runs not kept'] });
    // Assess
    const row = /<tr class="sev-row-critical"><td><span class="sev sev-critical">critical<\/span><\/td><td><b>SIP_TIMEOUT<\/b>[^]*?<\/tr>/.exec(html)![0];
    expect(row).toContain('2026-11-22 13:00 UTC<small>1d2h; notified since 2026-11-22 13:10 UTC</small>');
    expect(row).toContain('<td class="step">Check the trunk.</td>');
    expect(html).toContain('<ul class="notes"><li>History: 2026-11-20: 3 runs not kept</li></ul>');
  });

  it('shows uptime over 24 h and 7 d from the history, with an hourly chart per carrier', () => {
    // Prepare: a week of runs every 30 minutes; every 10th run the fleet was clean.
    const shape = { dialers: 100, stale: 1 };
    const history = fleetHistory(shape, 7, 48);
    // Act
    const html = renderStatusPage(fleetReport(shape), { history, notes: [] });
    // Assess: pub1 failed 1 probe in 100 on 9 runs of 10 → just under 99.1 %; carrier-a never failed.
    expect(html).toMatch(/<td>eu-central-1<\/td><th scope="row">pub1<\/th><td>resolver<\/td><td class="num partial"[^>]*>99\/100<\/td><td class="num">[^<]+<\/td><td class="num">[^<]+<\/td><td class="num">99.0\d%<\/td><td class="num">99.0\d%<\/td><td class="trend"><svg class="strip"/);
    expect(html).toMatch(/<td>eu-central-1<\/td><th scope="row">carrier-a<\/th><td>udp<\/td><td class="num up"[^>]*>1\/1<\/td><td class="num">12 ms<\/td><td class="num">12 ms<\/td><td class="num">100%<\/td><td class="num">100%<\/td>/);
    expect(html).toContain('337 runs in the last 7 days');
    // pub1's strip: a failure in every hour of the week; carrier-a's: none.
    expect(html).toMatch(/pub1<\/th>[^]*?<title>Hourly, last 7 days: [\d,]+ probes, 168 hours with failures<\/title>/);
    expect(html).toMatch(/carrier-a<\/th><td>udp[^]*?<title>Hourly, last 7 days: [\d,]+ probes, 0 hours with failures<\/title>/);
  });

  it('is self-contained: no script, nothing fetched, a policy that forbids both; hostile names stay text', () => {
    const html = renderStatusPage(fleetReport({ dialers: 10, stale: 1, hostile: true }), { history: [], notes: [] });
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|src=|href="(?!#)/i);
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'`);
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;\\x1b]0;owned\\x07.example.com');
    expect(html).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/);
  });

  it('without history or state shows this run alone and says so', () => {
    const html = renderStatusPage(fleetReport({ dialers: 10 }));
    expect(html).toContain('<li>No history or alert state was given: this page shows this run alone.</li>');
    expect(html).toContain('1 run in the last 7 days');
  });
});

describe('--output html=DIR', () => {
  it('names a directory, never stdout, and --format cannot be html', () => {
    expect(parseOutputSpec('html=/var/www/status')).toEqual({ format: 'html', path: '/var/www/status' });
    expect(parseOutputSpec('html=-')).toEqual({ problem: '--output html=-: html writes a directory, not stdout' });
    expect(planOutputs([{ format: 'html', path: 'page' }], { quiet: true })).toEqual({ stdout: undefined, files: [{ format: 'html', path: 'page' }] });
  });
});
