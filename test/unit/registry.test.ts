import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkRegistry } from '../../checks/index.ts';

describe('check registry', () => {
  it('lists exactly the plugin files in checks/, each under its file name', () => {
    // Prepare
    const files = readdirSync(new URL('../../checks/', import.meta.url))
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts')
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    // Act
    const registered = Object.keys(checkRegistry).sort();
    // Assess
    expect(registered).toEqual(files);
    for (const [id, check] of Object.entries(checkRegistry)) expect(check.id).toBe(id);
  });

  it('documents every code with a meaning and a first step', () => {
    for (const check of Object.values(checkRegistry)) {
      for (const [code, doc] of Object.entries(check.codes)) {
        expect(code).toMatch(/^[A-Z][A-Z0-9_]+$/);
        expect(doc.meaning.length, code).toBeGreaterThan(20);
        expect(doc.firstStep.length, code).toBeGreaterThan(20);
      }
    }
  });
});
