/**
 * What the span exporter needs from a transport, whatever the protocol
 * (otlp-grpc-transport.ts; OTLP/HTTP beside it): send one encoded
 * ExportTraceServiceRequest, and say how it went as an outcome, never as an
 * error. Batching, retrying and backoff are the exporter's.
 */

/** How a failed call ended, as the collector (or the connection) said it. */
export interface CallStatus {
  /** The gRPC status code, or the HTTP status (0 when no response came). */
  code: number;
  /** For log lines: the gRPC code's name (UNAVAILABLE), or "HTTP 503". */
  name: string;
  /** What came with it ("connection refused", "self-signed certificate"...), raw. */
  details: string;
}

export type ExportOutcome =
  | { kind: 'ok' }
  /**
   * Worth another try. No status: the call could not even start (the client
   * was closed). `retryAfterMs`: the collector asked for that much quiet
   * (HTTP Retry-After); the exporter waits at least that long.
   */
  | { kind: 'retryable'; status?: CallStatus; retryAfterMs?: number }
  /** The collector will never take this request. */
  | { kind: 'rejected'; status: CallStatus };

export interface ExportTransport {
  /** The collector's address as a URL, for log lines. */
  readonly target: string;
  /**
   * Sends one request with a deadline timeoutMs from now; `done` is told its
   * outcome once. Several calls may be in flight at a time. Returns what
   * cancels the call, or undefined when the call could not start: `done` has
   * then already been told, before this returns.
   */
  export(request: Buffer, timeoutMs: number, done: (outcome: ExportOutcome) => void): (() => void) | undefined;
  /** Ends every call in flight; later exports are retryable without a status. */
  close(): void;
}
