// A real OTLP/gRPC trace receiver for tests.
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
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import * as protobuf from "protobufjs";

export const EXPORT_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/** OTLP enum values, as decoded (enums: Number). */
export const SpanKind = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

export type AttrValue =
  | string
  | boolean
  | bigint
  | number
  | Buffer
  | null
  | AttrValue[]
  | { [key: string]: AttrValue };
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

export interface ReceivedRequest {
  index: number;
  /** Decoded ExportTraceServiceRequest (see the decoding notes at the top). */
  request: any;
  /** Raw (already decompressed) protobuf body. */
  body: Buffer;
  /** gRPC metadata as sent by the client (grpc-js strips grpc-encoding etc.). */
  metadata: Record<string, grpc.MetadataValue>;
  /** Status code the receiver answered with (grpc.status.OK on success). */
  responseCode: grpc.status;
  /** Set when the body could not be decoded (then the answer is INVALID_ARGUMENT). */
  decodeError?: string;
}

export type RespondResult = grpc.status | { code: grpc.status; details?: string };

export interface OtlpReceiverOptions {
  /** Serve TLS with this PEM certificate chain and key. */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /**
   * Chooses the answer to request number `requestIndex` (0-based): grpc.status.OK
   * (the default) or an error code such as UNAVAILABLE, DEADLINE_EXCEEDED,
   * RESOURCE_EXHAUSTED. The request is recorded either way.
   */
  respond?: (requestIndex: number) => RespondResult;
  /** Port to listen on; 0 (the default) picks an ephemeral port. */
  port?: number;
}

export interface OtlpReceiver {
  port: number;
  /** "127.0.0.1:PORT" */
  address: string;
  /** Every request received, in arrival order. */
  requests: ReceivedRequest[];
  /** All spans of all requests, flattened, with resource and scope attached. */
  spans(): ReceivedSpan[];
  /** Resolves with spans() once it holds at least n spans; rejects after timeoutMs. */
  waitForSpans(n: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

let cachedRoot: protobuf.Root | undefined;

/** Directory holding the .proto files, from src (test/support) or build (dist/test/support). */
export function otlpProtoDir(): string {
  const candidates = [
    path.join(__dirname, "otlp"),
    path.resolve(__dirname, "../../../test/support/otlp"),
  ];
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, "opentelemetry/proto/collector/trace/v1/trace_service.proto"))) return dir;
  }
  throw new Error(`OTLP .proto files not found in ${candidates.join(" or ")}`);
}

/** The protobufjs Root with the OTLP trace schema (loaded once). */
export function otlpRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  const dir = otlpProtoDir();
  const root = new protobuf.Root();
  // Imports are written relative to the proto root, as in opentelemetry-proto.
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto", { keepCase: false });
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
  const type = otlpRoot().lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
  return type.toObject(type.decode(body), TO_OBJECT);
}

function encodeExportResponse(): Buffer {
  const type = otlpRoot().lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse");
  return Buffer.from(type.encode(type.create({})).finish());
}

const hex = (b: Uint8Array | undefined | null): string => (b ? Buffer.from(b).toString("hex") : "");
const nanos = (v: string | number | undefined | null): bigint => BigInt(v ?? 0);

/** Converts a decoded AnyValue to a plain value that keeps the OTLP type. */
export function anyValue(v: any): AttrValue {
  if (!v || !v.value) return null;
  switch (v.value) {
    case "stringValue":
      return v.stringValue;
    case "boolValue":
      return v.boolValue;
    case "intValue":
      return BigInt(v.intValue);
    case "doubleValue":
      return v.doubleValue;
    case "bytesValue":
      return Buffer.from(v.bytesValue);
    case "arrayValue":
      return (v.arrayValue?.values ?? []).map(anyValue);
    case "kvlistValue":
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
      schemaUrl: rs.schemaUrl ?? "",
    };
    for (const ss of rs.scopeSpans ?? []) {
      const scope = {
        name: ss.scope?.name ?? "",
        version: ss.scope?.version ?? "",
        attributes: attributes(ss.scope?.attributes),
        droppedAttributesCount: ss.scope?.droppedAttributesCount ?? 0,
        schemaUrl: ss.schemaUrl ?? "",
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
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
          resource,
          scope,
          requestIndex,
        });
      }
    }
  }
  return out;
}

const identity = (b: Buffer): Buffer => b;

export async function startOtlpReceiver(options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> {
  otlpRoot(); // fail early if the schema does not load
  const requests: ReceivedRequest[] = [];
  const events = new EventEmitter();
  const spans = (): ReceivedSpan[] => requests.flatMap((r) => flattenSpans(r.request, r.index));

  const server = new grpc.Server();
  const definition: grpc.ServiceDefinition = {
    Export: {
      path: EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
      originalName: "Export",
    },
  };
  const exportHandler: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
    const index = requests.length;
    const body = Buffer.from(call.request);
    let request: any = { resourceSpans: [] };
    let decodeError: string | undefined;
    try {
      request = decodeExportRequest(body);
    } catch (err) {
      decodeError = String((err as Error)?.message ?? err);
    }
    let answer: RespondResult = options.respond ? options.respond(index) : grpc.status.OK;
    if (decodeError) answer = { code: grpc.status.INVALID_ARGUMENT, details: `cannot decode: ${decodeError}` };
    const code = typeof answer === "number" ? answer : answer.code;
    requests.push({
      index,
      request,
      body,
      metadata: call.metadata.getMap(),
      responseCode: code,
      ...(decodeError ? { decodeError } : {}),
    });
    events.emit("request");
    if (code === grpc.status.OK) {
      callback(null, encodeExportResponse());
    } else {
      const details = typeof answer === "number" ? `simulated ${grpc.status[code]}` : (answer.details ?? grpc.status[code]);
      callback({ code, details, metadata: new grpc.Metadata() } as grpc.ServerErrorResponse, null);
    }
  };
  server.addService(definition, { Export: exportHandler });

  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(
        null,
        [{ cert_chain: Buffer.from(options.tls.cert), private_key: Buffer.from(options.tls.key) }],
        false,
      )
    : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );

  let closed: Promise<void> | undefined;
  return {
    port,
    address: `127.0.0.1:${port}`,
    requests,
    spans,
    waitForSpans(n: number, timeoutMs = 5000): Promise<ReceivedSpan[]> {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const all = spans();
          if (all.length < n) return false;
          clearTimeout(timer);
          events.off("request", onRequest);
          resolve(all);
          return true;
        };
        const onRequest = (): void => void check();
        const timer = setTimeout(() => {
          events.off("request", onRequest);
          reject(new Error(`waitForSpans(${n}): only ${spans().length} span(s) in ${requests.length} request(s) after ${timeoutMs} ms`));
        }, timeoutMs);
        events.on("request", onRequest);
        check();
      });
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

export interface SelfSignedCert {
  cert: Buffer;
  key: Buffer;
  dir: string;
  cleanup(): void;
}

/**
 * A self-signed certificate and key for CN=localhost with subjectAltName
 * DNS:localhost and IP:127.0.0.1, made with openssl in a temporary directory.
 * The certificate is its own CA: pass `cert` as the client's root certificate.
 */
export function makeSelfSignedCert(): SelfSignedCert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "otlp-cert-"));
  const keyPath = path.join(dir, "key.pem");
  const certPath = path.join(dir, "cert.pem");
  try {
    execFileSync(
      "openssl",
      [
        "req", "-x509", "-nodes",
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", keyPath, "-out", certPath,
        "-days", "2",
        "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      { stdio: ["ignore", "ignore", "pipe"], timeout: 15000 },
    );
    return {
      cert: fs.readFileSync(certPath),
      key: fs.readFileSync(keyPath),
      dir,
      cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
