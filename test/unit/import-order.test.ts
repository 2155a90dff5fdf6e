// A check module imported before anything else must load, and no module of src/ or checks/ imports
// itself back through others — type imports included, so layers stay layers: checks below the
// config loader, transports below the DNS client, the audit above its targets.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dnsConsistency } from '../../checks/dns-consistency.ts';

const root = path.resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(dir, f));
}

/** Each file's relative imports and re-exports (static, dynamic and type-only). */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(path.join(root, file), 'utf8');
    const targets = [...text.matchAll(/(?:from\s+|import\()'(\.{1,2}\/[^']+)'/g)].map((m) => path.join(path.dirname(file), m[1]));
    graph.set(file, targets.filter((t) => known.has(t)));
  }
  return graph;
}

/** Every cycle's files, found by depth-first search (one path per cycle is enough to name it). */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    trail.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') found.push([...trail.slice(trail.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    trail.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('import order', () => {
  it('a check can be the first module imported', () => {
    expect(dnsConsistency.id).toBe('dns-consistency');
  });

  it('no module of src/ or checks/ imports itself back through others', () => {
    // Prepare
    const graph = importGraph([...sourceFiles('src'), ...sourceFiles('checks')]);
    // Act
    const found = cycles(graph).map((c) => c.join(' → '));
    // Assess
    expect(graph.size).toBeGreaterThan(100);
    expect(found).toEqual([]);
  });
});
