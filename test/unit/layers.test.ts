// src/ is layered by the data flow: each directory imports only from the
// layers below it, and no chain of imports between files runs in a circle.
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const SRC = path.resolve(__dirname, '../../../src');

/**
 * Lower ranks are imported by higher ones, never the reverse; layers of one
 * rank do not import each other. The domain (sessions/) is at the bottom;
 * config/ turns the user's settings into each layer's options; agent.ts wires
 * the layers; cli.ts is flags -> config -> agent.
 */
const RANKS: Record<string, number> = {
  sessions: 0,
  kernel: 1,
  container: 1,
  output: 2,
  telemetry: 2,
  config: 3,
  'agent.ts': 4,
  'cli.ts': 5,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** The src files a file imports (static imports, re-exports, require() and import()). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => `${path.resolve(path.dirname(file), s)}.ts`).filter((f) => f.startsWith(SRC));
}

const layerOf = (file: string) => path.relative(SRC, file).split(path.sep)[0];

describe('src/ layers', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it('finds the files and their imports (the scan works)', () => {
    assert.ok(files.length > 30, `${files.length} files`);
    assert.ok(graph.get(path.join(SRC, 'cli.ts'))!.includes(path.join(SRC, 'agent.ts')));
  });

  it('every file belongs to a known layer', () => {
    const unknown = files.map(layerOf).filter((l) => RANKS[l] === undefined);
    assert.deepEqual([...new Set(unknown)], [], 'add the new layer to RANKS, with its place in the data flow');
  });

  it('imports run one way: down the layers, never up or sideways', () => {
    const wrong: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        const from = layerOf(file);
        const to = layerOf(dep);
        if (from !== to && !(RANKS[to] < RANKS[from])) wrong.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, dep)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('no import cycles between files', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(SRC, f)).join(' -> '));
        return;
      }
      state.set(file, 'visiting');
      for (const dep of graph.get(file) ?? []) visit(dep, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    assert.deepEqual(cycles, []);
  });
});

describe('test/unit/ needs no native build', () => {
  const UNIT = path.resolve(__dirname, '../../../test/unit');
  const ADDON = [path.join(SRC, 'kernel/binding.ts'), path.join(SRC, 'kernel/probe.ts')];

  /** Files reached through imports that exist at run time (not `import type`), from test or src files. */
  function runtimeClosure(start: string): Set<string> {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      const specs = [...text.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?from\s+'(\.{1,2}\/[^']+)'|require\(\s*'(\.{1,2}\/[^']+)'/gm)].map(
        (m) => m[1] ?? m[2],
      );
      for (const s of specs) {
        const dep = `${path.resolve(path.dirname(file), s)}.ts`;
        if (dep.startsWith(SRC) || dep.startsWith(path.dirname(UNIT))) {
          try {
            readFileSync(dep);
          } catch {
            continue; // a .js helper or JSON: not TypeScript source
          }
          visit(dep);
        }
      }
    };
    visit(start);
    return seen;
  }

  it('no unit test loads the addon (src/kernel/binding.ts, src/kernel/probe.ts): tests that need it are in e2e/', () => {
    const tests = readdirSync(UNIT).filter((f) => f.endsWith('.test.ts'));
    assert.ok(tests.length > 20, `${tests.length} unit tests found`);
    const loading = tests.filter((t) => ADDON.some((a) => runtimeClosure(path.join(UNIT, t)).has(a)));
    assert.deepEqual(loading, []);
    // The scan sees the addon where it is loaded.
    assert.ok(
      ADDON.some((a) => runtimeClosure(path.join(SRC, 'cli.ts')).has(a)),
      'cli.ts reaches the addon',
    );
  });
});
