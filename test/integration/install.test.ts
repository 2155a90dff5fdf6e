// Installing dialer-audit outside this repository, as the README's "Install" section says: from a
// packed tarball into a prefix of its own (a global-style install), and from a git URL into a
// folder of its own — here a git+file:// URL of this very repository, so nothing leaves the
// machine but npm's own registry requests for the dependencies (answered from its cache when it can).
// The installed bin must run: version, init, validate.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const npmFlags = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** The installed command: prints its version, writes a starter config, and validates it. */
async function exercise(bin: string, dir: string): Promise<string> {
  const version = (await run(bin, ['--version'])).stdout.trim();
  const config = path.join(dir, 'dialer-audit.yaml');
  await run(bin, ['init', '--config', config]);
  const { stdout } = await run(bin, ['validate', '--config', config]);
  expect(stdout).toContain('valid (2 checks: dns-consistency, ttl-policy)');
  return version;
}

describe('install outside the repository', () => {
  it.concurrent('from a packed tarball into a prefix: the bin runs, LICENSE and the build are in the package', { timeout: 240_000 }, async () => {
    // Prepare: pack what `npm ci` built (dist/), as a release would.
    const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-pack-'));
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, ...npmFlags], { cwd: root });
    const tarball = path.join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
    // Act
    await run('npm', ['install', '--global', '--prefix', path.join(dir, 'prefix'), tarball, ...npmFlags], { cwd: dir });
    // Assess
    expect(await exercise(path.join(dir, 'prefix/bin/dialer-audit'), dir)).toBe(pkg.version);
    const installed = path.join(dir, 'prefix/lib/node_modules/dialer-audit');
    expect(readFileSync(path.join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
    expect(readdirSync(installed).sort()).toEqual(['LICENSE', 'README.md', 'bin', 'config', 'dist', 'node_modules', 'package.json']);
  });

  it.concurrent('from a git URL into a folder: npm clones, builds with the dev tools, and npx finds the bin', { timeout: 240_000 }, async () => {
    // Prepare
    const dir = mkdtempSync(path.join(tmpdir(), 'dialer-audit-git-'));
    writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
    // Act
    await run('npm', ['install', `git+file://${root}`, ...npmFlags], { cwd: dir });
    // Assess
    expect(await exercise(path.join(dir, 'node_modules/.bin/dialer-audit'), dir)).toBe(pkg.version);
    const { stdout } = await run('npx', ['--no-install', 'dialer-audit', '--version'], { cwd: dir });
    expect(stdout.trim()).toBe(pkg.version);
  });
});

describe('LICENSE', () => {
  it('is the license package.json names', () => {
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} /);
  });
});
