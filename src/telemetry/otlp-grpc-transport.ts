/**
 * One OTLP/gRPC trace export call at a time, through a bare @grpc/grpc-js
 * client (identity serializers: the request is already protobuf bytes; no
 * generated stubs, no OpenTelemetry SDK). What comes back is an outcome, not
 * an error: ok, retryable or rejected. Batching and retrying are the caller's.
 *
 * Retryable codes follow the OTLP specification's list (CANCELLED,
 * DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS) plus
 * RESOURCE_EXHAUSTED unconditionally (the spec asks for RetryInfo, which we
 * do not parse: treating it as throttling is the safe reading). Any other
 * code (INVALID_ARGUMENT, UNIMPLEMENTED, PERMISSION_DENIED, UNAUTHENTICATED,
 * INTERNAL, ...) means the collector will never take this request.
 */
import * as grpc from '@grpc/grpc-js';
import type { OtlpConnection } from './export-config';
import type { CallStatus, ExportOutcome, ExportTransport } from './transport';

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

export interface TlsMaterial {
  ca?: Buffer;
  key?: Buffer;
  cert?: Buffer;
}

export type { CallStatus, ExportOutcome } from './transport';

/** The outcome of a finished call: grpc-js's callback error (null on success) classified. */
export function outcomeOf(err: grpc.ServiceError | null): ExportOutcome {
  if (!err) return { kind: 'ok' };
  const status: CallStatus = { code: err.code, name: String(grpc.status[err.code] ?? err.code), details: err.details || err.message || '' };
  return RETRYABLE_CODES.has(err.code) ? { kind: 'retryable', status } : { kind: 'rejected', status };
}

/** Where and how the transport connects: a trace or metrics OtlpConnection has all of it. */
export type TransportConnection = Pick<OtlpConnection, 'endpoint' | 'headers' | 'compression'>;

const GZIP = 2; // grpc-js CompressionAlgorithms.gzip
const identity = (b: Buffer): Buffer => b;

export class OtlpGrpcTransport implements ExportTransport {
  /** The collector's address as a URL, for log lines. */
  readonly target: string;
  private readonly client: grpc.Client;
  private readonly metadata = new grpc.Metadata();

  /**
   * `reconnectMaxMs` caps the channel's own reconnect backoff, so that a
   * collector that comes back is noticed within about that long.
   */
  constructor(connection: TransportConnection, tls: TlsMaterial | undefined, reconnectMaxMs: number) {
    for (const [key, value] of connection.headers) this.metadata.add(key, value);
    const { host, port, secure } = connection.endpoint;
    const credentials = secure ? grpc.credentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null) : grpc.credentials.createInsecure();
    const channelOptions: grpc.ChannelOptions = {
      'grpc.initial_reconnect_backoff_ms': Math.min(1000, reconnectMaxMs),
      'grpc.max_reconnect_backoff_ms': reconnectMaxMs,
    };
    if (connection.compression === 'gzip') channelOptions['grpc.default_compression_algorithm'] = GZIP;
    this.target = `${secure ? 'https' : 'http'}://${host}:${port}`;
    this.client = new grpc.Client(`${host}:${port}`, credentials, channelOptions);
  }

  /**
   * Sends one ExportTraceServiceRequest with a deadline timeoutMs from now;
   * `done` is told its outcome once. Returns what cancels the call (its
   * outcome is then CANCELLED), or undefined when the call could not start:
   * `done` has then already been told, before this returns.
   */
  export(request: Buffer, timeoutMs: number, done: (outcome: ExportOutcome) => void): (() => void) | undefined {
    let call: grpc.ClientUnaryCall;
    try {
      call = this.client.makeUnaryRequest(EXPORT_METHOD, identity, identity, request, this.metadata, { deadline: Date.now() + timeoutMs }, (err) =>
        done(outcomeOf(err)),
      );
    } catch {
      // Only a closed client throws here: worth another try, nothing to report.
      done({ kind: 'retryable' });
      return undefined;
    }
    return () => call.cancel();
  }

  close(): void {
    try {
      this.client.close();
    } catch {
      // already closed
    }
  }
}
