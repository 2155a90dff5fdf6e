// The page's charts as inline SVG (no script, no external file): an hourly uptime strip and an
// RTT line over the week. Each chart says what it shows in a <title> (a tooltip, and what a
// screen reader reads); a run of hours in one state is one rectangle, so a week costs a few
// hundred bytes. Pure.
import type { HourBucket } from './model.ts';

const STEP = 2;
const HEIGHT = 16;

export type HourClass = 'none' | 'up' | 'partial' | 'down';

export function hourClass(h: Pick<HourBucket, 'up' | 'down'>): HourClass {
  if (h.up + h.down === 0) return 'none';
  if (h.down === 0) return 'up';
  return h.up === 0 ? 'down' : 'partial';
}

/** Coordinates with at most two decimals. */
const n = (x: number) => String(Math.round(x * 100) / 100);

/** One rectangle per run of hours in the same state, one path per state. */
export function uptimeStrip(hours: HourBucket[], title: string, escape: (s: string) => string): string {
  const paths: Record<HourClass, string[]> = { none: [], up: [], partial: [], down: [] };
  let start = 0;
  for (let i = 1; i <= hours.length; i++) {
    const cls = hourClass(hours[start]);
    if (i < hours.length && hourClass(hours[i]) === cls) continue;
    paths[cls].push(`M${start * STEP} 0h${(i - start) * STEP - 0.5}v${HEIGHT}h-${(i - start) * STEP - 0.5}z`);
    start = i;
  }
  const width = hours.length * STEP;
  const body = (Object.keys(paths) as HourClass[])
    .filter((c) => paths[c].length)
    .map((c) => `<path class="h-${c}" d="${paths[c].join('')}"/>`)
    .join('');
  return `<svg class="strip" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" role="img" aria-label="${escape(title)}"><title>${escape(title)}</title>${body}</svg>`;
}

/** The hourly median RTT as a line; hours without an answer break it. */
export function rttLine(hours: (number | undefined)[], title: string, escape: (s: string) => string): string {
  const width = hours.length * STEP;
  const values = hours.filter((v): v is number => v !== undefined);
  const max = Math.max(...values, 0.001);
  let d = '';
  hours.forEach((v, i) => {
    if (v === undefined) return;
    const x = i * STEP + STEP / 2;
    const y = HEIGHT - 1 - ((HEIGHT - 2) * v) / max;
    const joined = i > 0 && hours[i - 1] !== undefined;
    // An hour alone between gaps is a short dash, so it shows.
    const alone = !joined && hours[i + 1] === undefined;
    d += `${joined ? 'L' : 'M'}${n(x)} ${n(y)}${alone ? 'h1.5' : ''}`;
  });
  const line = d ? `<path class="rtt" d="${d}"/>` : '';
  return `<svg class="line" width="${width}" height="${HEIGHT}" viewBox="0 0 ${width} ${HEIGHT}" role="img" aria-label="${escape(title)}"><title>${escape(title)}</title>${line}</svg>`;
}
