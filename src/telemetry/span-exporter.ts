/**
 * Batching OTLP span exporter: spans in, ExportTraceServiceRequests out. It
 * composes the pieces, each in its own file:
 * - span-queue.ts: the bounded queue (drops what does not fit, counted as
 *   spans_dropped_queue_full) and the batching timer; packed-spans.ts: how
 *   a backlog's chunks are made small while they wait;
 * - resource-groups.ts: spans encoded as they are added (a span the encoder
 *   refuses is dropped alone, as spans_dropped_rejected), each with its
 *   resource, and a batch's request, one ResourceSpans per resource;
 * - otlp-grpc-transport.ts: the gRPC call, its status read as ok, retryable
 *   or rejected;
 * - retry.ts: the full-jitter exponential backoff (base 100 ms, cap 5 s);
 * - export-status-log.ts: the lines about failures and recovery.
 *
 * A retryable failure retries the SAME batch after the backoff, for as long
 * as it takes (the bounded queue, not a retry limit, protects memory); a
 * rejected one drops the batch (spans_dropped_rejected). Every failed attempt
 * counts in span_export_failures. Up to batch.maxConcurrentExports requests
 * are in flight at a time, each with its own retries and backoff (at least
 * as long as a Retry-After asked); order across requests is not kept.
 *
 * Each attempt has the deadline of the smaller of config.timeoutMs and
 * batch.exportTimeoutMs; retries are unbounded until shutdown (the queue's
 * memory bound, not a retry limit, decides what is dropped). Metadata comes from
 * config.headers; gzip from config.compression.
 *
 * shutdown(timeoutMs) stops accepting (later spans count as spans_dropped_shutdown),
 * sends everything buffered without waiting for the schedule delay, retrying
 * within the deadline; at the deadline it cancels the call in flight, counts
 * what is left as spans_dropped_shutdown and closes the client. Idempotent, never
 * rejects.
 */
import type { CountersOf } from '../sessions/counters';
import type { OtlpTraceConfig } from './export-config';
import { ExportStatusLog } from './export-status-log';
import { OtlpGrpcTransport, type ExportOutcome, type TlsMaterial } from './otlp-grpc-transport';
import { encodeBatchRequest, encodeForQueue, ServiceResources, type EncodedSpan } from './resource-groups';
import { backoffDelay, backoffOf, type Backoff } from './retry';
import type { Attribute, SpanRecord } from './span-record';
import { SPAN_PACKER, type PackedSpans } from './packed-spans';
import { SpanQueue, type Batch } from './span-queue';

export { EXPORT_METHOD, RETRYABLE_CODES, type TlsMaterial } from './otlp-grpc-transport';

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
  /** Chunks are packed while more than this many bytes are queued; default the smaller of PACK_ABOVE_BYTES and a quarter of the queue. */
  packAboveBytes?: number;
}

/**
 * What a queued span takes beyond its encoded bytes: its EncodedSpan, the
 * Buffer view over its bytes, its slot in the queue (measured with
 * `npm run -s bench:queue-memory`, rounded up).
 */
export const QUEUED_SPAN_OVERHEAD_BYTES = 160;

const queuedSize = (span: EncodedSpan): number => span.field.length + QUEUED_SPAN_OVERHEAD_BYTES;

/**
 * A backlog starts here: below it (about 5,000 spans) nothing is packed, so
 * a collector that keeps up costs no compression.
 */
export const PACK_ABOVE_BYTES = 4 * 2 ** 20;

/** The longest a Retry-After is obeyed (ms): a collector asking for more still gets tried. */
const RETRY_AFTER_MAX_MS = 60_000;

/** A batch in flight: it counts in the queue until it settles. */
interface Delivery {
  readonly request: Buffer;
  readonly batch: Batch<EncodedSpan>;
  /** Retries so far: the backoff's exponent. */
  attempt: number;
  /** Cancels the call on the wire, while there is one. */
  cancel?: () => void;
  retryTimer?: NodeJS.Timeout;
}

/** Set by shutdown: from then on nothing is accepted and everything buffered goes out at once. */
interface Shutdown {
  /** Date.now() at which the rest is dropped. */
  readonly deadline: number;
  readonly done: Promise<void>;
  /** Resolves `done` (and stops the deadline timer). */
  readonly release: () => void;
  /** The deadline came or the queue emptied: the client is closed. */
  closed: boolean;
}

export class OtlpSpanExporter {
  private readonly transport: OtlpGrpcTransport;
  private readonly backoff: Backoff;
  private readonly resources: ServiceResources;
  private readonly queue: SpanQueue<EncodedSpan, PackedSpans>;
  private readonly status: ExportStatusLog;
  private readonly deliveries = new Set<Delivery>();
  private shutdownState: Shutdown | undefined;
  private readonly stats = {
    spans_exported: 0,
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
    this.backoff = backoffOf(options);
    this.resources = new ServiceResources(resource);
    this.queue = new SpanQueue(config.batch, () => this.pump(true), queuedSize, {
      packer: SPAN_PACKER,
      aboveBytes: options.packAboveBytes ?? Math.min(PACK_ABOVE_BYTES, config.batch.maxQueueBytes / 4),
      keepLive: this.concurrency,
    });
    this.transport = new OtlpGrpcTransport(config, tls, this.backoff.maxMs);
    this.status = new ExportStatusLog(this.transport.target, options.log ?? (() => {}));
  }

  /** Buffers spans for export; drops (and counts) what does not fit. Never throws. */
  add(spans: readonly SpanRecord[]): void {
    this.offer(spans, (accepted) => encodeForQueue(accepted, this.resources));
  }

  /**
   * Buffers what `encode` makes of the oldest `records` that fit (one span
   * each; `invalid`: those it could not encode, counted as
   * spans_dropped_rejected) and drops (and counts) the rest. `encode` is not
   * called when none fit. Never throws.
   */
  offer<R>(records: readonly R[], encode: (accepted: readonly R[]) => { encoded: EncodedSpan[]; invalid: number }): void {
    if (this.shutdownState) {
      this.stats.spans_dropped_shutdown += records.length;
      return;
    }
    const added = this.queue.offer(records, (accepted) => {
      const { encoded, invalid } = encode(accepted);
      this.stats.spans_dropped_rejected += invalid;
      return encoded;
    });
    if (added > 0) this.pump();
  }

  /** The resource a span of `service` goes out under (undefined: the agent's own); the same array for the same service. */
  resourceOf(service: string | undefined): readonly Attribute[] {
    return this.resources.of(service);
  }

  /** The memory the queued spans take, as the queue's bound counts it. */
  queuedBytes(): number {
    return this.queue.bytes;
  }

  counters(): SpanExporterCounters {
    return {
      spans_exported: this.stats.spans_exported,
      spans_dropped_queue_full: this.queue.dropped,
      spans_dropped_rejected: this.stats.spans_dropped_rejected,
      spans_dropped_shutdown: this.stats.spans_dropped_shutdown,
      span_export_failures: this.stats.span_export_failures,
      spans_queued: this.queue.length,
    };
  }

  /** Flushes within timeoutMs, then drops (and counts) the rest and closes. Idempotent; never rejects. */
  shutdown(timeoutMs: number): Promise<void> {
    if (!this.shutdownState) {
      const wait = Math.max(0, timeoutMs);
      const deadline = Date.now() + wait;
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      const timer = setTimeout(() => this.finish(), wait);
      const release = () => {
        clearTimeout(timer);
        resolve();
      };
      this.shutdownState = { deadline, done, release, closed: false };
      this.pump();
    }
    return this.shutdownState.done;
  }

  private get concurrency(): number {
    return Math.max(1, this.config.batch.maxConcurrentExports);
  }

  private get closed(): boolean {
    return this.shutdownState?.closed === true;
  }

  /**
   * Starts exports while fewer than the limit are in flight and batches are
   * due (`due`: the schedule delay ran out); ends a shutdown that has
   * nothing left.
   */
  private pump(due = false): void {
    if (this.closed) return;
    if (this.queue.length === 0) {
      if (this.shutdownState) this.finish();
      return;
    }
    const now = due || this.shutdownState !== undefined;
    while (this.deliveries.size < this.concurrency && !this.closed) {
      const batch = this.queue.takeBatch(now);
      if (!batch) return;
      this.start(batch);
    }
  }

  private start(batch: Batch<EncodedSpan>): void {
    let request: Buffer;
    try {
      request = encodeBatchRequest(batch.items, this.scope);
    } catch {
      // Invalid resource attributes: no retry can fix them.
      this.stats.span_export_failures++;
      this.stats.spans_dropped_rejected += this.queue.settle(batch);
      return;
    }
    // The request holds the spans' bytes now: the batch keeps only its counts.
    const delivery: Delivery = { request, batch: { ...batch, items: [] }, attempt: 0 };
    this.deliveries.add(delivery);
    this.send(delivery);
  }

  /** Sends (or re-sends) the batch in flight. */
  private send(delivery: Delivery): void {
    // OTEL_BSP_EXPORT_TIMEOUT bounds one export request as the exporter's own timeout does.
    let timeout = Math.min(this.config.timeoutMs, this.config.batch.exportTimeoutMs);
    if (this.shutdownState) timeout = Math.max(1, Math.min(timeout, this.shutdownState.deadline - Date.now()));
    delivery.cancel = this.transport.export(delivery.request, timeout, (outcome) => {
      delivery.cancel = undefined;
      if (!this.closed) this.answered(delivery, outcome);
    });
  }

  private answered(delivery: Delivery, outcome: ExportOutcome): void {
    if (outcome.kind === 'ok') {
      this.status.recovered();
      this.settle(delivery, 'exported');
      return;
    }
    this.stats.span_export_failures++;
    if (outcome.kind === 'rejected') {
      this.status.dropped(outcome.status, delivery.batch.count);
      this.settle(delivery, 'rejected');
      return;
    }
    // No status: the call never started, which is nothing to tell about.
    if (outcome.status) this.status.retrying(outcome.status, this.queue.length);
    const asked = Math.min(RETRY_AFTER_MAX_MS, outcome.retryAfterMs ?? 0);
    const delay = Math.max(asked, backoffDelay(this.backoff, delivery.attempt++));
    delivery.retryTimer = setTimeout(() => {
      delivery.retryTimer = undefined;
      if (!this.closed) this.send(delivery);
    }, delay).unref();
  }

  /** Removes a batch in flight from the queue, counting it, and moves on. */
  private settle(delivery: Delivery, as: 'exported' | 'rejected'): void {
    const n = this.queue.settle(delivery.batch);
    this.deliveries.delete(delivery);
    if (as === 'exported') this.stats.spans_exported += n;
    else this.stats.spans_dropped_rejected += n;
    this.pump();
  }

  /** Ends shutdown: cancels what is in flight, counts the rest as dropped, closes. */
  private finish(): void {
    const shutdown = this.shutdownState;
    if (!shutdown || shutdown.closed) return;
    shutdown.closed = true;
    for (const delivery of this.deliveries) {
      clearTimeout(delivery.retryTimer);
      delivery.cancel?.();
    }
    this.deliveries.clear();
    this.stats.spans_dropped_shutdown += this.queue.clear();
    this.transport.close();
    shutdown.release();
  }
}
