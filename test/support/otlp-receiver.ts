// A real OTLP/gRPC receiver for tests: traces (TraceService/Export) and
// metrics (MetricsService/Export) on the same server, as a collector serves both.
//
// It decodes every request INDEPENDENTLY of any exporter code: the wire bytes
// are taken as-is from @grpc/grpc-js (identity serializers) and decoded with
// protobufjs from the hand-written .proto files in test/support/otlp/, which
// follow the public OTLP schema (package opentelemetry.proto.*).
//
// Decoding choices (documented here because tests depend on them):
// - The .proto files are loaded with protobufjs `loadSync` and keepCase: false,
//   so decoded field names are lowerCamelCase (resourceSpans, startTimeUnixNano,
//   ...), the same names OTLP/JSON uses.
// - `requests[i].request` is `toObject({longs: String, enums: Number,
//   defaults: true, oneofs: true})`: 64-bit numbers are decimal strings, enums
//   are numbers, bytes fields stay Buffers, and each AnyValue has a virtual
//   `value` property naming the oneof member that is set.
// - `spans()` flattens that into ReceivedSpan: ids as lowercase hex, times as
//   BigInt nanoseconds, attributes as a plain object whose values keep the OTLP
//   type: string -> string, bool -> boolean, int -> bigint, double -> number,
//   bytes -> Buffer, array -> array, kvlist -> object.
// - `metricRequests[i].request` is decoded the same way; `metrics()` flattens it
//   into one ReceivedMetricPoint per data point (see that type).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';

export const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
export const METRICS_EXPORT_PATH = '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export';

/** OTLP enum values, as decoded (enums: Number). */
export const SpanKind = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;
export const AggregationTemporality = { UNSPECIFIED: 0, DELTA: 1, CUMULATIVE: 2 } as const;

export type AttrValue = string | boolean | bigint | number | Buffer | null | AttrValue[] | { [key: string]: AttrValue };
export type Attributes = Record<string, AttrValue>;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  /** OTLP SpanKind number (see SpanKind). */
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  droppedAttributesCount: number;
  events: { timeUnixNano: bigint; name: string; attributes: Attributes; droppedAttributesCount: number }[];
  droppedEventsCount: number;
  links: {
    traceId: string;
    spanId: string;
    traceState: string;
    attributes: Attributes;
    droppedAttributesCount: number;
    flags: number;
  }[];
  droppedLinksCount: number;
  /** code is an OTLP StatusCode number (see StatusCode). */
  status: { code: number; message: string };
  resource: { attributes: Attributes; droppedAttributesCount: number; schemaUrl: string };
  scope: { name: string; version: string; attributes: Attributes; droppedAttributesCount: number; schemaUrl: string };
  /** Index into receiver.requests of the request that carried this span. */
  requestIndex: number;
}

export type MetricType = 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';

/** Details of a HistogramDataPoint (counts as BigInt: they are fixed64). */
export interface ReceivedHistogram {
  count: bigint;
  /** undefined when the sender left the optional field out. */
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts: bigint[];
  explicitBounds: number[];
}

/** Details of an ExponentialHistogramDataPoint. */
export interface ReceivedExponentialHistogram {
  count: bigint;
  sum?: number;
  min?: number;
  max?: number;
  scale: number;
  zeroCount: bigint;
  zeroThreshold: number;
  positive: { offset: number; bucketCounts: bigint[] };
  negative: { offset: number; bucketCounts: bigint[] };
}

/** Details of a SummaryDataPoint. */
export interface ReceivedSummary {
  count: bigint;
  sum: number;
  quantileValues: { quantile: number; value: number }[];
}

/**
 * One data point of one metric, with its metric's descriptor, resource and
 * scope attached (what `metrics()` returns).
 *
 * `value`: for gauge and sum points, the NumberDataPoint value with its OTLP
 * type kept: as_int -> bigint, as_double -> number (undefined if the sender
 * set neither, which OTLP calls an invalid point). For histogram,
 * exponentialHistogram and summary points, the point's sum (a number;
 * undefined when absent), with the details in `histogram`,
 * `exponentialHistogram` or `summary`.
 */
export interface ReceivedMetricPoint {
  name: string;
  description: string;
  unit: string;
  type: MetricType;
  /** Sum only. */
  isMonotonic?: boolean;
  /** Sum, histogram and exponentialHistogram: an AggregationTemporality number. */
  aggregationTemporality?: number;
  value: number | bigint | undefined;
  attributes: Attributes;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  /** DataPointFlags bits (1: no recorded value). */
  flags: number;
  exemplarCount: number;
  histogram?: ReceivedHistogram;
  exponentialHistogram?: ReceivedExponentialHistogram;
  summary?: ReceivedSummary;
  /** Metric.metadata, as attributes. */
  metadata: Attributes;
  resource: { attributes: Attributes; droppedAttributesCount: number; schemaUrl: string };
  scope: { name: string; version: string; attributes: Attributes; droppedAttributesCount: number; schemaUrl: string };
  /** Index into receiver.metricRequests of the request that carried this point. */
  requestIndex: number;
}

/** What a TLS client presented (mutual TLS), from grpc-js's auth context. */
export interface ReceivedPeerCertificate {
  subjectCN: string;
  issuerCN: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex (as Node prints it). */
  fingerprint256: string;
}

export interface ReceivedRequest {
  index: number;
  /**
   * Decoded ExportTraceServiceRequest (in `requests`) or
   * ExportMetricsServiceRequest (in `metricRequests`); see the decoding notes at the top.
   */
  request: any;
  /** Raw (already decompressed) protobuf body. */
  body: Buffer;
  /** gRPC metadata as sent by the client (grpc-js strips grpc-encoding etc.). */
  metadata: Record<string, grpc.MetadataValue>;
  /** Status code the receiver answered with (grpc.status.OK on success). */
  responseCode: grpc.status;
  /** Set when the body could not be decoded (then the answer is INVALID_ARGUMENT). */
  decodeError?: string;
  /** The client's certificate, when it presented one over TLS. */
  peerCertificate?: ReceivedPeerCertificate;
}

/** `afterMs`: the answer is held that long (a slow collector); the request is recorded when it arrives. */
export type RespondResult = grpc.status | { code: grpc.status; details?: string; afterMs?: number };

export interface OtlpReceiverOptions {
  /**
   * Serve TLS with this PEM certificate chain and key. With `clientCa`, the
   * server also asks for a client certificate and verifies it against that
   * CA; with `requireClientCert` (default true when clientCa is given) a
   * client without a valid certificate fails the handshake (mutual TLS).
   */
  tls?: { cert: Buffer | string; key: Buffer | string; clientCa?: Buffer | string; requireClientCert?: boolean };
  /**
   * Chooses the answer to trace request number `requestIndex` (0-based):
   * grpc.status.OK (the default) or an error code such as UNAVAILABLE,
   * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED. The request is recorded either way.
   */
  respond?: (requestIndex: number) => RespondResult;
  /** The same for metric requests (numbered separately, from 0). */
  respondMetrics?: (requestIndex: number) => RespondResult;
  /** Port to listen on; 0 (the default) picks an ephemeral port. */
  port?: number;
  /** Address to listen on; default 127.0.0.1 (a container's test: its bridge's gateway). */
  host?: string;
}

export interface OtlpReceiver {
  port: number;
  /** "HOST:PORT" */
  address: string;
  /** Every trace request received, in arrival order. */
  requests: ReceivedRequest[];
  /** Every metric request received, in arrival order. */
  metricRequests: ReceivedRequest[];
  /** All spans of all requests, flattened, with resource and scope attached. */
  spans(): ReceivedSpan[];
  /** Resolves with spans() once it holds at least n spans; rejects after timeoutMs. */
  waitForSpans(n: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  /** All data points of all metric requests, flattened, in arrival order. */
  metrics(): ReceivedMetricPoint[];
  /**
   * Resolves with the most recently received point of metric `name` for
   * which `predicate` (default: any) holds, as soon as there is one;
   * rejects after timeoutMs naming what did arrive.
   */
  waitForMetric(name: string, predicate?: (point: ReceivedMetricPoint) => boolean, timeoutMs?: number): Promise<ReceivedMetricPoint>;
  close(): Promise<void>;
}

let cachedRoot: protobuf.Root | undefined;

/** Directory holding the .proto files, from src (test/support) or build (dist/test/support). */
export function otlpProtoDir(): string {
  const candidates = [path.join(__dirname, 'otlp'), path.resolve(__dirname, '../../../test/support/otlp')];
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'opentelemetry/proto/collector/trace/v1/trace_service.proto'))) return dir;
  }
  throw new Error(`OTLP .proto files not found in ${candidates.join(' or ')}`);
}

/** The protobufjs Root with the OTLP trace and metrics schemas (loaded once). */
export function otlpRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const dir = otlpProtoDir();
  const root = new protobuf.Root();
  // Imports are written relative to the proto root, as in opentelemetry-proto.
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
  root.loadSync(['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto'], {
    keepCase: false,
  });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String,
  enums: Number,
  defaults: true,
  oneofs: true,
};

/** Decodes an ExportTraceServiceRequest body (see the decoding notes at the top). */
export function decodeExportRequest(body: Uint8Array): any {
  const type = otlpRoot().lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  return type.toObject(type.decode(body), TO_OBJECT);
}

/** Decodes an ExportMetricsServiceRequest body (see the decoding notes at the top). */
export function decodeMetricsExportRequest(body: Uint8Array): any {
  const type = otlpRoot().lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
  return type.toObject(type.decode(body), TO_OBJECT);
}

function encodeResponse(typeName: string): Buffer {
  const type = otlpRoot().lookupType(typeName);
  return Buffer.from(type.encode(type.create({})).finish());
}

const hex = (b: Uint8Array | undefined | null): string => (b ? Buffer.from(b).toString('hex') : '');
const nanos = (v: string | number | undefined | null): bigint => BigInt(v ?? 0);

/** Converts a decoded AnyValue to a plain value that keeps the OTLP type. */
export function anyValue(v: any): AttrValue {
  if (!v?.value) return null;
  switch (v.value) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'intValue':
      return BigInt(v.intValue);
    case 'doubleValue':
      return v.doubleValue;
    case 'bytesValue':
      return Buffer.from(v.bytesValue);
    case 'arrayValue':
      return (v.arrayValue?.values ?? []).map(anyValue);
    case 'kvlistValue':
      return attributes(v.kvlistValue?.values);
    default:
      return null;
  }
}

/** Converts a decoded repeated KeyValue to a plain object. */
export function attributes(kvs: any[] | undefined | null): Attributes {
  const out: Attributes = {};
  for (const kv of kvs ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

/** Flattens one decoded ExportTraceServiceRequest. */
export function flattenSpans(request: any, requestIndex = 0): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of request?.resourceSpans ?? []) {
    const resource = {
      attributes: attributes(rs.resource?.attributes),
      droppedAttributesCount: rs.resource?.droppedAttributesCount ?? 0,
      schemaUrl: rs.schemaUrl ?? '',
    };
    for (const ss of rs.scopeSpans ?? []) {
      const scope = {
        name: ss.scope?.name ?? '',
        version: ss.scope?.version ?? '',
        attributes: attributes(ss.scope?.attributes),
        droppedAttributesCount: ss.scope?.droppedAttributesCount ?? 0,
        schemaUrl: ss.schemaUrl ?? '',
      };
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: s.traceState,
          flags: s.flags,
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: nanos(s.startTimeUnixNano),
          endTimeUnixNano: nanos(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          droppedAttributesCount: s.droppedAttributesCount,
          events: (s.events ?? []).map((e: any) => ({
            timeUnixNano: nanos(e.timeUnixNano),
            name: e.name,
            attributes: attributes(e.attributes),
            droppedAttributesCount: e.droppedAttributesCount,
          })),
          droppedEventsCount: s.droppedEventsCount,
          links: (s.links ?? []).map((l: any) => ({
            traceId: hex(l.traceId),
            spanId: hex(l.spanId),
            traceState: l.traceState,
            attributes: attributes(l.attributes),
            droppedAttributesCount: l.droppedAttributesCount,
            flags: l.flags,
          })),
          droppedLinksCount: s.droppedLinksCount,
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          resource,
          scope,
          requestIndex,
        });
      }
    }
  }
  return out;
}

const METRIC_TYPES: readonly MetricType[] = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

/** A proto3 `optional double`: undefined when absent (decoded with oneofs: true). */
const optionalDouble = (point: any, field: string): number | undefined => (point[`_${field}`] === field ? point[field] : undefined);
const counts = (values: any[] | undefined | null): bigint[] => (values ?? []).map((v) => BigInt(v));

/** The NumberDataPoint value with its OTLP type: as_int -> bigint, as_double -> number. */
function numberValue(p: any): number | bigint | undefined {
  if (p.value === 'asInt') return BigInt(p.asInt);
  if (p.value === 'asDouble') return p.asDouble;
  return undefined;
}

/** Flattens one decoded ExportMetricsServiceRequest into one entry per data point. */
export function flattenMetrics(request: any, requestIndex = 0): ReceivedMetricPoint[] {
  const out: ReceivedMetricPoint[] = [];
  for (const rm of request?.resourceMetrics ?? []) {
    const resource = {
      attributes: attributes(rm.resource?.attributes),
      droppedAttributesCount: rm.resource?.droppedAttributesCount ?? 0,
      schemaUrl: rm.schemaUrl ?? '',
    };
    for (const sm of rm.scopeMetrics ?? []) {
      const scope = {
        name: sm.scope?.name ?? '',
        version: sm.scope?.version ?? '',
        attributes: attributes(sm.scope?.attributes),
        droppedAttributesCount: sm.scope?.droppedAttributesCount ?? 0,
        schemaUrl: sm.schemaUrl ?? '',
      };
      for (const m of sm.metrics ?? []) {
        const type = METRIC_TYPES.find((t) => t === m.data);
        if (!type) continue; // no data (or a member this schema does not know)
        const data = m[type];
        for (const p of data.dataPoints ?? []) {
          const point: ReceivedMetricPoint = {
            name: m.name,
            description: m.description,
            unit: m.unit,
            type,
            value: undefined,
            attributes: attributes(p.attributes),
            startTimeUnixNano: nanos(p.startTimeUnixNano),
            timeUnixNano: nanos(p.timeUnixNano),
            flags: p.flags ?? 0,
            exemplarCount: (p.exemplars ?? []).length,
            metadata: attributes(m.metadata),
            resource,
            scope,
            requestIndex,
          };
          if (type === 'sum') point.isMonotonic = data.isMonotonic;
          if (type === 'sum' || type === 'histogram' || type === 'exponentialHistogram') {
            point.aggregationTemporality = data.aggregationTemporality;
          }
          switch (type) {
            case 'gauge':
            case 'sum':
              point.value = numberValue(p);
              break;
            case 'histogram':
              point.histogram = {
                count: BigInt(p.count),
                sum: optionalDouble(p, 'sum'),
                min: optionalDouble(p, 'min'),
                max: optionalDouble(p, 'max'),
                bucketCounts: counts(p.bucketCounts),
                explicitBounds: [...(p.explicitBounds ?? [])],
              };
              point.value = point.histogram.sum;
              break;
            case 'exponentialHistogram':
              point.exponentialHistogram = {
                count: BigInt(p.count),
                sum: optionalDouble(p, 'sum'),
                min: optionalDouble(p, 'min'),
                max: optionalDouble(p, 'max'),
                scale: p.scale,
                zeroCount: BigInt(p.zeroCount),
                zeroThreshold: p.zeroThreshold,
                positive: { offset: p.positive?.offset ?? 0, bucketCounts: counts(p.positive?.bucketCounts) },
                negative: { offset: p.negative?.offset ?? 0, bucketCounts: counts(p.negative?.bucketCounts) },
              };
              point.value = point.exponentialHistogram.sum;
              break;
            case 'summary':
              point.summary = {
                count: BigInt(p.count),
                sum: p.sum,
                quantileValues: (p.quantileValues ?? []).map((q: any) => ({ quantile: q.quantile, value: q.value })),
              };
              point.value = p.sum;
              break;
          }
          out.push(point);
        }
      }
    }
  }
  return out;
}

const identity = (b: Buffer): Buffer => b;

/** The client certificate grpc-js saw on this call, if any. */
function peerCertificate(call: grpc.ServerUnaryCall<Buffer, Buffer>): ReceivedPeerCertificate | undefined {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  if (!cert?.fingerprint256) return undefined;
  const cn = (name: any): string => String(name?.CN ?? '');
  return { subjectCN: cn(cert.subject), issuerCN: cn(cert.issuer), fingerprint256: cert.fingerprint256 };
}

/** One unary Export method with identity (de)serializers: the handler sees the wire bytes. */
function exportMethod(methodPath: string): grpc.ServiceDefinition {
  return {
    Export: {
      path: methodPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
      originalName: 'Export',
    },
  };
}

/**
 * A handler that decodes each request with `decode`, records it in `into`,
 * emits `event`, and answers as `respond` says (INVALID_ARGUMENT when the
 * body does not decode).
 */
function exportHandler(
  into: ReceivedRequest[],
  decode: (body: Buffer) => any,
  empty: any,
  responseType: string,
  respond: ((requestIndex: number) => RespondResult) | undefined,
  events: EventEmitter,
  event: string,
): grpc.handleUnaryCall<Buffer, Buffer> {
  return (call, callback) => {
    const index = into.length;
    const body = Buffer.from(call.request);
    let request: any = empty;
    let decodeError: string | undefined;
    try {
      request = decode(body);
    } catch (err) {
      decodeError = String((err as Error)?.message ?? err);
    }
    let answer: RespondResult = respond ? respond(index) : grpc.status.OK;
    if (decodeError) answer = { code: grpc.status.INVALID_ARGUMENT, details: `cannot decode: ${decodeError}` };
    const code = typeof answer === 'number' ? answer : answer.code;
    const peer = peerCertificate(call);
    into.push({
      index,
      request,
      body,
      metadata: call.metadata.getMap(),
      responseCode: code,
      ...(decodeError ? { decodeError } : {}),
      ...(peer ? { peerCertificate: peer } : {}),
    });
    events.emit(event);
    const reply = () => {
      if (code === grpc.status.OK) {
        callback(null, encodeResponse(responseType));
      } else {
        const details = typeof answer === 'number' ? `simulated ${grpc.status[code]}` : (answer.details ?? grpc.status[code]);
        callback({ code, details, metadata: new grpc.Metadata() } as grpc.ServerErrorResponse, null);
      }
    };
    const afterMs = typeof answer === 'number' ? 0 : (answer.afterMs ?? 0);
    if (afterMs > 0) setTimeout(reply, afterMs);
    else reply();
  };
}

/** Resolves when check() returns a value (re-checked on each `event`); rejects after timeoutMs with describe(). */
function waitFor<T>(events: EventEmitter, event: string, check: () => T | undefined, timeoutMs: number, describe: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const attempt = (): boolean => {
      const result = check();
      if (result === undefined) return false;
      clearTimeout(timer);
      events.off(event, onEvent);
      resolve(result);
      return true;
    };
    const onEvent = (): void => void attempt();
    const timer = setTimeout(() => {
      events.off(event, onEvent);
      reject(new Error(describe()));
    }, timeoutMs);
    events.on(event, onEvent);
    attempt();
  });
}

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  otlpRoot(); // fail early if the schema does not load
  const requests: ReceivedRequest[] = [];
  const metricRequests: ReceivedRequest[] = [];
  const events = new EventEmitter();
  const spans = (): ReceivedSpan[] => requests.flatMap((r) => flattenSpans(r.request, r.index));
  const metrics = (): ReceivedMetricPoint[] => metricRequests.flatMap((r) => flattenMetrics(r.request, r.index));

  const server = new grpc.Server();
  server.addService(exportMethod(EXPORT_PATH), {
    Export: exportHandler(
      requests,
      decodeExportRequest,
      { resourceSpans: [] },
      'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
      options.respond,
      events,
      'request',
    ),
  });
  server.addService(exportMethod(METRICS_EXPORT_PATH), {
    Export: exportHandler(
      metricRequests,
      decodeMetricsExportRequest,
      { resourceMetrics: [] },
      'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse',
      options.respondMetrics,
      events,
      'metricRequest',
    ),
  });

  let credentials: grpc.ServerCredentials;
  if (options.tls) {
    const { cert, key, clientCa, requireClientCert } = options.tls;
    credentials = grpc.ServerCredentials.createSsl(
      clientCa ? Buffer.from(clientCa) : null,
      [{ cert_chain: Buffer.from(cert), private_key: Buffer.from(key) }],
      clientCa ? (requireClientCert ?? true) : false,
    );
  } else {
    credentials = grpc.ServerCredentials.createInsecure();
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${options.host ?? '127.0.0.1'}:${options.port ?? 0}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );

  let closed: Promise<void> | undefined;
  return {
    port,
    address: `${options.host ?? '127.0.0.1'}:${port}`,
    requests,
    metricRequests,
    spans,
    metrics,
    waitForSpans(n: number, timeoutMs = 5000): Promise<ReceivedSpan[]> {
      return waitFor(
        events,
        'request',
        () => {
          const all = spans();
          return all.length >= n ? all : undefined;
        },
        timeoutMs,
        () => `waitForSpans(${n}): only ${spans().length} span(s) in ${requests.length} request(s) after ${timeoutMs} ms`,
      );
    },
    waitForMetric(name: string, predicate: (point: ReceivedMetricPoint) => boolean = () => true, timeoutMs = 5000): Promise<ReceivedMetricPoint> {
      return waitFor(
        events,
        'metricRequest',
        () =>
          metrics()
            .filter((p) => p.name === name && predicate(p))
            .pop(),
        timeoutMs,
        () => {
          const all = metrics();
          const same = all.filter((p) => p.name === name);
          const seen = same.length
            ? `${same.length} point(s) of it, none matching; the last: ${describePoint(same[same.length - 1])}`
            : `none of it; names seen: ${JSON.stringify([...new Set(all.map((p) => p.name))])}`;
          return `waitForMetric(${JSON.stringify(name)}): ${seen}, in ${metricRequests.length} request(s) after ${timeoutMs} ms`;
        },
      );
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        // Graceful first; forced after 1 s so a stuck client cannot hang an after() hook.
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closed;
    },
  };
}

/** A short description of a point for failure messages (BigInts printed as numbers). */
export function describePoint(p: ReceivedMetricPoint): string {
  return JSON.stringify({ type: p.type, value: p.value, attributes: p.attributes }, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
}

export interface SelfSignedCert {
  cert: Buffer;
  key: Buffer;
  dir: string;
  /** The PEM files in `dir` (for OTEL_EXPORTER_OTLP_CERTIFICATE and the like). */
  certPath: string;
  keyPath: string;
  cleanup(): void;
}

/**
 * A self-signed certificate and key, made with openssl in a temporary
 * directory: by default for CN=localhost with subjectAltName DNS:localhost
 * and IP:127.0.0.1 (a server certificate). The certificate is its own CA:
 * pass `cert` as the client's root certificate, or as the server's
 * `tls.clientCa` when it is a client's certificate (any CN).
 */
export function makeSelfSignedCert(options: { commonName?: string } = {}): SelfSignedCert {
  const commonName = options.commonName ?? 'localhost';
  if (!/^[A-Za-z0-9.-]+$/.test(commonName)) throw new Error(`bad common name ${JSON.stringify(commonName)}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-cert-'));
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-nodes',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-keyout',
        keyPath,
        '-out',
        certPath,
        '-days',
        '2',
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        `subjectAltName=DNS:${commonName}${commonName === 'localhost' ? ',IP:127.0.0.1' : ''}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 15000 },
    );
    return {
      cert: fs.readFileSync(certPath),
      key: fs.readFileSync(keyPath),
      dir,
      certPath,
      keyPath,
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
