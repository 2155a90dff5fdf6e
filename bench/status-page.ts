// The status page at fleet size (part of `npm run bench`; alone: `npx tsx bench/status-page.ts`):
// a report of 50,000 dialers with 1,100 names with findings (stale at one resolver, SERVFAIL at
// another, routed mismatches at a third, a dead resolver, a dead carrier) and a week of history at a
// 5-minute schedule (2,016 runs). Measured: the page's render time (median of 5, after a warm-up),
// its size raw and gzip-compressed, chromium's time to load and lay it out, and one history day of
// 288 runs at its worst (every run finds other names), against the 350 KB cap: its compressed size,
// how many runs kept their finding keys, the time of the day's last append.
// Targets: render ≤ 1 s, page ≤ 2 MB.
import { gzipSync } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { appendRun, emptyDay, historyRecord, MAX_DAY_BYTES, type HistoryDay } from '../src/history/record.ts';
import { renderStatusPage } from '../src/report/status/page.ts';
import { fleetHistory, fleetReport, FLEET_END } from '../test/fixtures/status-fleet.ts';

const SHAPE = { dialers: 50_000, stale: 1000, failing: 50, routed: 50 };
const RUNS_PER_DAY = 288;
const TARGETS = { renderMs: 1000, pageBytes: 2 * 1024 * 1024 };

export interface StatusPageBench {
  dialers: number;
  namesWithFindings: number;
  historyRuns: number;
  renderMs: number;
  pageBytes: number;
  gzipBytes: number;
  /** Navigation to the load event in chromium (undefined when chromium is missing). */
  browserLoadMs?: number;
  dayBytes: number;
  dayRuns: number;
  dayOutcomes: Record<string, number>;
  lastAppendMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function browserLoad(html: string): Promise<number | undefined> {
  let launch: typeof import('../test/lab/browser.ts');
  try {
    launch = await import('../test/lab/browser.ts');
  } catch {
    return undefined;
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'dialer-audit-bench-page-'));
  const file = path.join(dir, 'index.html');
  await writeFile(file, html);
  let browser: Awaited<ReturnType<typeof launch.launchChromium>> | undefined;
  try {
    browser = await launch.launchChromium();
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const opened = await launch.openPage(browser.context, pathToFileURL(file).href);
      times.push(performance.now() - started);
      await opened.close();
    }
    return median(times);
  } catch {
    return undefined;
  } finally {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function benchStatusPage(): Promise<StatusPageBench> {
  const report = fleetReport(SHAPE);
  const history = fleetHistory(SHAPE, 7, RUNS_PER_DAY);
  const inputs = { history, notes: [] };
  renderStatusPage(report, inputs);
  const times: number[] = [];
  let html = '';
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    html = renderStatusPage(report, inputs);
    times.push(performance.now() - started);
  }
  // A day of runs as the stores append them, at its worst: every run finds 200 names no earlier run
  // of the day found (a day stores each key once, so a problem that lasts costs almost nothing).
  let day: HistoryDay = emptyDay('2026-11-23');
  const outcomes: Record<string, number> = {};
  let lastAppendMs = 0;
  let bytes = 0;
  for (let i = 0; i < RUNS_PER_DAY; i++) {
    const made = historyRecord(fleetReport({ ...SHAPE, offset: i * 200, runId: `run-${i}`, finishedAt: FLEET_END - (RUNS_PER_DAY - i) * 300_000 }));
    const record = { ...made, series: made.series.map((s) => (s.p50Ms === undefined ? s : { ...s, p50Ms: s.p50Ms + ((i * 7919) % 1000) / 1000 })) };
    const started = performance.now();
    const appended = appendRun(day, record);
    lastAppendMs = performance.now() - started;
    day = appended.day;
    bytes = appended.bytes.length;
    outcomes[appended.outcome] = (outcomes[appended.outcome] ?? 0) + 1;
  }
  return {
    dialers: SHAPE.dialers,
    namesWithFindings: SHAPE.stale + SHAPE.failing + SHAPE.routed,
    historyRuns: history.length,
    renderMs: median(times),
    pageBytes: Buffer.byteLength(html),
    gzipBytes: gzipSync(html).length,
    browserLoadMs: await browserLoad(html),
    dayBytes: bytes,
    dayRuns: day.runs.length,
    dayOutcomes: outcomes,
    lastAppendMs,
  };
}

export function formatStatusPageBench(b: StatusPageBench): string {
  const kb = (x: number) => `${(x / 1024).toFixed(0)} KiB`;
  return [
    `Status page: ${b.dialers.toLocaleString('en-US')} dialers, ${b.namesWithFindings.toLocaleString('en-US')} names with findings, ${b.historyRuns.toLocaleString('en-US')} runs of history:`,
    `  render ${b.renderMs.toFixed(0)} ms (median of 5; target ≤ ${TARGETS.renderMs} ms ${b.renderMs <= TARGETS.renderMs ? 'ok' : 'OVER'}), page ${kb(b.pageBytes)} (${kb(b.gzipBytes)} gzip; target ≤ ${kb(TARGETS.pageBytes)} ${b.pageBytes <= TARGETS.pageBytes ? 'ok' : 'OVER'})`,
    `  chromium: ${b.browserLoadMs === undefined ? 'not installed' : `loaded and laid out in ${b.browserLoadMs.toFixed(0)} ms (median of 3)`}`,
    `  one history day of ${b.dayRuns} runs, each with 200 finding keys new that day: ${kb(b.dayBytes)} gzip (cap ${kb(MAX_DAY_BYTES)}), ${Object.entries(b.dayOutcomes).map(([k, n]) => `${n} ${k}`).join(', ')}; the day's last append ${b.lastAppendMs.toFixed(1)} ms`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  benchStatusPage()
    .then((b) => process.stdout.write(formatStatusPageBench(b) + '\n'))
    .catch((err: Error) => {
      process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    });
}
