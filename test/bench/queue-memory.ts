/**
 * Memory per queued span: what the exporter's queue holds for each span
 * waiting for a collector that does not answer. The real OtlpSpanExporter,
 * pointed at a port nobody listens on, is handed N agent-shaped spans in
 * 64-span chunks (as SpanSink hands them), with random ids as the agent's
 * are; the figure is the growth of V8's heap plus external memory (Buffers)
 * after a full GC, divided by N. Twice: as a backlog is kept (packed past
 * 4 MiB, the default) and with packing off (as spans are queued while the
 * collector keeps up). A benchmark, not a test:
 * `npm run -s bench:queue-memory` (needs --expose-gc, which the script
 * passes).
 */
import { randomBytes } from 'node:crypto';
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
    const ids = randomBytes(24).toString('hex');
    out.push(sessionToSpan(session, { traceId: ids.slice(0, 32), spanId: ids.slice(32) }));
  }
  return out;
}

const used = () => {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
};

/** Queues N spans behind a collector that never answers; what they take, measured and as the queue counts it. */
async function measure(N: number, packing: boolean): Promise<Record<string, number | boolean>> {
  // Port 9 (discard) on loopback: nothing listens, every attempt fails and is retried.
  const { config } = resolveOtlpTraceConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_BSP_SCHEDULE_DELAY: '60000' });
  config.batch.maxQueueBytes = 2 ** 40; // no bound here: every span is held
  const resource = [{ key: 'service.name', value: { string: 'tcplife-otel' } }];
  // Packing as by default (past 4 MiB), or never.
  const exporter = new OtlpSpanExporter(config, resource, { name: 'tcplife-otel', version: '0' }, undefined, packing ? {} : { packAboveBytes: Infinity });
  exporter.add(spans(0, 64)); // the client and first allocations exist before the baseline
  const before = used();
  const counted = exporter.queuedBytes();
  for (let i = 64; i < N + 64; i += 64) exporter.add(spans(i, 64));
  const after = used();
  const c = exporter.counters();
  const result = {
    packing,
    spans: N,
    queued: c.spans_queued,
    dropped: c.spans_dropped_queue_full,
    bytesPerSpan: Math.round((after - before) / N),
    countedBytesPerSpan: Math.round((exporter.queuedBytes() - counted) / N),
    spansPer64MiB: Math.round((64 * 2 ** 20) / ((exporter.queuedBytes() - counted) / N)),
    ...(packing ? {} : { encodedBytesPerSpan: Math.round((exporter.queuedBytes() - counted) / N - QUEUED_SPAN_OVERHEAD_BYTES) }),
  };
  await exporter.shutdown(0);
  return result;
}

async function main(): Promise<void> {
  const N = Number(process.argv[2] ?? 100_000);
  for (const packing of [false, true]) process.stdout.write(`${JSON.stringify(await measure(N, packing))}\n`);
}

void main();
