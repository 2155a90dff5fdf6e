// The static status page: one self-contained HTML file (inline CSS and SVG, no script, no external
// fetch — its Content-Security-Policy forbids any), readable without JavaScript: a finding shows
// on hover (title) and on click (<details>). A pure function of (report, history, alert state);
// writing it to a directory or to S3 is the edge's business (src/report/status-sink.ts).
// Everything from the network goes through the one sanitiser, then HTML escaping.
import type { Finding, Report } from '../../types.ts';
import { humanDuration, humanTime } from '../../units.ts';
import { countsLine, durationSeconds, verdictWord } from '../common.ts';
import { sanitizeText } from '../sanitize.ts';
import { STATUS_CSS } from './style.ts';
import { rttLine, uptimeStrip } from './svg.ts';
import {
  codeHours,
  DAY_MS,
  dnsMatrix,
  openProblems,
  overallUptime,
  seriesRows,
  ttlCompliance,
  WEEK_MS,
  withThisRun,
  type Matrix,
  type SeriesRow,
  type StatusInputs,
} from './model.ts';

export type { StatusInputs } from './model.ts';

/** The status page's file name in its directory (and its key under an S3 prefix). */
export const STATUS_PAGE_FILE = 'index.html';

/** Safe in element content and in quoted attributes. */
export function h(text: string | number): string {
  return sanitizeText(String(text)).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const pct = (x: number | undefined) => (x === undefined ? '–' : x === 1 ? '100%' : `${(Math.floor(x * 10_000) / 100).toFixed(2)}%`);
const ms = (x: number | undefined) => (x === undefined ? '–' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 10 ? `${Math.round(x)} ms` : `${x.toFixed(2)} ms`);
const count = (x: number) => x.toLocaleString('en-US');
const plural = (x: number, word: string) => `${count(x)} ${word}${x === 1 ? '' : 's'}`;

function findingText(f: Pick<Finding, 'code' | 'severity' | 'message' | 'firstStep' | 'resolver' | 'vantage'>): string {
  return `${f.code} (${f.severity}${f.resolver ? ` @${f.resolver}` : ''}${f.vantage ? ` from ${f.vantage}` : ''}): ${f.message}`;
}

function findingDetails(f: Finding): string {
  return `<p><b>${h(f.code)}</b> <span class="sev sev-${f.severity}">${f.severity}</span> ${h(f.message)}</p>${f.firstStep ? `<p class="step">First step: ${h(f.firstStep)}</p>` : ''}`;
}

function charts(row: SeriesRow): string {
  const probes = row.hours.reduce((s, x) => s + x.up + x.down, 0);
  const failing = row.hours.filter((x) => x.down > 0).length;
  const strip = uptimeStrip(row.hours, `Hourly, last 7 days: ${plural(probes, 'probe')}, ${plural(failing, 'hour')} with failures`, h);
  const rtts = row.hours.map((x) => x.p50Ms);
  const known = rtts.filter((v): v is number => v !== undefined);
  const line = known.length ? rttLine(rtts, `Median RTT per hour, last 7 days: ${ms(Math.min(...known))} – ${ms(Math.max(...known))}`, h) : '';
  return `<td class="trend">${strip}${line}</td>`;
}

function seriesTable(rows: SeriesRow[], opts: { subject: string; via: string; vantage: boolean; p95: boolean }): string {
  if (rows.length === 0) return '<p class="empty">Nothing probed yet.</p>';
  const head = [...(opts.vantage ? ['Region'] : []), opts.subject, opts.via, 'Last run', 'p50 RTT', ...(opts.p95 ? ['p95 RTT'] : []), 'Up 24 h', 'Up 7 d', 'Trend (7 d)'];
  const body = rows.map((r) => {
    const cls = r.latest.down > 0 ? (r.latest.up === 0 ? 'down' : 'partial') : 'up';
    const cells = [
      ...(opts.vantage ? [`<td>${h(r.vantage || '–')}</td>`] : []),
      `<th scope="row">${h(r.subject)}</th>`,
      `<td>${h(r.via ?? '–')}</td>`,
      `<td class="num ${cls}" title="${h(`${r.latest.up} of ${r.latest.up + r.latest.down} probes answered as expected at ${humanTime(Date.parse(r.latestAt))}`)}">${count(r.latest.up)}/${count(r.latest.up + r.latest.down)}</td>`,
      `<td class="num">${ms(r.latest.p50Ms)}</td>`,
      ...(opts.p95 ? [`<td class="num">${ms(r.latest.p95Ms)}</td>`] : []),
      `<td class="num">${pct(r.uptime24h)}</td>`,
      `<td class="num">${pct(r.uptime7d)}</td>`,
      charts(r),
    ];
    return `<tr>${cells.join('')}</tr>`;
  });
  return `<table><thead><tr>${head.map((x) => `<th>${x}</th>`).join('')}</tr></thead><tbody>${body.join('')}</tbody></table>`;
}

function matrixSection(m: Matrix): string {
  if (m.columns.length === 0) return '<p class="empty">dns-consistency did not run.</p>';
  const head = m.columns.map((c) => {
    const wide = c.wide.length
      ? `<details class="wide"><summary title="${h(c.wide.map(findingText).join('\n'))}">${plural(c.wide.length, 'problem')}</summary><div class="pop">${c.wide.map(findingDetails).join('')}</div></details>`
      : '';
    const probes = c.up + c.down;
    return `<th data-server="${h(c.server)}" class="${c.wide.length || c.down ? 'col-bad' : ''}">${h(c.server)}<small>${h(c.kind)}${probes ? ` · ${pct(c.up / probes)} up` : ''}</small>${wide}</th>`;
  });
  const rows = m.rows.map((r) => {
    const cells = m.columns.map((c) => {
      const cell = r.cells.get(c.server);
      // A server that answered nothing this run cannot vouch for any name.
      if (!cell && c.up === 0 && c.down > 0) return `<td class="c unknown" data-resolver="${h(c.server)}" title="${h(`no usable answer from ${c.server} this run (see its column)`)}">–</td>`;
      if (!cell) return `<td class="c consistent" data-resolver="${h(c.server)}" title="consistent">✓</td>`;
      const title = cell.findings.map(findingText).join('\n');
      return `<td class="c ${cell.state}" data-resolver="${h(c.server)}"><details><summary title="${h(title)}">${cell.state}</summary><div class="pop">${cell.findings.map(findingDetails).join('')}</div></details></td>`;
    });
    return `<tr data-name="${h(r.name)}" class="row-${r.state}"><th scope="row">${h(r.name)}</th>${cells.join('')}</tr>`;
  });
  const hidden = m.hiddenRows ? `<tr class="summary"><th scope="row">${plural(m.hiddenRows, 'more name')} with findings</th><td colspan="${m.columns.length}">not listed here (the ${m.rows.length} worst are); every one is in the JSON report</td></tr>` : '';
  const healthy = `<tr class="summary healthy"><th scope="row">${plural(m.healthy, 'name')}</th><td colspan="${m.columns.length}">consistent at every server that answered${m.audited ? ` (of ${count(m.audited)} audited)` : ''}</td></tr>`;
  const legend = '<p class="legend"><span class="c consistent">consistent</span> <span class="c stale">stale: a cache hands out what the zone no longer has</span> <span class="c failing">failing: no usable answer</span> <span class="c routed">routed: a routed name (weighted, latency …) whose answer fits no variant</span> — hover a cell for the finding, click it for the first step.</p>';
  return `${legend}<table class="matrix"><thead><tr><th>Dialer</th>${head.join('')}</tr></thead><tbody>${rows.join('')}${hidden}${healthy}</tbody></table>`;
}

function problemsSection(report: Report, inputs: StatusInputs, now: number): string {
  const { problems, more } = openProblems(report, inputs.state);
  if (problems.length === 0) return '<p class="empty ok">No open problems.</p>';
  const rows = problems.map((p) => {
    const f = p.finding;
    const since = Date.parse(p.since);
    const where = [f.resolver ? `@${f.resolver}` : '', f.vantage ? `from ${f.vantage}` : ''].filter(Boolean).join(' ');
    return `<tr class="sev-row-${f.severity}"><td><span class="sev sev-${f.severity}">${f.severity}</span></td><td><b>${h(f.code)}</b> ${h(f.target)} ${h(where)}<div class="msg">${h(f.message)}</div>${p.seenThisRun ? '' : '<div class="msg">not looked at by this run; the alert state still holds it</div>'}</td><td class="since" title="${h(humanTime(since))}">${h(humanTime(since))}<small>${h(humanDuration((now - since) / 1000))}${p.notifiedSince ? `; notified since ${h(humanTime(Date.parse(p.notifiedSince)))}` : ''}</small></td><td class="step">${h(f.firstStep ?? '')}</td></tr>`;
  });
  const tail = more ? `<p>${plural(more, 'more problem')} not listed (every one is in the JSON report).</p>` : '';
  return `<table class="problems"><thead><tr><th>Severity</th><th>Problem</th><th>Failing since</th><th>First step</th></tr></thead><tbody>${rows.join('')}</tbody></table>${tail}`;
}

function ttlSection(report: Report, records: StatusInputs['history'], now: number): string {
  const t = ttlCompliance(report);
  if (!t) return '<p class="empty">ttl-policy did not run.</p>';
  const hours = codeHours(records, now, ['TTL_ABOVE_POLICY']);
  const chart = hours.some((x) => x !== undefined) ? rttLine(hours, `Names over the TTL policy, per hour, last 7 days (at most ${Math.max(0, ...hours.map((x) => x ?? 0))})`, h) : '';
  const fixes = Object.entries(t.fixes).map(([s, n]) => `${n} ${s}`).join(', ');
  const tiles = [
    tile('Compliant', pct(t.compliance), `${count(t.audited - t.over)} of ${count(t.audited)} names within the policy`),
    tile('Over the policy', count(t.over), t.negativeOver ? `names; and ${plural(t.negativeOver, 'zone')} whose negative TTL is too long` : 'names'),
    tile('Longest TTL seen', t.maxTtl === undefined ? '–' : humanDuration(t.maxTtl), 'this run'),
    tile('TTL fixes', fixes || 'none', report.dryRun ? 'dry run: planned only' : 'this run'),
  ].join('');
  const rows = t.offenders.map((f) => `<tr><th scope="row">${h(f.target)}</th><td><b>${h(f.code)}</b></td><td>${h(f.message)}</td></tr>`).join('');
  const more = t.moreOffenders ? `<p>${plural(t.moreOffenders, 'more finding')} not listed.</p>` : '';
  return `<div class="tiles">${tiles}</div>${chart ? `<p class="chart">Names over the policy per hour, 7 days: ${chart}</p>` : ''}${rows ? `<table><thead><tr><th>Name</th><th>Code</th><th>Finding</th></tr></thead><tbody>${rows}</tbody></table>${more}` : ''}`;
}

function tile(label: string, value: string, note: string): string {
  return `<div class="tile"><span>${h(label)}</span><b>${h(value)}</b><small>${h(note)}</small></div>`;
}

const ICE_CHECKS = new Set(['stun-binding', 'turn-allocate', 'ice-policy']);

/** The page; `inputs` default to none (a page of this run alone, with a note saying so). */
export function renderStatusPage(report: Report, inputs: StatusInputs = { history: [], notes: ['No history or alert state was given: this page shows this run alone.'] }): string {
  const now = Date.parse(report.finishedAt);
  const records = withThisRun(report, inputs.history);
  const earliest = records[0]?.finishedAt;
  const verdict = `${verdictWord(report)}: ${countsLine(report)}`;
  const vantage = report.vantage ? ` — ${report.vantage}` : '';
  const notes = inputs.notes.length ? `<ul class="notes">${inputs.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul>` : '';
  const headline = [
    tile('Probes answered, 24 h', pct(overallUptime(records, now, DAY_MS)), 'every check, every server and carrier'),
    tile('Probes answered, 7 d', pct(overallUptime(records, now, WEEK_MS)), earliest ? `history since ${humanTime(Date.parse(earliest))}` : 'no history yet'),
    tile('Findings this run', count(report.summary.findings), countsLine(report)),
    tile('Targets', count(report.summary.targets), `${durationSeconds(report)} s run`),
  ].join('');
  const carriers = seriesRows(records, now, (c) => c === 'sip-options');
  const ice = seriesRows(records, now, (c) => ICE_CHECKS.has(c));
  const dnsServers = seriesRows(records, now, (c) => c === 'dns-consistency');
  const multiVantage = new Set(records.map((r) => r.vantage ?? '')).size > 1 || carriers.some((r) => r.vantage);
  const section = (id: string, title: string, body: string) => `<section id="${id}"><h2>${title}</h2>${body}</section>`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">`,
    `<title>${h(`dialer-audit${vantage}: ${verdict}`)}</title>`,
    `<style>${STATUS_CSS}</style></head><body>`,
    `<header><h1>dialer-audit status${h(vantage)}</h1><p class="verdict ${report.summary.failed ? 'fail' : 'pass'}">${h(verdict)}</p>`,
    `<p class="run">Run ${h(report.runId)} finished ${h(humanTime(now))} after ${durationSeconds(report)} s${report.dryRun ? '' : ' (fixes applied)'}; ${plural(records.length, 'run')} in the last 7 days.</p>${notes}`,
    '<nav><a href="#problems">Open problems</a> <a href="#dns">DNS matrix</a> <a href="#carriers">Carriers</a> <a href="#ice">STUN/TURN</a> <a href="#ttl">TTL policy</a> <a href="#uptime">DNS servers</a></nav></header><main>',
    `<div class="tiles">${headline}</div>`,
    section('problems', 'Open problems', problemsSection(report, inputs, now)),
    section('dns', 'Dialers × DNS servers', matrixSection(dnsMatrix(report))),
    section('carriers', 'Carrier scorecard (SIP OPTIONS)', seriesTable(carriers, { subject: 'Carrier', via: 'Transport', vantage: multiVantage, p95: true })),
    section('ice', 'STUN/TURN servers', seriesTable(ice, { subject: 'Server', via: 'Transport', vantage: multiVantage, p95: false })),
    section('ttl', 'TTL policy', ttlSection(report, records, now)),
    section('uptime', 'DNS servers', seriesTable(dnsServers, { subject: 'Server', via: 'Kind', vantage: multiVantage, p95: true })),
    `</main><footer>Written by dialer-audit at ${h(humanTime(now))}. Up: probes that answered as expected; a week's chart has one mark per hour (green all up, amber some failed, red all failed, grey none).</footer>`,
    '</body></html>',
    '',
  ].join('\n');
}
