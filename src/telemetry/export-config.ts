/**
 * What the exporters need to know: where the collector is, how to connect,
 * how to batch. config/otel-env.ts builds these from the OTEL_* settings.
 */
export interface OtlpEndpoint {
  host: string;
  port: number;
  secure: boolean;
}

export interface OtlpBatchConfig {
  /** OTEL_BSP_MAX_QUEUE_SIZE when set; unset, the queue is bounded by memory only. */
  maxQueueSize?: number;
  /** export_queue_mib, in bytes: the memory the queued spans may take. */
  maxQueueBytes: number;
  maxExportBatchSize: number;
  /** export_concurrency: export requests in flight at a time. */
  maxConcurrentExports: number;
  scheduleDelayMs: number;
  exportTimeoutMs: number;
}

export type OtlpCompression = 'none' | 'gzip';
export type TraceExporterName = 'otlp' | 'console';

/** Where and how one signal's exporter connects: shared by traces and metrics. */
export interface OtlpConnection {
  endpoint: OtlpEndpoint;
  headers: Array<[string, string]>;
  certificateFile?: string;
  clientKeyFile?: string;
  clientCertificateFile?: string;
  compression: OtlpCompression;
  timeoutMs: number;
}

export type OtlpSignal = 'TRACES' | 'METRICS';

export interface OtlpTraceConfig extends OtlpConnection {
  batch: OtlpBatchConfig;
  /** [] when OTEL_TRACES_EXPORTER is unset (not configured) or "none". */
  exporters: TraceExporterName[];
  disabled: boolean;
}

/** The agent's own counters as OTel metrics (see counter-metrics.ts). */
export interface OtlpMetricsConfig extends OtlpConnection {
  /** OTEL_METRICS_EXPORTER=otlp, or unset while traces go over OTLP; never with OTEL_SDK_DISABLED. */
  enabled: boolean;
  /** OTEL_METRIC_EXPORT_INTERVAL (default 60000). */
  intervalMs: number;
  /** OTEL_METRIC_EXPORT_TIMEOUT (default 30000), clamped to the interval. */
  exportTimeoutMs: number;
}
