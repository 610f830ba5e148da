// Sessions -> spans -> the batching OTLP exporter.
import { randomBytes } from 'node:crypto';
import type { SessionSink } from '../sessions/session-sink';
import type { TcpSession } from '../sessions/tcp-session';
import { sessionToSpan } from './session-to-span';
import type { OtlpSpanExporter } from './span-exporter';

export class SpanSink implements SessionSink {
  constructor(private readonly exporter: OtlpSpanExporter) {}

  open(): void {}

  write(batch: readonly TcpSession[]): void {
    // One random draw per batch: 16 bytes of trace id and 8 of span id each.
    const ids = randomBytes(batch.length * 24).toString('hex');
    const spans = batch.map((s, i) =>
      sessionToSpan(s, { traceId: ids.slice(i * 48, i * 48 + 32), spanId: ids.slice(i * 48 + 32, i * 48 + 48) }),
    );
    this.exporter.add(spans);
  }

  close(timeoutMs: number): Promise<void> {
    return this.exporter.shutdown(timeoutMs);
  }

  counters(): Record<string, number> {
    const c = this.exporter.counters();
    return {
      spans_exported: c.exported,
      spans_dropped_queue_full: c.dropped_queue_full,
      spans_dropped_rejected: c.dropped_rejected,
      spans_dropped_shutdown: c.dropped_shutdown,
      span_export_failures: c.export_failures,
      spans_queued: c.queued,
    };
  }
}
