// The counters table (src/sessions/counters.ts) is the one declaration: the
// kernel's enum, the metrics and the docs' table agree with it.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { countersReference } from '../../src/config/reference';
import { COUNTERS, KERNEL_COUNTERS, METRICS, type CounterSpec } from '../../src/sessions/counters';

const root = path.resolve(__dirname, '../../..');

/** The enum probe_counter of bpf/session_event.h, constant -> value. */
function kernelEnum(): Map<string, number> {
  const header = readFileSync(path.join(root, 'bpf/session_event.h'), 'utf8');
  const body = /enum probe_counter \{([\s\S]*?)\};/.exec(header);
  assert.ok(body, 'enum probe_counter not found in bpf/session_event.h');
  const out = new Map<string, number>();
  for (const m of body[1].matchAll(/\b(COUNTER_[A-Z_]+)\s*=\s*(\d+)/g)) out.set(m[1], Number(m[2]));
  return out;
}

describe('counters table', () => {
  const table = COUNTERS as readonly CounterSpec[];

  it("names every slot of the kernel's counters map with its enum value, and no other", () => {
    const enumValues = kernelEnum();
    const max = enumValues.get('COUNTER_MAX');
    enumValues.delete('COUNTER_MAX');
    assert.equal(max, enumValues.size, 'COUNTER_MAX counts the slots');
    const declared = new Map(table.filter((c) => c.kernel).map((c) => [c.kernel!.constant, c.kernel!.index]));
    assert.deepEqual([...declared].sort(), [...enumValues].sort());
    assert.equal(KERNEL_COUNTERS.length, enumValues.size);
  });

  it('names are unique snake_case; kernel counters come from the kernel', () => {
    assert.equal(new Set(table.map((c) => c.name)).size, table.length);
    for (const c of table) {
      assert.match(c.name, /^[a-z]+(_[a-z]+)*$/, c.name);
      if (c.kernel) assert.equal(c.source, 'kernel', c.name);
      assert.ok(c.meaning.length > 10, `${c.name} says what it means`);
    }
  });

  it('every metric is fed, by reported counters only, told apart by their attributes', () => {
    for (const name of Object.keys(METRICS)) {
      const feeds = table.filter((c) => c.metric?.name === name);
      assert.ok(feeds.length > 0, `${name} is fed by no counter`);
      const attributes = feeds.map((c) => JSON.stringify(c.metric?.attributes ?? {}));
      assert.equal(new Set(attributes).size, feeds.length, `${name}: two counters with the same attributes`);
      for (const c of feeds) assert.ok(!c.diagnostic, `${c.name} is a diagnostic but feeds ${name}`);
    }
  });

  it('docs/counters.md lists every reported counter exactly as the table declares it (regenerate with npm run -s counters-reference)', () => {
    const page = readFileSync(path.join(root, 'docs/counters.md'), 'utf8');
    const m = /<!-- counters-table:[^\n]*-->\n([\s\S]*?)\n<!-- counters-table end -->/.exec(page);
    assert.ok(m, 'counters table markers not found in docs/counters.md');
    assert.equal(m[1], countersReference());
  });
});
