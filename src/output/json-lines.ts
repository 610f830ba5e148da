/**
 * JSON lines output (-j): one object per session, for machines. Unlike the
 * table, it keeps partial sessions (partial: true, null durations) and
 * exact byte counts, and carries its own RFC 3339 timestamps.
 */
import type { TcpSession, WallTime } from '../sessions/tcp-session';
import { isPartial } from './table';

/**
 * RFC 3339 UTC with exactly six fractional digits, e.g.
 * "2026-11-26T06:15:52.123456Z". Date only holds milliseconds, so Date
 * formats the whole seconds and the fraction comes from the nanos,
 * truncated (never rounded: rounding up could need a carry into the seconds).
 */
export function rfc3339Micros(t: WallTime): string {
  // Normalize defensively: nanos outside [0, 1e9) carry into the seconds.
  const totalNanos = BigInt(Math.trunc(t[0])) * 1_000_000_000n + BigInt(Math.trunc(t[1]));
  let secs = totalNanos / 1_000_000_000n;
  let nanos = totalNanos % 1_000_000_000n;
  if (nanos < 0n) {
    nanos += 1_000_000_000n;
    secs -= 1n;
  }
  const whole = new Date(Number(secs) * 1000).toISOString(); // "YYYY-MM-DDTHH:MM:SS.000Z"
  const micros = (nanos / 1000n).toString().padStart(6, '0');
  return `${whole.slice(0, whole.indexOf('.'))}.${micros}Z`;
}

/** Nanoseconds to milliseconds with microsecond precision (3 decimals). */
function nsToMs(ns: number): number {
  return Math.round(ns / 1000) / 1000;
}

/** The JSON object for one session; keys in a fixed, documented order. */
export function sessionToJson(s: TcpSession): Record<string, unknown> {
  const partial = isPartial(s);
  return {
    pid: s.pid, // 0 when the owner is unknown
    comm: s.comm, // '' when the owner is unknown (the table prints "?")
    family: s.family,
    laddr: s.localAddress,
    lport: s.localPort,
    raddr: s.remoteAddress,
    rport: s.remotePort,
    tx_bytes: s.bytesSent,
    rx_bytes: s.bytesReceived,
    duration_ms: partial || s.durationNs === undefined ? null : nsToMs(s.durationNs),
    handshake_ms: partial || s.handshakeNs === undefined ? null : nsToMs(s.handshakeNs),
    role: s.role,
    outcome: s.outcome,
    error: s.error ?? null,
    state_before_close: s.stateBeforeClose,
    partial,
    start: partial || s.startTime === undefined ? null : rfc3339Micros(s.startTime),
    end: rfc3339Micros(s.endTime),
  };
}

/** One JSON line, without the trailing newline. */
export function jsonLine(s: TcpSession): string {
  return JSON.stringify(sessionToJson(s));
}
