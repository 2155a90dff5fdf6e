// The Lambda bundle's weight: its size, and its cold import time — a fresh `node` process that
// imports it, against a fresh `node -e ''` in the same run (same machine, same load), several
// times each, interleaved, median. Targets: ≤ 2 MB, cold import ≤ 300 ms.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildLambda } from '../scripts/build-lambda.ts';

export interface BundleBench {
  /** All files of the bundle (entry and lazy chunks), bytes. */
  bytes: number;
  /** The entry file alone (what a cold start parses before the first invocation). */
  entryBytes: number;
  files: number;
  /** The Node that imported it (the bench's own, e.g. v24.x: the Lambda runtime's line). */
  node: string;
  repetitions: number;
  /** Median wall time of `node -e "await import(bundle)"`. */
  importProcessMs: number;
  /** Median wall time of `node -e ''`. */
  baselineProcessMs: number;
  /** importProcessMs − baselineProcessMs: what importing the bundle costs. */
  coldImportMs: number;
  /** The same difference in CPU time (user + system): less sensitive to a busy machine. */
  coldImportCpuMs: number;
  /** 1-minute load average while measuring: wall times on a loaded machine run long. */
  loadAverage: number;
  /** importProcessMs / baselineProcessMs. */
  ratio: number;
  targets: { maxBytes: number; maxColdImportMs: number; bytesOk: boolean; coldImportOk: boolean };
}

const MAX_BYTES = 2 * 1024 * 1024;
const MAX_COLD_IMPORT_MS = 300;

/** Wall time of a fresh `node` process, and the CPU time it used (user + system), in ms. */
function timeProcess(args: string[]): Promise<{ wallMs: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) return reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`));
      const cpu = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { user?: number; system?: number };
      resolve({ wallMs, cpuMs: ((cpu.user ?? 0) + (cpu.system ?? 0)) / 1000 });
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const MINIMAL_CONFIG = `resolvers:
  - { name: lab, address: 127.0.0.1 }
targets:
  dialers: [acme.dialer.test]
checks:
  dns-consistency: {}
`;

/** Builds the bundle into a temp dir (or measures an already built one) and times its cold import. */
export async function benchBundle(opts: { repetitions?: number; bundle?: { entry: string; bytes: number; entryBytes: number; files: number } } = {}): Promise<BundleBench> {
  const repetitions = opts.repetitions ?? 7;
  const dir = await mkdtemp(path.join(tmpdir(), 'dialer-audit-bundle-bench-'));
  try {
    let built = opts.bundle;
    if (!built) {
      const config = path.join(dir, 'config.yaml');
      await writeFile(config, MINIMAL_CONFIG);
      const b = await buildLambda({ config, outdir: path.join(dir, 'lambda') });
      built = { entry: b.bundle, bytes: b.bytes, entryBytes: (await stat(b.bundle)).size, files: b.files.length };
    }
    // Both print their CPU usage last, so the baseline pays for the same one line of work.
    const report = 'process.stdout.write(JSON.stringify(process.cpuUsage()) + "\\n")';
    const baselineArgs = ['-e', report];
    const importArgs = ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(built.entry).href)}); ${report}`];
    // One warm-up of each so the first sample does not pay for a cold page cache.
    await timeProcess(baselineArgs);
    await timeProcess(importArgs);
    const baseline: { wallMs: number; cpuMs: number }[] = [];
    const imported: { wallMs: number; cpuMs: number }[] = [];
    for (let i = 0; i < repetitions; i++) {
      baseline.push(await timeProcess(baselineArgs));
      imported.push(await timeProcess(importArgs));
    }
    const importProcessMs = median(imported.map((s) => s.wallMs));
    const baselineProcessMs = median(baseline.map((s) => s.wallMs));
    const coldImportMs = Math.max(0, importProcessMs - baselineProcessMs);
    const coldImportCpuMs = Math.max(0, median(imported.map((s) => s.cpuMs)) - median(baseline.map((s) => s.cpuMs)));
    return {
      bytes: built.bytes,
      entryBytes: built.entryBytes,
      files: built.files,
      node: process.version,
      repetitions,
      importProcessMs: Math.round(importProcessMs),
      baselineProcessMs: Math.round(baselineProcessMs),
      coldImportMs: Math.round(coldImportMs),
      coldImportCpuMs: Math.round(coldImportCpuMs),
      loadAverage: Number(loadavg()[0].toFixed(2)),
      ratio: Number((importProcessMs / baselineProcessMs).toFixed(2)),
      targets: { maxBytes: MAX_BYTES, maxColdImportMs: MAX_COLD_IMPORT_MS, bytesOk: built.bytes <= MAX_BYTES, coldImportOk: coldImportMs <= MAX_COLD_IMPORT_MS },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One line for `npm run bench`. */
export function formatBundleBench(b: BundleBench): string {
  return (
    `lambda bundle: ${(b.bytes / 1024).toFixed(0)} KiB in ${b.files} files (entry ${(b.entryBytes / 1024).toFixed(0)} KiB; target ≤ ${b.targets.maxBytes / 1024 / 1024} MB ${b.targets.bytesOk ? 'ok' : 'OVER'}), ` +
    `cold import on Node ${b.node} ${b.coldImportMs} ms wall / ${b.coldImportCpuMs} ms CPU (node+import ${b.importProcessMs} ms vs node -e '' ${b.baselineProcessMs} ms = ${b.ratio}×, median of ${b.repetitions}, load ${b.loadAverage}; target ≤ ${b.targets.maxColdImportMs} ms ${b.targets.coldImportOk ? 'ok' : 'OVER'})`
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  benchBundle().then((b) => process.stdout.write(formatBundleBench(b) + '\n'));
}
