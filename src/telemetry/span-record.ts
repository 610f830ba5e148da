/**
 * One span as plain data: what a TCP session becomes before export. No
 * OpenTelemetry SDK objects: the exporter encodes these records to OTLP
 * protobuf directly, so the numbers here are OTLP's own (Span.SpanKind,
 * Status.StatusCode) and attribute values say whether they are ints or
 * doubles (OTLP's AnyValue encodes the two differently).
 */
import type { WallTime } from '../sessions/tcp-session';

export type { WallTime };

/** OTLP Span.SpanKind numbers. */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;
export type SpanKindCode = (typeof SpanKind)[keyof typeof SpanKind];

/** OTLP Status.StatusCode numbers. */
export const StatusCode = {
  UNSET: 0,
  OK: 1,
  ERROR: 2,
} as const;
export type StatusCodeValue = (typeof StatusCode)[keyof typeof StatusCode];

/**
 * An attribute value with its OTLP kind: exactly one of the four keys.
 * `int` holds a safe integer (OTLP int64; byte counts, ports, pids),
 * `double` a float (OTLP double; durations in ms).
 */
export type AttributeValue =
  | { string: string; int?: never; double?: never; bool?: never }
  | { int: number; string?: never; double?: never; bool?: never }
  | { double: number; string?: never; int?: never; bool?: never }
  | { bool: boolean; string?: never; int?: never; double?: never };

/** One span attribute; keys are unique within a span. */
export interface Attribute {
  key: string;
  value: AttributeValue;
}

/** The span's status: UNSET unless the session failed, then ERROR with a short message. */
export interface SpanStatus {
  code: StatusCodeValue;
  /** Human-readable, low-cardinality reason (only with ERROR), e.g. 'connection refused'. */
  message?: string;
}

export interface SpanRecord {
  /** 32 lowercase hex digits (16 bytes), not all zero. */
  traceId: string;
  /** 16 lowercase hex digits (8 bytes), not all zero. */
  spanId: string;
  /** 16 lowercase hex digits; absent for a root span. */
  parentSpanId?: string;
  /** Low-cardinality operation name; never contains an address. */
  name: string;
  kind: SpanKindCode;
  /** Wall-clock start, [seconds since the epoch, nanoseconds]. */
  startTime: WallTime;
  /** Wall-clock end, same form; never before startTime. */
  endTime: WallTime;
  /** In a fixed order, each key at most once. */
  attributes: Attribute[];
  status: SpanStatus;
  /** The service.name of its resource, when a rule named one (else the agent's). */
  service?: string;
}
