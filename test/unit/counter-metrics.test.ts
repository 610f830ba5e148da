// The mapping of the agent's counters to OTel metrics.
import { strict as assert } from 'node:assert';
import { OwnerCgroups } from '../../src/container/container-ids';
import { Agent } from '../../src/agent';
import type { SessionProbe } from '../../src/kernel/probe';
import { NO_KERNEL_FILTERS } from '../../src/kernel/probe-types';
import { COUNTER_METRICS } from '../../src/telemetry/counter-metrics';
import { SpanSink } from '../../src/telemetry/span-sink';
import type { OtlpSpanExporter } from '../../src/telemetry/span-exporter';

describe('counter metrics', () => {
  it('every counter the agent and the span sink report has a metric, and no metric names a missing counter', () => {
    // Only the counters' names matter here: the probe and exporter answer with zeros.
    const probe = {
      counters: () => ({
        sessions_filtered: 0,
        lost_ringbuf_full: 0,
        skipped_state_changes: 0,
        nested_state_changes: 0,
        skipped_owner_checks: 0,
        state_alloc_failed: 0,
        sessions_partial: 0,
        malformed_records: 0,
        sessions_emitted: 0,
        sessions_delivered: 0,
        ringbuf_wakeups: 0,
        programs: [],
      }),
    } as unknown as SessionProbe;
    const exporter = {
      counters: () => ({
        spans_exported: 0,
        spans_dropped_queue_full: 0,
        spans_dropped_rejected: 0,
        spans_dropped_shutdown: 0,
        span_export_failures: 0,
        spans_queued: 0,
      }),
    } as unknown as OtlpSpanExporter;
    const keys = Object.keys(new Agent(probe, NO_KERNEL_FILTERS, [new SpanSink(exporter)], undefined, new OwnerCgroups()).counters());
    assert.deepEqual(COUNTER_METRICS.flatMap((m) => m.feeds.map((f) => f.counter)).sort(), [...keys].sort());
  });

  it('metric names are unique and well formed; the counters of one metric differ by their attributes', () => {
    assert.equal(new Set(COUNTER_METRICS.map((m) => m.name)).size, COUNTER_METRICS.length);
    for (const m of COUNTER_METRICS) {
      assert.match(m.name, /^tcplife\.[a-z_.]+$/);
      const attrs = m.feeds.map((f) => JSON.stringify(f.attributes ?? {}));
      assert.equal(new Set(attrs).size, m.feeds.length, `${m.name}: two counters with the same attributes`);
    }
  });

  it('every loss has a reason attribute', () => {
    for (const m of COUNTER_METRICS.filter((m) => /lost|dropped/.test(m.name))) {
      for (const f of m.feeds) assert.ok(f.attributes?.reason, f.counter);
    }
  });
});
