// The README is the user's manual: every finding code and every check is in it, as generated.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkRegistry } from '../../checks/index.ts';
import { readmeWithCodes } from '../../scripts/codes.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('lists every finding code as the checks document them (run `npx tsx scripts/codes.ts --write`)', () => {
    expect(readme).toBe(readmeWithCodes(readme));
  });

  it('names every check and its config key', () => {
    for (const id of Object.keys(checkRegistry)) expect(readme).toContain(`${id}:`);
  });

  it('gives the two commands: the demo and the tests', () => {
    expect(readme).toContain('npm run demo');
    expect(readme).toContain('npm test');
  });
});
