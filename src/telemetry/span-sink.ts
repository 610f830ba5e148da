// Sessions -> spans -> the batching OTLP exporter.
import { randomBytes } from 'node:crypto';
import type { ServiceOf } from '../sessions/service-rules';
import type { SessionSink } from '../sessions/session-sink';
import type { TcpSession } from '../sessions/tcp-session';
import { connectionIds } from '../sessions/connection-ids';
import { sessionToSpan } from './session-to-span';
import type { SpanRecord } from './span-record';
import type { OtlpSpanExporter, SpanExporterCounters } from './span-exporter';

const SPAN_CHUNK = 64;

/** Ids for a session whose connection cannot be identified (its role is unknown). */
function randomIds(): { traceId: string; spanId: string } {
  const hex = randomBytes(24).toString('hex');
  return { traceId: hex.slice(0, 32), spanId: hex.slice(32) };
}

export class SpanSink implements SessionSink {
  /** `serviceOf`: the service.name of a session's span, by the configured rules (replaced at reload). */
  constructor(
    private readonly exporter: OtlpSpanExporter,
    public serviceOf?: ServiceOf,
  ) {}

  open(): void {}

  write(batch: readonly TcpSession[]): void {
    // Span records are handed over (and encoded) a few at a time, so that
    // they die young: see SessionProbe.start.
    for (let first = 0; first < batch.length; first += SPAN_CHUNK) {
      const spans: SpanRecord[] = [];
      for (let i = first; i < Math.min(batch.length, first + SPAN_CHUNK); i++) {
        const span = sessionToSpan(batch[i], connectionIds(batch[i]) ?? randomIds());
        const service = this.serviceOf?.(batch[i]);
        if (service !== undefined) span.service = service;
        spans.push(span);
      }
      this.exporter.add(spans);
    }
  }

  close(timeoutMs: number): Promise<void> {
    return this.exporter.shutdown(timeoutMs);
  }

  counters(): SpanExporterCounters {
    return this.exporter.counters();
  }
}
