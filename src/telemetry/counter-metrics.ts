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
import { COUNTERS, METRICS, type CounterName, type CounterSpec, type CounterValues } from '../sessions/counters';
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
  /** The counters' names (sessions/counters.ts). */
  feeds: Array<{ counter: CounterName; attributes?: Readonly<Record<string, string>> }>;
}

/** Derived from the counters table, in its order. Counters absent from a snapshot are not reported. */
export const COUNTER_METRICS: readonly CounterMetric[] = Object.entries(METRICS).map(([name, m]) => ({
  name,
  unit: m.unit,
  description: m.description,
  ...('gauge' in m ? { gauge: m.gauge } : {}),
  feeds: (COUNTERS as readonly CounterSpec[])
    .filter((c) => c.metric?.name === name)
    .map((c) => ({ counter: c.name as CounterName, ...(c.metric?.attributes ? { attributes: c.metric.attributes } : {}) })),
}));

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
  read: () => CounterValues,
): CounterMetricsExporter {
  // Loaded here, only when metrics are exported, so the other paths never pay for the metrics SDK.
  const grpc = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
  const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics') as typeof import('@opentelemetry/sdk-metrics');
  const { OTLPMetricExporter } = require('@opentelemetry/exporter-metrics-otlp-grpc') as typeof import('@opentelemetry/exporter-metrics-otlp-grpc');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');

  const { host, port, secure } = config.endpoint;
  const metadata = new grpc.Metadata();
  for (const [key, value] of config.headers) metadata.add(key, value);
  const exporter = new OTLPMetricExporter({
    url: `${secure ? 'https' : 'http'}://${host}:${port}`,
    credentials: secure ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null) : grpc.credentials.createInsecure(),
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
          if (value !== undefined) result.observe(observable, value, f.attributes as Record<string, string> | undefined);
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
