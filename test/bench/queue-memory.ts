/**
 * Memory per queued span: what the exporter's queue holds for each span
 * waiting for a collector that does not answer. The real OtlpSpanExporter,
 * pointed at a port nobody listens on, is handed N agent-shaped spans in
 * 64-span chunks (as SpanSink hands them); the figure is the growth of V8's
 * heap plus external memory (Buffers) after a full GC, divided by N. A
 * benchmark, not a test: `npm run -s bench:queue-memory` (needs
 * --expose-gc, which the script passes).
 */
import { OtlpSpanExporter, QUEUED_SPAN_OVERHEAD_BYTES } from '../../src/telemetry/span-exporter';
import { resolveOtlpTraceConfig } from '../../src/config/otel-env';
import { sessionToSpan } from '../../src/telemetry/session-to-span';
import type { SpanRecord } from '../../src/telemetry/span-record';
import { sampleSession } from '../support/sample-session';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function spans(first: number, n: number): SpanRecord[] {
  const out: SpanRecord[] = [];
  for (let k = first; k < first + n; k++) {
    const session = sampleSession({
      localPort: 10000 + (k % 50000),
      role: k % 3 === 0 ? 'server' : 'client',
      bytesSent: k * 4099,
      bytesReceived: k * 7,
      outcome: k % 5 === 0 ? 'refused' : 'closed_locally',
    });
    out.push(sessionToSpan(session, { traceId: (k + 1).toString(16).padStart(32, '0'), spanId: (k + 1).toString(16).padStart(16, 'a') }));
  }
  return out;
}

const used = () => {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

async function main(): Promise<void> {
  const N = Number(process.argv[2] ?? 100_000);
  // Port 9 (discard) on loopback: nothing listens, every attempt fails and is retried.
  const { config } = resolveOtlpTraceConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_SCHEDULE_DELAY: '60000' });
  config.batch.maxQueueBytes = 2 ** 40; // no bound here: every span is held
  const exporter = new OtlpSpanExporter(config, [{ key: 'service.name', value: { string: 'tcplife-otel' } }], { name: 'tcplife-otel', version: '0' });
  exporter.add(spans(0, 64)); // the client and first allocations exist before the baseline
  const before = used();
  let encodedBytes = 0;
  for (let i = 64; i < N + 64; i += 64) {
    const chunk = spans(i, 64);
    exporter.add(chunk);
  }
  const after = used();
  const c = exporter.counters();
  encodedBytes = exporter.queuedBytes() - c.spans_queued * QUEUED_SPAN_OVERHEAD_BYTES;
  const perSpan = (after - before) / N;
  process.stdout.write(
    `${JSON.stringify({ spans: N, queued: c.spans_queued, dropped: c.spans_dropped_queue_full, bytesPerSpan: Math.round(perSpan), encodedBytesPerSpan: Math.round(encodedBytes / c.spans_queued), overheadBytesPerSpan: Math.round(perSpan - encodedBytes / c.spans_queued) })}\n`,
  );
  await exporter.shutdown(0);
}

void main();
