// `npm run build:lambda [-- --config FILE] [--outdir DIR]`: the Lambda artifact serverless.yml
// packages — one minified ESM bundle (the AWS SDK inside it: the runtime's own SDK version is not
// ours to pin) and the config file next to it.
import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { parseConfigYaml } from '../src/config-load.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface BuildLambdaOptions {
  /** The config to bundle (default: dialer-audit.yaml in the project root). */
  config?: string;
  /** Default: dist/lambda. */
  outdir?: string;
}

export interface BuiltLambda {
  /** The entry Lambda imports (handler: index.handler). */
  bundle: string;
  config: string;
  /** Every file of the bundle (entry and lazily loaded chunks). */
  files: string[];
  /** Their total size. */
  bytes: number;
}

/**
 * zod's classic API re-exports its 60-odd message locales as one namespace, so none is tree-shaken;
 * we only ever use English (the default). This keeps ~250 KB out of the bundle's parse at cold start.
 */
const zodEnglishOnly: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: path.join(path.dirname(args.importer), '../locales/en.js'), namespace: 'zod-locales' } : undefined,
    );
    // `z.locales` then holds `en` only.
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({ contents: `export { default as en } from ${JSON.stringify(args.path)};`, resolveDir: path.dirname(args.path) }));
  },
};

export async function buildLambda(opts: BuildLambdaOptions = {}): Promise<BuiltLambda> {
  const outdir = path.resolve(opts.outdir ?? path.join(root, 'dist/lambda'));
  const configSource = path.resolve(opts.config ?? path.join(root, 'dialer-audit.yaml'));
  try {
    await stat(configSource);
  } catch {
    throw new Error(`${configSource}: no such config file (write one with \`dialer-audit init\`, then pass it with --config)`);
  }
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const bundle = path.join(outdir, 'index.mjs');
  const result = await build({
    entryPoints: { index: path.join(root, 'src/entry/lambda.ts') },
    outdir,
    outExtension: { '.js': '.mjs' },
    // Code behind a dynamic import (the SSM client, needed only for ssm: secrets) goes into its own
    // chunk, so a cold start does not parse it when the config has none.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    bundle: true,
    metafile: true,
    plugins: [zodEnglishOnly],
    platform: 'node',
    format: 'esm',
    // The AWS SDK's ESM build (dist-es) first: esbuild's default for node prefers "main" (dist-cjs),
    // and a CommonJS module loaded with a dynamic import() exposes only `default`, so
    // `(await import('@aws-sdk/client-route-53')).Route53Client` was undefined in the bundle.
    mainFields: ['module', 'main'],
    // serverless.yml deploys to nodejs24.x; CI imports and invokes this bundle on Node 24.
    target: 'node24',
    minify: true,
    legalComments: 'none',
    // CommonJS dependencies inside an ESM bundle still call require() for Node's built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  const config = path.join(outdir, 'dialer-audit.yaml');
  await copyFile(configSource, config);
  // A large fleet's list (targets.dialersFile) travels with the config, at the same relative path.
  const list = dialersFileOf(await readFile(configSource, 'utf8'), configSource);
  if (list) {
    if (path.isAbsolute(list)) throw new Error(`${configSource}: targets.dialersFile must be relative to the config to be bundled (got ${list})`);
    await mkdir(path.dirname(path.join(outdir, list)), { recursive: true });
    await copyFile(path.resolve(path.dirname(configSource), list), path.join(outdir, list));
  }
  const files = Object.keys(result.metafile.outputs).map((f) => path.resolve(f));
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  return { bundle, config, files, bytes };
}

/** `targets.dialersFile` of the config text, read without validating the rest (secrets need not be set to build). */
function dialersFileOf(text: string, source: string): string | undefined {
  const raw = parseConfigYaml(text, source) as { targets?: { dialersFile?: unknown } } | null;
  const file = raw?.targets?.dialersFile;
  return typeof file === 'string' && file ? file : undefined;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { config: { type: 'string' }, outdir: { type: 'string' } } });
  buildLambda(values)
    .then((b) => process.stdout.write(`${path.relative(process.cwd(), b.bundle)} (${b.files.length} file${b.files.length === 1 ? '' : 's'}, ${(b.bytes / 1024).toFixed(0)} KiB) + ${path.relative(process.cwd(), b.config)}\n`))
    .catch((err: Error) => {
      process.stderr.write(`build:lambda: ${err.message}\n`);
      process.exitCode = 1;
    });
}
