// The status page from real lab runs, in a real browser (Debian's chromium via playwright-core):
// the DNS lab with one stale resolver (the stale-cache outage, as in dns-consistency.test.ts), a
// carrier answered by SIPp and one where nothing listens, coturn as the STUN server; three
// `audit --notify` runs build the history and alert state, the third writes `--output html=DIR`.
// The page renders without a console error, requests nothing beyond itself, and the matrix cell
// of the stale resolver shows the finding. DIALER_AUDIT_SCREENSHOT=docs/status-page.png saves
// the README's screenshot from this run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { main } from '../../src/entry/cli.ts';
import { capture as captureIo } from '../support/cli.ts';
import { launchChromium, openPage, screenshot } from '../lab/browser.ts';
import { startCoturnLab, type CoturnLab } from '../lab/coturn.ts';
import { connectDnsLab } from '../lab/dns-lab.ts';
import { startSippUas, type SippUas } from '../lab/sipp.ts';

const info = inject('dnsLab');
const lab = connectDnsLab(info);
const zone = info.zone;
const stale = `status-page-replay.${zone}`;
const steady = `status-page-steady.${zone}`;
const prefix = `127.100.${1 + Math.floor(Math.random() * 250)}`;

let dir: string;
let coturn: CoturnLab | undefined;
let sipp: SippUas | undefined;
let configFile: string;

const capture = () => captureIo({ DIALER_AUDIT_VANTAGE: 'lab-berlin' });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-status-page-'));
  [coturn, sipp] = await Promise.all([startCoturnLab({ prefix }), startSippUas({ address: `${prefix}.10`, transport: 'udp', answer: 200 })]);
  await lab.setRecords(stale, 'A', 86400, ['127.61.0.1']);
  await lab.setRecords(steady, 'A', 300, ['127.61.0.5']);
  configFile = path.join(dir, 'dialer-audit.yaml');
  // JSON is YAML: the lab's addresses as the config names them.
  writeFileSync(
    configFile,
    JSON.stringify({
      resolvers: info.resolvers,
      authoritative: info.authoritative,
      targets: { dialers: [stale, steady, `acme.${zone}`] },
      checks: {
        'dns-consistency': { recordTypes: ['A'] },
        'ttl-policy': { recordTypes: ['A'] },
        'sip-options': { fragmentation: false, timeout: '1s' },
        'stun-binding': { timeout: '1s' },
      },
      carriers: [
        { name: 'carrier-a', uri: `${prefix}.10:5060`, transports: ['udp'] },
        // Nothing listens here: every probe times out.
        { name: 'carrier-dead', uri: `${prefix}.12:5060`, transports: ['udp'] },
      ],
      stun: { servers: [{ uri: `stun:${coturn.longTerm.ip}:3478`, transports: ['udp', 'tcp'] }] },
      dns: { timeout: '400ms', retries: 1 },
      state: { file: path.join(dir, 'state', 'state.json') },
    }),
  );
}, 120_000);

afterAll(async () => {
  await Promise.all([sipp?.stop(), coturn?.stop(), lab.flush('pub1', stale)]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the status page from a lab run, in chromium', () => {
  it('shows the stale resolver in the matrix, renders without console errors and requests nothing but itself', async () => {
    // Prepare: two runs while every resolver agrees, then the address moves and pub1 keeps its copy.
    for (let i = 0; i < 2; i++) expect([0, 1]).toContain(await main(['audit', '--config', configFile, '--notify', '--quiet'], capture()));
    await lab.setRecords(stale, 'A', 86400, ['127.61.0.2']);
    await lab.flush('pub2', stale);
    await lab.flush('pub3', stale);
    const pageDir = path.join(dir, 'page');
    const io = capture();
    // Act
    const code = await main(['audit', '--config', configFile, '--notify', '--quiet', '--output', `html=${pageDir}`], io);
    const browser = await launchChromium();
    try {
      const url = pathToFileURL(path.join(pageDir, 'index.html')).href;
      const opened = await openPage(browser.context, url);
      const { page } = opened;
      const cell = page.locator(`tr[data-name="${stale}"] td[data-resolver="pub1"]`);
      const summary = cell.locator('summary');
      const hoverText = await summary.getAttribute('title');
      await summary.click();
      const clicked = await cell.locator('.pop').innerText();
      if (process.env.DIALER_AUDIT_SCREENSHOT) await screenshot(page, path.resolve(process.env.DIALER_AUDIT_SCREENSHOT));
      const healthyCell = await page.locator(`tr[data-name="${stale}"] td[data-resolver="pub2"]`).getAttribute('class');
      const matrixNames = await page.locator('table.matrix tbody tr[data-name]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')));
      const carriers = await page.locator('#carriers tbody tr').allInnerTexts();
      const problems = await page.locator('#problems tbody tr').allInnerTexts();
      await opened.close();

      // Assess: the run found the stale answer and the dead carrier (exit 1), wrote the page.
      expect(code).toBe(1);
      expect(io.err()).not.toMatch(/html=|not written/);
      expect(opened.errors).toEqual([]);
      expect(opened.requests).toEqual([url]);
      expect(await cell.getAttribute('class').catch(() => 'closed')).toBeDefined();
      expect(hoverText).toContain('DNS_MISMATCH');
      expect(hoverText).toContain('127.61.0.1');
      expect(clicked).toMatch(/DNS_MISMATCH[\s\S]*127.61.0.2[\s\S]*First step: Ask the operator of pub1 to flush the name/);
      expect(healthyCell).toContain('consistent');
      expect(matrixNames).toEqual([stale]);
      expect(carriers.find((r) => r.includes('carrier-dead'))).toMatch(/0\/1/);
      expect(carriers.find((r) => r.includes('carrier-a'))).toMatch(/1\/1[\s\S]*100%/);
      // The dead carrier fails since the first run; the history and the state were read.
      expect(problems.some((p) => p.includes('carrier-dead'))).toBe(true);
      const html = readFileSync(path.join(pageDir, 'index.html'), 'utf8');
      expect(html).toContain('3 runs in the last 7 days');
    } finally {
      await browser.close();
    }
  });
});
