/**
 * The agent's counters as OpenTelemetry metrics, so that what was lost is
 * visible in the same backend as the spans. Low volume (one export per
 * interval), so the stock SDK does the work: a MeterProvider with a periodic
 * reader and the OTLP/gRPC metric exporter, loaded only when metrics are on.
 *
 * Every counter is an asynchronous (observable) counter read from one
 * snapshot per collection; losses of one kind share a metric and differ by a
 * `reason` attribute, so a single query sums everything dropped.
 */
import type { Attribute } from './span-record';
import type { OtlpMetricsConfig } from './export-config';
import type { TlsMaterial } from './span-exporter';

/** One metric, fed by one or more of the agent's counters (told apart by attributes). */
export interface CounterMetric {
  name: string;
  unit: string;
  description: string;
  /** Gauges go up and down (a queue's depth); the rest only grow. */
  gauge?: boolean;
  /** The counters' keys in the agent's counters (the exit line's names). */
  feeds: Array<{ counter: string; attributes?: Record<string, string> }>;
}

/** Counters absent from a snapshot are not reported. */
export const COUNTER_METRICS: readonly CounterMetric[] = [
  { name: 'tcplife.sessions.seen', unit: '{session}', description: 'TCP sessions that reached the agent', feeds: [{ counter: 'sessions_seen' }] },
  {
    name: 'tcplife.sessions.filtered',
    unit: '{session}',
    description: 'TCP sessions excluded by a filter',
    feeds: [
      { counter: 'sessions_filtered', attributes: { where: 'kernel' } },
      { counter: 'sessions_filtered_userspace', attributes: { where: 'userspace' } },
    ],
  },
  {
    name: 'tcplife.sessions.partial',
    unit: '{session}',
    description: 'TCP sessions whose opening was not observed',
    feeds: [{ counter: 'sessions_partial' }],
  },
  {
    name: 'tcplife.sessions.lost',
    unit: '{session}',
    description: 'TCP sessions lost before reaching the agent',
    feeds: [
      { counter: 'lost_ringbuf_full', attributes: { reason: 'ring_buffer_full' } },
      { counter: 'malformed_records', attributes: { reason: 'malformed_record' } },
    ],
  },
  {
    name: 'tcplife.kernel.state_changes.skipped',
    unit: '{event}',
    description: 'TCP state changes the kernel skipped for recursion protection (a session may be lost or partial)',
    feeds: [{ counter: 'skipped_state_changes' }],
  },
  {
    name: 'tcplife.kernel.state_changes.nested',
    unit: '{event}',
    description: 'TCP state changes in an interrupt nested in the probe, caught by its twin program',
    feeds: [{ counter: 'nested_state_changes' }],
  },
  {
    name: 'tcplife.kernel.owner_checks.skipped',
    unit: '{event}',
    description: 'Owner checks the kernel skipped for recursion protection (an owner may stay unknown)',
    feeds: [{ counter: 'skipped_owner_checks' }],
  },
  {
    name: 'tcplife.kernel.state_alloc_failures',
    unit: '{session}',
    description: 'Per-socket state that could not be allocated (the session is reported as partial)',
    feeds: [{ counter: 'state_alloc_failed' }],
  },
  {
    name: 'tcplife.container_lookups.failed',
    unit: '{session}',
    description: "Sessions whose owner's container could not be told (owner gone, or outside the agent's PID namespace)",
    feeds: [{ counter: 'container_lookups_failed' }],
  },
  { name: 'tcplife.spans.exported', unit: '{span}', description: 'Spans the collector accepted', feeds: [{ counter: 'spans_exported' }] },
  {
    name: 'tcplife.spans.dropped',
    unit: '{span}',
    description: 'Spans that will never reach the collector',
    feeds: [
      { counter: 'spans_dropped_queue_full', attributes: { reason: 'queue_full' } },
      { counter: 'spans_dropped_rejected', attributes: { reason: 'rejected' } },
      { counter: 'spans_dropped_shutdown', attributes: { reason: 'shutdown' } },
    ],
  },
  {
    name: 'tcplife.spans.export_failures',
    unit: '{attempt}',
    description: 'Failed export attempts (retried or dropped)',
    feeds: [{ counter: 'span_export_failures' }],
  },
  { name: 'tcplife.spans.queued', unit: '{span}', description: 'Spans waiting for export', gauge: true, feeds: [{ counter: 'spans_queued' }] },
];

export interface CounterMetricsExporter {
  /** Exports one last collection, then stops; never rejects. */
  shutdown(timeoutMs: number): Promise<void>;
  /** Failed metric exports (not retried: the next interval's cumulative values cover them). */
  failures(): number;
}

/**
 * Starts exporting `read()`'s counters every config.intervalMs. The SDK
 * modules are required here, so that runs without metrics never load them.
 */
export function startCounterMetrics(
  config: OtlpMetricsConfig,
  tls: TlsMaterial,
  resource: readonly Attribute[],
  scope: { name: string; version: string },
  read: () => Record<string, number>,
): CounterMetricsExporter {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const { MeterProvider, PeriodicExportingMetricReader } =
    require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
  const { OTLPMetricExporter } =
    require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  /* eslint-enable @typescript-eslint/no-require-imports */

  const { host, port, secure } = config.endpoint;
  const metadata = new grpc.Metadata();
  for (const [key, value] of config.headers) metadata.add(key, value);
  const exporter = new OTLPMetricExporter({
    url: `${secure ? 'https' : 'http'}://${host}:${port}`,
    credentials: secure
      ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
      : grpc.credentials.createInsecure(),
    metadata,
    compression: config.compression === 'gzip' ? ('gzip' as never) : ('none' as never),
    timeoutMillis: config.timeoutMs,
  });
  // The stock exporter only logs a failure: count it, so that it shows.
  let failures = 0;
  const counted: typeof exporter = Object.create(exporter);
  counted.export = (batch, done) =>
    exporter.export(batch, (result) => {
      if (result.code !== 0) failures++; // ExportResultCode.SUCCESS
      done(result);
    });
  const reader = new PeriodicExportingMetricReader({
    exporter: counted,
    exportIntervalMillis: config.intervalMs,
    exportTimeoutMillis: config.exportTimeoutMs,
  });
  const attributes: Record<string, string | number | boolean> = {};
  for (const a of resource) attributes[a.key] = a.value.string ?? a.value.int ?? a.value.double ?? a.value.bool!;
  const provider = new MeterProvider({ resource: resourceFromAttributes(attributes), readers: [reader] });
  const meter = provider.getMeter(scope.name, scope.version);

  const streams = COUNTER_METRICS.map((m) => {
    const options = { unit: m.unit, description: m.description };
    const observable = m.gauge ? meter.createObservableGauge(m.name, options) : meter.createObservableCounter(m.name, options);
    return { observable, feeds: m.feeds };
  });
  meter.addBatchObservableCallback(
    (result) => {
      const snapshot = read(); // one read, so every stream of a collection agrees
      for (const { observable, feeds } of streams) {
        for (const f of feeds) {
          const value = snapshot[f.counter];
          if (value !== undefined) result.observe(observable, value, f.attributes);
        }
      }
    },
    streams.map((s) => s.observable),
  );

  let done: Promise<void> | undefined;
  return {
    shutdown(timeoutMs: number): Promise<void> {
      done ??= Promise.race([
        provider.shutdown().catch(() => undefined), // a final collection and export, then stop
        new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref()),
      ]);
      return done;
    },
    failures: () => failures,
  };
}
