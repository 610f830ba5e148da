/**
 * Sessions -> the stock OpenTelemetry SDK path, for comparison with our own
 * (span-sink.ts, span-exporter.ts): sessionToSpan gives the very SpanRecord
 * the direct path encodes, then tracer.startSpan()/end() -> the
 * BatchSpanProcessor of @opentelemetry/sdk-trace-base -> the OTLPTraceExporter
 * of @opentelemetry/exporter-trace-otlp-grpc. The agent runs with it as
 * test/bench/sdk-agent.ts; the product never loads it.
 *
 * The SDK reads its own configuration, as any SDK user's would be:
 * OTEL_BSP_* (the processor), OTEL_EXPORTER_OTLP_* (endpoint, headers, TLS
 * files, compression, timeout), OTEL_TRACES_SAMPLER and the span limits.
 * The command line has validated the same variables already.
 *
 * Where it differs from the direct path (the SDK's behaviour, not ours):
 * - trace and span ids are the same (connection-ids.ts), handed to the SDK
 *   through its IdGenerator and, for a server span, a remote parent context;
 * - a numeric attribute goes out as an int whenever its value is a whole
 *   number: tcplife.handshake_ms of exactly 0 arrives as int, not double;
 * - no retry: the gRPC exporter fails the batch on any error (dropped);
 * - forceFlush() sends every queued batch at once, not one at a time.
 */
import { inspect } from 'node:util';
import {
  createNoopMeter,
  context,
  diag,
  trace,
  TraceFlags,
  DiagLogLevel,
  SpanKind as ApiSpanKind,
  SpanStatusCode,
  type Attributes,
  type Counter,
  type DiagLogger,
  type Meter,
  type MeterProvider,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, RandomIdGenerator, type BufferConfig, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import type { ServiceOf } from '../../src/sessions/service-rules';
import type { SessionSink } from '../../src/sessions/session-sink';
import type { CounterValues } from '../../src/sessions/counters';
import type { TcpSession } from '../../src/sessions/tcp-session';
import { connectionIds, type ConnectionIds } from '../../src/sessions/connection-ids';
import { sessionToSpan } from '../../src/telemetry/session-to-span';
import { StatusCode, type Attribute, type AttributeValue, type SpanKindCode } from '../../src/telemetry/span-record';

/** For sessionToSpan when the SDK draws random ids itself (valid: not all zero). */
const UNUSED_IDS = { traceId: '00000000000000000000000000000001', spanId: '0000000000000001' };

/**
 * The SDK asks its IdGenerator for a span's ids while starting it: this one
 * answers with the ids set just before (those of the connection), else
 * random ones as the SDK's own generator would.
 */
class NextIds implements IdGenerator {
  next: ConnectionIds | undefined;
  private readonly random = new RandomIdGenerator();
  generateTraceId(): string {
    return this.next?.traceId ?? this.random.generateTraceId();
  }
  generateSpanId(): string {
    return this.next?.spanId ?? this.random.generateSpanId();
  }
}

/** OTLP Span.SpanKind numbers (span-record.ts) -> the API's enum, which counts from INTERNAL = 0. */
const API_KIND: Readonly<Record<SpanKindCode, ApiSpanKind>> = {
  0: ApiSpanKind.INTERNAL,
  1: ApiSpanKind.INTERNAL,
  2: ApiSpanKind.SERVER,
  3: ApiSpanKind.CLIENT,
  4: ApiSpanKind.PRODUCER,
  5: ApiSpanKind.CONSUMER,
};

function plainValue(v: AttributeValue): string | number | boolean {
  if (v.string !== undefined) return v.string;
  if (v.bool !== undefined) return v.bool;
  return (v.int ?? v.double) as number;
}

function plainAttributes(list: readonly Attribute[]): Attributes {
  const out: Attributes = {};
  for (const a of list) out[a.key] = plainValue(a.value);
  return out;
}

/** The BatchSpanProcessor's self-observability counter (semantic conventions, otel.sdk.* metrics). */
const PROCESSED_METRIC = 'otel.sdk.processor.span.processed';

/**
 * What the SDK tells about drops. BatchSpanProcessor 2.12 keeps no counter
 * of its own that can be read: a full queue is only a diag.warn ("Dropped N
 * spans because maxQueueSize reached", written when the next span fits) and
 * a failed export goes to the global error handler. Its one count is the
 * self-observability metric otel.sdk.processor.span.processed, recorded to
 * the `selfObsMeterProvider` option (experimental): error.type "queue_full"
 * for drops, the error's name for failed exports, no error.type for spans
 * exported. This meter provider sums that counter in memory; every other
 * instrument is a no-op.
 */
class ProcessedSpans {
  exported = 0;
  droppedQueueFull = 0;
  exportFailed = 0;
  /** Whether the processor created the counter (else the option did not reach it). */
  wired = false;

  readonly meterProvider: MeterProvider = {
    getMeter: (): Meter => {
      const noop = createNoopMeter();
      const counter: Counter = { add: (n, attrs) => this.add(n, attrs?.['error.type']) };
      const meter = Object.create(noop) as Meter;
      meter.createCounter = ((name: string, options?: Parameters<Meter['createCounter']>[1]) => {
        if (name !== PROCESSED_METRIC) return noop.createCounter(name, options);
        this.wired = true;
        return counter;
      }) as Meter['createCounter'];
      return meter;
    },
  };

  private add(n: number, errorType: unknown): void {
    if (errorType === undefined) this.exported += n;
    else if (errorType === 'queue_full') this.droppedQueueFull += n;
    else this.exportFailed += n;
  }
}

/**
 * One diagnostic argument as text, without stacks. The SDK's global error
 * handler passes errors as JSON of all their properties (stack included):
 * only the message is kept.
 */
function describe(x: unknown): string {
  if (x instanceof Error) return x.message;
  if (typeof x !== 'string') return inspect(x, { depth: 2, breakLength: Infinity });
  if (x.startsWith('{')) {
    try {
      const parsed = JSON.parse(x) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      // not JSON after all
    }
  }
  return x;
}

/** How often the SDK's warnings and errors may reach stderr. */
const DIAG_INTERVAL_MS = 10_000;

/**
 * The SDK's diagnostics: warnings and errors only, one line on stderr at most
 * every DIAG_INTERVAL_MS (a collector that is down fails every batch; a storm
 * that fills the queue warns on every accepted span after a drop); the lines
 * held back are counted in the next one.
 */
class ThrottledDiagLogger implements DiagLogger {
  private lastAt = -Infinity;
  private heldBack = 0;

  constructor(private readonly prefix: string) {}

  error = (message: string, ...args: unknown[]): void => this.write('error', message, args);
  warn = (message: string, ...args: unknown[]): void => this.write('warning', message, args);
  info = (): void => {};
  debug = (): void => {};
  verbose = (): void => {};

  private write(level: string, message: string, args: unknown[]): void {
    const now = Date.now();
    if (now - this.lastAt < DIAG_INTERVAL_MS) {
      this.heldBack++;
      return;
    }
    const more = this.heldBack ? ` (${this.heldBack} more held back since the last one)` : '';
    this.lastAt = now;
    this.heldBack = 0;
    const text = [message, ...args].map(describe).join(' ').replace(/\s+/g, ' ').slice(0, 400);
    process.stderr.write(`${this.prefix}: OpenTelemetry SDK ${level}: ${text}${more}\n`);
  }
}

export class SdkSpanSink implements SessionSink {
  private readonly processed = new ProcessedSpans();
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  /** One provider (and tracer) per service a rule named, sharing the processor: the resource is per provider. */
  private readonly services = new Map<string, { provider: BasicTracerProvider; tracer: Tracer }>();
  private readonly processor: BatchSpanProcessor;
  private readonly ids = new NextIds();
  private started = 0;
  private closing: Promise<void> | undefined;
  /** Set once close() has ended: what the SDK never settled then is counted as dropped at shutdown. */
  private closed = false;

  /**
   * `resource` is detectResource()'s attributes (the same as the direct
   * path's), `scope` the instrumentation scope (tracer name and version).
   */
  constructor(
    private readonly resource: readonly Attribute[],
    private readonly scope: { name: string; version: string },
    /** The service.name of a session's span, by the configured rules (replaced at reload). */
    public serviceOf?: ServiceOf,
  ) {
    diag.setLogger(new ThrottledDiagLogger(scope.name), { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
    // The sdk-trace-base BatchSpanProcessor applies the OTEL_BSP_* variables
    // and passes the rest of its config on to the sdk-trace processor, whose
    // options declare selfObsMeterProvider; sdk-trace-base's BufferConfig type
    // does not, hence the widened type.
    const config: BufferConfig & { selfObsMeterProvider: MeterProvider } = {
      selfObsMeterProvider: this.processed.meterProvider,
    };
    this.processor = new BatchSpanProcessor(new OTLPTraceExporter(), config);
    this.provider = this.newProvider(resource);
    this.tracer = this.provider.getTracer(scope.name, scope.version);
  }

  private newProvider(resource: readonly Attribute[]): BasicTracerProvider {
    return new BasicTracerProvider({
      // One Resource object per provider: the OTLP transformer groups spans by resource identity.
      resource: resourceFromAttributes(plainAttributes(resource)),
      spanProcessors: [this.processor],
      idGenerator: this.ids,
    });
  }

  private tracerFor(service: string | undefined): Tracer {
    if (service === undefined) return this.tracer;
    let entry = this.services.get(service);
    if (!entry) {
      const resource = [{ key: 'service.name', value: { string: service } }, ...this.resource.filter((a) => a.key !== 'service.name')];
      const provider = this.newProvider(resource);
      entry = { provider, tracer: provider.getTracer(this.scope.name, this.scope.version) };
      this.services.set(service, entry);
    }
    return entry.tracer;
  }

  open(): void {}

  write(batch: readonly TcpSession[]): void {
    for (const session of batch) {
      const ids = connectionIds(session);
      this.ids.next = ids;
      const rec = sessionToSpan(session, ids ?? UNUSED_IDS); // the SDK takes ids from this.ids
      // A server span's parent is its client's span, known by id only.
      const parent =
        ids?.parentSpanId === undefined
          ? context.active()
          : trace.setSpanContext(context.active(), { traceId: ids.traceId, spanId: ids.parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
      // [seconds, nanoseconds] is the SDK's HrTime: kept exactly, no conversion.
      const span = this.tracerFor(this.serviceOf?.(session)).startSpan(
        rec.name,
        { kind: API_KIND[rec.kind], attributes: plainAttributes(rec.attributes), startTime: rec.startTime, root: ids?.parentSpanId === undefined },
        parent,
      );
      this.ids.next = undefined;
      if (rec.status.code === StatusCode.ERROR) span.setStatus({ code: SpanStatusCode.ERROR, message: rec.status.message });
      span.end(rec.endTime);
    }
    this.started += batch.length;
  }

  /** forceFlush, then shutdown, within timeoutMs in all; never rejects. */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, timeoutMs))));
      const work = (async () => {
        try {
          await this.provider.forceFlush({ timeoutMillis: Math.max(1, timeoutMs) });
        } catch (err) {
          // Failed batches are counted (spans_dropped_export_failed); say why once.
          diag.error('flush at shutdown:', ...(Array.isArray(err) ? err : [err]));
        }
        try {
          await this.provider.shutdown();
        } catch (err) {
          diag.error('shutdown:', err);
        }
      })();
      await Promise.race([work, deadline]);
      clearTimeout(timer);
      this.closed = true;
    })();
    return this.closing;
  }

  // Its own names where the stock SDK counts differently (a comparison path, not the product's counters).
  counters(): CounterValues {
    const p = this.processed;
    if (!p.wired) return { spans_started: this.started } as CounterValues; // the SDK recorded nothing we can read
    const settled = p.exported + p.droppedQueueFull + p.exportFailed;
    return {
      spans_started: this.started,
      spans_exported: p.exported,
      spans_dropped_queue_full: p.droppedQueueFull,
      spans_dropped_export_failed: p.exportFailed,
      // Still queued or in flight when close() ended.
      spans_dropped_shutdown: this.closed ? Math.max(0, this.started - settled) : 0,
    } as CounterValues;
  }
}
