/**
 * Pure resolver of the standard OpenTelemetry environment variables for the
 * OTLP/gRPC exporters of spans and metrics (no I/O, never throws); the
 * loader calls it once and hands the result on. Follows the
 * OpenTelemetry specification ("OTLP Exporter Configuration", "Environment
 * Variable Specification"): a signal-specific OTEL_EXPORTER_OTLP_TRACES_*
 * variable wins over the generic OTEL_EXPORTER_OTLP_* one. Values are trimmed;
 * empty or whitespace-only values count as unset (so an empty TRACES_* variable
 * falls through to the generic one).
 *
 * Every problem becomes one message in `errors`, naming the variable actually
 * used, the bad value (JSON-quoted, truncated to 80 characters) and what is
 * allowed; the setting then keeps its default. Choices where the spec is open:
 *
 * - Endpoint: `http://host[:port]`, `https://host[:port]` or bare `host:port`
 *   (IPv6 in brackets; the host is returned as written, brackets included, so
 *   `${host}:${port}` is a valid gRPC target). A URL without a port takes the
 *   scheme's port (80/443), as URLs mean; a bare host must name its port. Any
 *   path, query or fragment is ignored (gRPC has its own paths); user info
 *   (`user:pass@`) is rejected and never echoed.
 * - Security: the scheme decides (https => secure, http => insecure) and
 *   *_INSECURE is then ignored, with no error, even when it disagrees: the spec
 *   applies INSECURE only to endpoints without a scheme. Without a scheme the
 *   connection is secure unless *_INSECURE is true (spec default: false).
 * - Booleans: "true" (any case) is true; "false" (any case) or unset is false;
 *   anything else is false and reported.
 * - Headers: entries are split on ',', and each at its first '=' (values may
 *   contain '='); keys are trimmed and lower-cased and must be gRPC metadata
 *   keys ([0-9a-z_.-]); values are trimmed, then percent-decoded, and must not
 *   contain control characters. Empty entries (`a=1,,b=2`, trailing comma) are
 *   skipped. A bad entry is dropped and reported, the good ones are kept;
 *   duplicate keys are all kept in order (gRPC metadata is multi-valued).
 *   Header values may be secrets, so errors quote keys only, never values.
 * - Durations (ms) and sizes: decimal integers only; timeouts, queue and batch
 *   sizes must be > 0, OTEL_BSP_SCHEDULE_DELAY may be 0; all at most 2^31-1
 *   (Node timers overflow beyond it).
 * - maxExportBatchSize > maxQueueSize: reported when the batch size was set,
 *   and in every case the batch size is clamped to the queue size.
 * - OTEL_TRACES_EXPORTER: names are trimmed and matched case-insensitively,
 *   duplicates collapse; unknown names are dropped and reported, valid ones are
 *   kept. "none" alone gives []; "none" mixed with exporters is reported and
 *   ignored.
 * - Certificate paths are returned as given (trimmed); reading them is the
 *   caller's job.
 */
import type {
  OtlpBatchConfig,
  OtlpCompression,
  OtlpConnection,
  OtlpEndpoint,
  OtlpMetricsConfig,
  OtlpSignal,
  OtlpTraceConfig,
  TraceExporterName,
} from '../telemetry/export-config';
import { CONTROL_CHAR, quote } from './formats';
import { SCHEMA } from './schema';

export type Env = Record<string, string | undefined>;

// The defaults are the schema's (as text, like the variables they stand for).
const OTEL = SCHEMA.otel;
const DEFAULT_ENDPOINT = String(OTEL.exporter_otlp.endpoint.default);
const DEFAULT_TIMEOUT_MS = Number(OTEL.exporter_otlp.timeout.default);
const DEFAULT_BATCH: OtlpBatchConfig = {
  maxQueueSize: OTEL.bsp.max_queue_size.default === '' ? undefined : Number(OTEL.bsp.max_queue_size.default),
  // Not an OTEL_* variable: loadSettings puts export_queue_mib in its place.
  maxQueueBytes: SCHEMA.export_queue_mib.default * 2 ** 20,
  maxConcurrentExports: SCHEMA.export_concurrency.default,
  maxExportBatchSize: Number(OTEL.bsp.max_export_batch_size.default),
  scheduleDelayMs: Number(OTEL.bsp.schedule_delay.default),
  exportTimeoutMs: Number(OTEL.bsp.export_timeout.default),
};
const DEFAULT_METRIC_INTERVAL_MS = Number(OTEL.metric_export_interval.default);
const DEFAULT_METRIC_TIMEOUT_MS = Number(OTEL.metric_export_timeout.default);
const MAX_INT32 = 2 ** 31 - 1;

function notAllowed(name: string, value: string, expected: string): string {
  return `${name}: ${quote(value)} is not allowed: expected ${expected}`;
}

/** A trimmed, non-empty value, or undefined. */
function read(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

/** The signal-specific variable if set, else the generic one. */
function readOtlp(env: Env, signal: OtlpSignal, suffix: string): { name: string; value: string } | undefined {
  for (const name of [`OTEL_EXPORTER_OTLP_${signal}_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`]) {
    const value = read(env, name);
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

function parseBoolean(name: string, value: string | undefined, errors: string[]): boolean {
  if (value === undefined) return false;
  const v = value.toLowerCase();
  if (v === 'true') return true;
  if (v !== 'false') errors.push(notAllowed(name, value, 'true or false'));
  return false;
}

function parseInteger(name: string, value: string | undefined, min: number, fallback: number, errors: string[]): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= MAX_INT32)) {
    errors.push(notAllowed(name, value, `an integer from ${min} to ${MAX_INT32}`));
    return fallback;
  }
  return n;
}

const HOST_NAME = /^[A-Za-z0-9._-]+$/;
const HOST_IPV6 = /^\[[0-9A-Fa-f:.]+(%[A-Za-z0-9._~-]+)?\]$/;
const ENDPOINT_FORMS = 'http://host[:port], https://host[:port] or host:port, with a port from 1 to 65535';

/** `host[:port]` -> host and port (undefined when absent); null when malformed. */
function splitHostPort(authority: string): { host: string; port?: number } | null {
  const m = /^(\[[^\]]*\]|[^:[\]]*)(?::(\d*))?$/.exec(authority);
  if (!m) return null;
  const host = m[1];
  if (!HOST_NAME.test(host) && !HOST_IPV6.test(host)) return null;
  if (m[2] === undefined) return { host };
  const port = m[2] === '' ? NaN : Number(m[2]);
  if (!(port >= 1 && port <= 65535)) return null;
  return { host, port };
}

function parseEndpoint(name: string, value: string, insecure: boolean, errors: string[]): OtlpEndpoint | undefined {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/s.exec(value);
  if (scheme) {
    const protocol = scheme[1].toLowerCase();
    const authority = /^[^/?#]*/.exec(scheme[2])![0];
    const shown = value.replace(/^([^:]*:\/\/)[^/?#]*@/, '$1***@');
    if (protocol !== 'http' && protocol !== 'https') {
      errors.push(notAllowed(name, shown, `the scheme http or https (${ENDPOINT_FORMS})`));
      return undefined;
    }
    if (authority.includes('@')) {
      errors.push(notAllowed(name, shown, `no user info in the URL (${ENDPOINT_FORMS})`));
      return undefined;
    }
    const hp = splitHostPort(authority);
    if (!hp) {
      errors.push(notAllowed(name, shown, ENDPOINT_FORMS));
      return undefined;
    }
    const secure = protocol === 'https';
    return { host: hp.host, port: hp.port ?? (secure ? 443 : 80), secure };
  }
  const hp = value.includes('/') || value.includes('@') ? null : splitHostPort(value);
  if (!hp || hp.port === undefined) {
    errors.push(notAllowed(name, value, ENDPOINT_FORMS));
    return undefined;
  }
  return { host: hp.host, port: hp.port, secure: !insecure };
}

const HEADER_KEY = /^[0-9a-z_.-]+$/;

function parseHeaders(name: string, value: string, errors: string[]): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  value.split(',').forEach((raw, i) => {
    const entry = raw.trim();
    if (!entry) return;
    const where = `${name}: entry ${i + 1}`;
    const eq = entry.indexOf('=');
    if (eq < 0) {
      // Could be a bare secret (a token without its key): do not echo it.
      errors.push(`${where} (${entry.length} characters, not shown) is not allowed: expected key=value`);
      return;
    }
    const key = entry.slice(0, eq).trim().toLowerCase();
    if (!HEADER_KEY.test(key)) {
      errors.push(`${where}: key ${quote(entry.slice(0, eq).trim())} is not allowed: expected a non-empty key of letters, digits, '-', '_' or '.'`);
      return;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      errors.push(`${where}: the value of ${quote(key)} (not shown) is not allowed: expected valid percent-encoding`);
      return;
    }
    if (CONTROL_CHAR.test(decoded)) {
      errors.push(`${where}: the value of ${quote(key)} (not shown) is not allowed: expected no control characters`);
      return;
    }
    headers.push([key, decoded]);
  });
  return headers;
}

function parseExporters(name: string, value: string, errors: string[]): TraceExporterName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const exporters: TraceExporterName[] = [];
  const hasOthers = names.some((n) => n.toLowerCase() !== 'none');
  for (const raw of names) {
    const n = raw.toLowerCase();
    if (n === 'otlp' || n === 'console') {
      if (!exporters.includes(n)) exporters.push(n);
    } else if (n === 'none') {
      if (hasOthers) errors.push(notAllowed(name, value, '"none" alone, or a list of otlp and console'));
    } else {
      errors.push(notAllowed(name, raw, 'a comma-separated list of otlp, console, or none'));
    }
  }
  return exporters;
}

/** Endpoint, security, headers, compression and timeout of one signal. */
function resolveConnection(env: Env, signal: OtlpSignal, errors: string[]): OtlpConnection {
  const insecureVar = readOtlp(env, signal, 'INSECURE');
  const insecure = insecureVar ? parseBoolean(insecureVar.name, insecureVar.value, errors) : false;
  const endpointVar = readOtlp(env, signal, 'ENDPOINT');
  const endpoint =
    (endpointVar && parseEndpoint(endpointVar.name, endpointVar.value, insecure, errors)) || parseEndpoint('default', DEFAULT_ENDPOINT, insecure, [])!;

  const headersVar = readOtlp(env, signal, 'HEADERS');
  const headers = headersVar ? parseHeaders(headersVar.name, headersVar.value, errors) : [];

  let compression: OtlpCompression = 'none';
  const compressionVar = readOtlp(env, signal, 'COMPRESSION');
  if (compressionVar) {
    const v = compressionVar.value.toLowerCase();
    if (v === 'gzip' || v === 'none') compression = v;
    else errors.push(notAllowed(compressionVar.name, compressionVar.value, 'gzip or none'));
  }

  const timeoutVar = readOtlp(env, signal, 'TIMEOUT');
  const timeoutMs = timeoutVar ? parseInteger(timeoutVar.name, timeoutVar.value, 1, DEFAULT_TIMEOUT_MS, errors) : DEFAULT_TIMEOUT_MS;

  const connection: OtlpConnection = { endpoint, headers, compression, timeoutMs };
  const certificate = readOtlp(env, signal, 'CERTIFICATE');
  if (certificate) connection.certificateFile = certificate.value;
  const clientKey = readOtlp(env, signal, 'CLIENT_KEY');
  if (clientKey) connection.clientKeyFile = clientKey.value;
  const clientCertificate = readOtlp(env, signal, 'CLIENT_CERTIFICATE');
  if (clientCertificate) connection.clientCertificateFile = clientCertificate.value;
  return connection;
}

export function resolveOtlpTraceConfig(env: Env): { config: OtlpTraceConfig; errors: string[] } {
  const errors: string[] = [];
  const connection = resolveConnection(env, 'TRACES', errors);

  const bsp = (suffix: string, min: number, fallback: number): number =>
    parseInteger(`OTEL_BSP_${suffix}`, read(env, `OTEL_BSP_${suffix}`), min, fallback, errors);
  // Unset (the default): the queue is bounded by memory only (export_queue_mib).
  const queueSize = read(env, 'OTEL_BSP_MAX_QUEUE_SIZE') === undefined ? 0 : bsp('MAX_QUEUE_SIZE', 1, 0);
  const batch: OtlpBatchConfig = {
    maxQueueSize: queueSize > 0 ? queueSize : DEFAULT_BATCH.maxQueueSize,
    maxQueueBytes: DEFAULT_BATCH.maxQueueBytes,
    maxConcurrentExports: DEFAULT_BATCH.maxConcurrentExports,
    maxExportBatchSize: bsp('MAX_EXPORT_BATCH_SIZE', 1, DEFAULT_BATCH.maxExportBatchSize),
    scheduleDelayMs: bsp('SCHEDULE_DELAY', 0, DEFAULT_BATCH.scheduleDelayMs),
    exportTimeoutMs: bsp('EXPORT_TIMEOUT', 1, DEFAULT_BATCH.exportTimeoutMs),
  };
  if (batch.maxQueueSize !== undefined && batch.maxExportBatchSize > batch.maxQueueSize) {
    // Report it only when the batch size was set and valid (else it is the
    // default, or already reported); clamp in every case.
    const setBatch = read(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
    if (setBatch !== undefined && Number(setBatch) === batch.maxExportBatchSize && /^\d+$/.test(setBatch)) {
      errors.push(notAllowed('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', setBatch, `an integer at most OTEL_BSP_MAX_QUEUE_SIZE (${batch.maxQueueSize})`));
    }
    batch.maxExportBatchSize = batch.maxQueueSize;
  }

  const exportersValue = read(env, 'OTEL_TRACES_EXPORTER');
  const exporters = exportersValue ? parseExporters('OTEL_TRACES_EXPORTER', exportersValue, errors) : [];

  const disabled = parseBoolean('OTEL_SDK_DISABLED', read(env, 'OTEL_SDK_DISABLED'), errors);

  return { config: { ...connection, batch, exporters, disabled }, errors };
}

/**
 * The metrics exporter's settings. OTEL_METRICS_EXPORTER takes otlp or none;
 * unset, metrics follow the traces: on when spans go over OTLP, so the
 * counters that say what was lost travel to the same collector as the spans.
 * OTEL_SDK_DISABLED turns them off like everything else.
 */
export function resolveOtlpMetricsConfig(env: Env): { config: OtlpMetricsConfig; errors: string[] } {
  const errors: string[] = [];
  const connection = resolveConnection(env, 'METRICS', errors);
  const traces = resolveOtlpTraceConfig(env).config;

  let enabled = !traces.disabled && traces.exporters.includes('otlp');
  const exporterValue = read(env, 'OTEL_METRICS_EXPORTER');
  if (exporterValue !== undefined) {
    const v = exporterValue.toLowerCase();
    if (v === 'otlp' || v === 'none') enabled = v === 'otlp' && !traces.disabled;
    else errors.push(notAllowed('OTEL_METRICS_EXPORTER', exporterValue, 'otlp or none'));
  }

  const intervalMs = parseInteger('OTEL_METRIC_EXPORT_INTERVAL', read(env, 'OTEL_METRIC_EXPORT_INTERVAL'), 1, DEFAULT_METRIC_INTERVAL_MS, errors);
  const exportTimeoutMs = Math.min(
    intervalMs,
    parseInteger('OTEL_METRIC_EXPORT_TIMEOUT', read(env, 'OTEL_METRIC_EXPORT_TIMEOUT'), 1, DEFAULT_METRIC_TIMEOUT_MS, errors),
  );
  return { config: { ...connection, enabled, intervalMs, exportTimeoutMs }, errors };
}
