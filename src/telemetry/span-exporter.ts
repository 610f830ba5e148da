/**
 * Batching OTLP/gRPC span exporter: SpanRecords in, ExportTraceServiceRequest
 * protobuf (otlp-encoder) out through a bare @grpc/grpc-js client (identity
 * serializers, no generated stubs, no OpenTelemetry SDK).
 *
 * Buffering. Every span not yet exported or dropped, including the batch in
 * flight, counts against config.batch.maxQueueSize; `add` drops what does not
 * fit (spans_dropped_queue_full) and never throws. So with the collector down the
 * buffer fills, and every later span is dropped and counted, deterministically.
 * A batch (the oldest maxExportBatchSize spans) is sent as soon as that many
 * are waiting, else scheduleDelayMs after the first waiting span (the timer is
 * unref'd). One export is in flight at a time.
 *
 * Retry policy. Retryable codes follow the OTLP specification's list
 * (CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS)
 * plus RESOURCE_EXHAUSTED unconditionally (the spec asks for RetryInfo, which
 * we do not parse: treating it as throttling is the safe reading). A failed
 * attempt with such a code retries the SAME batch after a full-jitter
 * exponential backoff, random in [0, min(cap, base * 2^attempt)] (base 100 ms,
 * cap 5 s), for as long as it takes: the bounded buffer, not a retry limit, is
 * what protects memory. Any other code (INVALID_ARGUMENT, UNIMPLEMENTED,
 * PERMISSION_DENIED, UNAUTHENTICATED, INTERNAL, ...) drops the batch
 * (spans_dropped_rejected). Every failed attempt counts in span_export_failures. A span
 * the encoder refuses (RangeError: invalid record) is dropped as rejected too,
 * alone, when it is added.
 *
 * Spans are encoded when they are added (otlp-encoder's encodeSpanFields): the
 * queue holds bytes, not objects, which keeps a long queue out of V8's heap.
 * A span a service rule named (SpanRecord.service) goes out under a resource
 * whose service.name is that name: a request holds one ResourceSpans per
 * resource in its batch.
 * The grpc channel's own reconnect backoff is capped at the retry cap, so a
 * collector that comes back is noticed within about that long.
 *
 * Each attempt has deadline config.timeoutMs (batch.exportTimeoutMs is not
 * used: retries are unbounded until shutdown). Metadata comes from
 * config.headers; gzip from config.compression.
 *
 * shutdown(timeoutMs) stops accepting (later spans count as spans_dropped_shutdown),
 * sends everything buffered without waiting for the schedule delay, retrying
 * within the deadline; at the deadline it cancels the call in flight, counts
 * what is left as spans_dropped_shutdown and closes the client. Idempotent, never
 * rejects.
 */
import type { CountersOf } from '../sessions/counters';
import * as grpc from '@grpc/grpc-js';
import type { OtlpTraceConfig } from './export-config';
import { encodeRequestOfSpanFields, encodeSpanFields } from './otlp-encoder';
import type { Attribute, SpanRecord } from './span-record';

export const EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export const RETRYABLE_CODES: ReadonlySet<grpc.status> = new Set([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.OUT_OF_RANGE,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

/** spans_queued: spans buffered now, the batch in flight included. */
export type SpanExporterCounters = CountersOf<'export'>;

export interface SpanExporterOptions {
  /** Backoff base (ms) for the first retry; default 100. */
  retryBaseMs?: number;
  /** Backoff cap (ms); default 5000. */
  retryMaxMs?: number;
  /**
   * Told about export trouble, one line at a time: the first failure and each
   * change of status (with gRPC's details: "self-signed certificate",
   * "connection refused"...), and the recovery. Not every retry: a collector
   * away for an hour is a handful of lines, not thousands.
   */
  log?: (line: string) => void;
}

export interface TlsMaterial {
  ca?: Buffer;
  key?: Buffer;
  cert?: Buffer;
}

const GZIP = 2; // grpc-js CompressionAlgorithms.gzip
const identity = (b: Buffer): Buffer => b;

export class OtlpSpanExporter {
  private readonly client: grpc.Client;
  private readonly metadata = new grpc.Metadata();
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  /** Spans waiting (the batch in flight first), each already encoded: see encodeSpanFields. */
  private readonly buffer: Buffer[] = [];
  /** Beside each buffered span: the index of its resource in `resources` (0: the agent's own). */
  private readonly bufferResources: number[] = [];
  /** The agent's resource, then one per service a rule named (service.name replaced). */
  private readonly resources: Attribute[][];
  private readonly resourceIndex = new Map<string, number>();
  /** Number of spans at the front of `buffer` that form the batch in flight (0: none). */
  private inFlight = 0;
  private call: grpc.ClientUnaryCall | undefined;
  private attempt = 0;
  private scheduleTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private accepting = true;
  private flushing = false;
  private finished = false;
  private shutdownDeadline = 0;
  private shutdownPromise: Promise<void> | undefined;
  private onDrained: (() => void) | undefined;
  private readonly log: (line: string) => void;
  private readonly target: string;
  /** The status of the last failed attempt, until one succeeds. */
  private failing: { code: grpc.status; since: number; attempts: number } | undefined;
  private readonly stats = {
    spans_exported: 0,
    spans_dropped_queue_full: 0,
    spans_dropped_rejected: 0,
    spans_dropped_shutdown: 0,
    span_export_failures: 0,
  };

  constructor(
    private readonly config: OtlpTraceConfig,
    resource: Attribute[],
    private readonly scope: { name: string; version: string },
    tls?: TlsMaterial,
    options: SpanExporterOptions = {},
  ) {
    this.resources = [resource];
    this.log = options.log ?? (() => {});
    this.retryBaseMs = Math.max(1, options.retryBaseMs ?? 100);
    this.retryMaxMs = Math.max(this.retryBaseMs, options.retryMaxMs ?? 5000);
    for (const [key, value] of config.headers) this.metadata.add(key, value);
    const { host, port, secure } = config.endpoint;
    const credentials = secure
      ? grpc.credentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null)
      : grpc.credentials.createInsecure();
    const channelOptions: grpc.ChannelOptions = {
      'grpc.initial_reconnect_backoff_ms': Math.min(1000, this.retryMaxMs),
      'grpc.max_reconnect_backoff_ms': this.retryMaxMs,
    };
    if (config.compression === 'gzip') channelOptions['grpc.default_compression_algorithm'] = GZIP;
    this.target = `${secure ? 'https' : 'http'}://${host}:${port}`;
    this.client = new grpc.Client(`${host}:${port}`, credentials, channelOptions);
  }

  /** Buffers spans for export; drops (and counts) what does not fit. Never throws. */
  add(spans: readonly SpanRecord[]): void {
    if (!this.accepting) {
      this.stats.spans_dropped_shutdown += spans.length;
      return;
    }
    const room = Math.max(0, this.config.batch.maxQueueSize - this.buffer.length);
    const taken = Math.min(room, spans.length);
    this.stats.spans_dropped_queue_full += spans.length - taken;
    if (taken === 0) return;
    const before = this.buffer.length;
    this.encode(taken === spans.length ? spans : spans.slice(0, taken));
    if (this.buffer.length > before) this.pump();
  }

  /**
   * Encodes at ingest. An invalid record (a bug upstream: bad id, unsafe
   * integer) is dropped alone, as rejected: the others still go.
   */
  private encode(spans: readonly SpanRecord[]): void {
    let views: Buffer[];
    try {
      views = encodeSpanFields(spans);
    } catch {
      for (const span of spans) {
        try {
          this.enqueue(encodeSpanFields([span])[0], span.service);
        } catch {
          this.stats.spans_dropped_rejected++;
        }
      }
      return;
    }
    for (let i = 0; i < views.length; i++) this.enqueue(views[i], spans[i].service);
  }

  private enqueue(field: Buffer, service: string | undefined): void {
    this.buffer.push(field);
    this.bufferResources.push(service === undefined ? 0 : this.resourceOf(service));
  }

  /** The index of the resource whose service.name is `service`. */
  private resourceOf(service: string): number {
    let i = this.resourceIndex.get(service);
    if (i === undefined) {
      const base = this.resources[0].filter((a) => a.key !== 'service.name');
      i = this.resources.push([{ key: 'service.name', value: { string: service } }, ...base]) - 1;
      this.resourceIndex.set(service, i);
    }
    return i;
  }

  /**
   * The request for the batch in flight: one ResourceSpans per resource in
   * it (a repeated field: requests of one each, concatenated, are one).
   */
  private batchRequest(): Buffer {
    const count = this.inFlight;
    const first = this.bufferResources[0];
    let mixed = false;
    for (let i = 1; i < count && !mixed; i++) mixed = this.bufferResources[i] !== first;
    if (!mixed) return encodeRequestOfSpanFields(this.resources[first], this.scope, this.buffer.slice(0, count));
    const groups = new Map<number, Buffer[]>();
    for (let i = 0; i < count; i++) {
      const r = this.bufferResources[i];
      let g = groups.get(r);
      if (!g) groups.set(r, (g = []));
      g.push(this.buffer[i]);
    }
    return Buffer.concat([...groups].map(([r, fields]) => encodeRequestOfSpanFields(this.resources[r], this.scope, fields)));
  }

  counters(): SpanExporterCounters {
    return { ...this.stats, spans_queued: this.buffer.length };
  }

  /** Flushes within timeoutMs, then drops (and counts) the rest and closes. Idempotent; never rejects. */
  shutdown(timeoutMs: number): Promise<void> {
    this.shutdownPromise ??= new Promise<void>((resolve) => {
      this.accepting = false;
      this.flushing = true;
      this.shutdownDeadline = Date.now() + Math.max(0, timeoutMs);
      const deadline = setTimeout(() => this.finish(), Math.max(0, timeoutMs));
      this.onDrained = () => {
        clearTimeout(deadline);
        resolve();
      };
      this.pump();
    });
    return this.shutdownPromise;
  }

  /** Starts an export, or arms the schedule timer, as the buffer's state asks. */
  private pump(): void {
    if (this.finished || this.inFlight > 0 || this.retryTimer) return;
    if (this.buffer.length === 0) {
      if (this.flushing) this.finish();
      return;
    }
    const batchSize = Math.max(1, this.config.batch.maxExportBatchSize);
    if (this.flushing || this.buffer.length >= batchSize) {
      this.clearScheduleTimer();
      this.inFlight = Math.min(batchSize, this.buffer.length);
      this.attempt = 0;
      this.send();
    } else if (!this.scheduleTimer) {
      this.scheduleTimer = setTimeout(() => {
        this.scheduleTimer = undefined;
        if (this.finished || this.inFlight > 0 || this.retryTimer || this.buffer.length === 0) return;
        this.inFlight = Math.min(batchSize, this.buffer.length);
        this.attempt = 0;
        this.send();
      }, this.config.batch.scheduleDelayMs);
      this.scheduleTimer.unref();
    }
  }

  /** Sends (or re-sends) the batch in flight: the first `inFlight` spans. */
  private send(): void {
    let payload: Buffer;
    try {
      payload = this.batchRequest();
    } catch {
      // Invalid resource attributes: no retry can fix them.
      this.stats.span_export_failures++;
      this.settle('rejected');
      return;
    }
    let timeout = this.config.timeoutMs;
    if (this.flushing) timeout = Math.max(1, Math.min(timeout, this.shutdownDeadline - Date.now()));
    try {
      this.call = this.client.makeUnaryRequest(
        EXPORT_METHOD,
        identity,
        identity,
        payload,
        this.metadata,
        { deadline: Date.now() + timeout },
        (err) => {
          this.call = undefined;
          if (this.finished) return;
          if (!err) {
            this.noteRecovery();
            this.settle('exported');
          } else {
            this.stats.span_export_failures++;
            const retry = RETRYABLE_CODES.has(err.code);
            this.noteFailure(err, retry);
            if (retry) this.scheduleRetry();
            else this.settle('rejected');
          }
        },
      );
    } catch {
      // Client already closed (should not happen before finish): retry later.
      this.call = undefined;
      this.stats.span_export_failures++;
      this.scheduleRetry();
    }
  }

  private noteFailure(err: grpc.ServiceError, retry: boolean): void {
    const changed = this.failing?.code !== err.code;
    if (!this.failing || changed) this.failing = { code: err.code, since: Date.now(), attempts: 0 };
    this.failing.attempts++;
    // A dropped batch is always worth a line; a retried one only when the status changes.
    if (!changed && retry) return;
    const details = (err.details || err.message || '').replace(/\s+/g, ' ').slice(0, 300);
    const what = retry ? `retrying with backoff while ${this.buffer.length} spans wait` : `${this.inFlight} spans dropped (not retryable)`;
    this.log(`span export to ${this.target} failed: ${grpc.status[err.code] ?? err.code}: ${details}; ${what}`);
  }

  private noteRecovery(): void {
    if (!this.failing) return;
    const seconds = ((Date.now() - this.failing.since) / 1000).toFixed(1);
    this.log(`span export to ${this.target} works again, after ${this.failing.attempts} failed attempts in ${seconds} s`);
    this.failing = undefined;
  }

  /** Removes the batch in flight from the buffer, counting it, and moves on. */
  private settle(as: 'exported' | 'rejected'): void {
    const n = this.inFlight;
    this.buffer.splice(0, n);
    this.bufferResources.splice(0, n);
    this.inFlight = 0;
    if (as === 'exported') this.stats.spans_exported += n;
    else this.stats.spans_dropped_rejected += n;
    this.pump();
  }

  private scheduleRetry(): void {
    const ceiling = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const delay = Math.floor(Math.random() * ceiling);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (!this.finished) this.send();
    }, delay);
    this.retryTimer.unref();
  }

  private clearScheduleTimer(): void {
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.scheduleTimer = undefined;
  }

  /** Ends shutdown: cancels what is in flight, counts the rest as dropped, closes. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.clearScheduleTimer();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.call?.cancel();
    this.call = undefined;
    this.stats.spans_dropped_shutdown += this.buffer.length;
    this.buffer.length = 0;
    this.bufferResources.length = 0;
    this.inFlight = 0;
    try {
      this.client.close();
    } catch {
      // already closed
    }
    this.onDrained?.();
  }
}
