// The mapping of the agent's counters to OTel metrics.
import { strict as assert } from 'node:assert';
import { Agent } from '../../src/agent';
import type { SessionProbe } from '../../src/kernel/probe';
import { NO_KERNEL_FILTERS } from '../../src/kernel/probe-types';
import { COUNTER_METRICS, groupByMetric } from '../../src/telemetry/counter-metrics';
import { SpanSink } from '../../src/telemetry/span-sink';
import type { OtlpSpanExporter } from '../../src/telemetry/span-exporter';

describe('counter metrics', () => {
  it('every counter the agent and the span sink report has a metric, and no metric names a missing counter', () => {
    // Only the counters' names matter here: the probe and exporter answer with zeros.
    const probe = {
      counters: () => ({ filtered: 0, ringbufFull: 0, recursionMisses: 0, nestedHandled: 0, ownerRecursionMisses: 0, storageFailed: 0, birthMissed: 0, malformed: 0 }),
    } as unknown as SessionProbe;
    const exporter = {
      counters: () => ({ exported: 0, dropped_queue_full: 0, dropped_rejected: 0, dropped_shutdown: 0, export_failures: 0, queued: 0 }),
    } as unknown as OtlpSpanExporter;
    const keys = Object.keys(new Agent(probe, NO_KERNEL_FILTERS, [new SpanSink(exporter)]).counters());
    assert.deepEqual([...COUNTER_METRICS.map((m) => m.counter)].sort(), [...keys].sort());
  });

  it('streams that share a name agree on unit, description and kind, and differ by their attributes', () => {
    for (const [name, feeds] of groupByMetric(COUNTER_METRICS)) {
      assert.match(name, /^tcplife\.[a-z_.]+$/);
      for (const f of feeds) {
        assert.equal(f.unit, feeds[0].unit, name);
        assert.equal(f.description, feeds[0].description, name);
        assert.equal(!!f.gauge, !!feeds[0].gauge, name);
      }
      const attrs = feeds.map((f) => JSON.stringify(f.attributes ?? {}));
      assert.equal(new Set(attrs).size, feeds.length, `${name}: two counters with the same attributes`);
    }
  });

  it('every loss has a reason attribute', () => {
    for (const m of COUNTER_METRICS.filter((m) => /lost|dropped/.test(m.name))) assert.ok(m.attributes?.reason, m.counter);
  });
});
