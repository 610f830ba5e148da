/**
 * JSON lines output (-j): one object per session, for machines. Unlike the
 * table, it keeps partial sessions (partial: true, null durations) and
 * exact byte counts, and carries its own RFC 3339 timestamps.
 */
import { connectionIds } from '../sessions/connection-ids';
import type { TcpSession, WallTime } from '../sessions/tcp-session';
import { isPartial } from './table';

// Sessions close in bursts within the same second: format each second once.
let cachedSecond = NaN;
let cachedPrefix = '';

/**
 * RFC 3339 UTC with exactly six fractional digits, e.g.
 * "2026-11-26T06:15:52.123456Z". Date only holds milliseconds, so Date
 * formats the whole seconds and the fraction comes from the nanos,
 * truncated (never rounded: rounding up could need a carry into the seconds).
 */
export function rfc3339Micros(t: WallTime): string {
  let secs = Math.trunc(t[0]);
  let nanos = Math.trunc(t[1]);
  // Normalize defensively: nanos outside [0, 1e9) carry into the seconds.
  if (nanos < 0 || nanos >= 1e9) {
    secs += Math.floor(nanos / 1e9);
    nanos -= Math.floor(nanos / 1e9) * 1e9;
  }
  if (secs !== cachedSecond) {
    const whole = new Date(secs * 1000).toISOString(); // "YYYY-MM-DDTHH:MM:SS.000Z"
    cachedPrefix = whole.slice(0, whole.indexOf('.'));
    cachedSecond = secs;
  }
  return `${cachedPrefix}.${String(Math.floor(nanos / 1000)).padStart(6, '0')}Z`;
}

/** Whole microseconds to milliseconds (3 decimals, as ss prints them). */
function usToMs(us: number): number {
  return us / 1000;
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
    host_pid: s.hostPid, // differs from pid when the agent has its own PID namespace
    container_id: s.containerId ?? null,
    rtt_ms: s.rttUs === undefined ? null : usToMs(s.rttUs),
    retrans_segments: s.retransSegments,
    retrans_bytes: s.retransBytes,
    segs_in: s.segmentsIn,
    segs_out: s.segmentsOut,
    trace_id: connectionIds(s)?.traceId ?? null, // the connection's, as its spans carry it
    found_at: s.foundAt === undefined ? null : rfc3339Micros(s.foundAt),
  };
}

/**
 * One JSON line, without the trailing newline. Same text as
 * JSON.stringify(sessionToJson(s)) (a test holds them equal), built directly
 * because this runs once per session: only comm can hold characters that
 * need escaping; the other strings come from fixed sets or address formatting.
 */
export function jsonLine(s: TcpSession): string {
  const partial = isPartial(s);
  const duration = partial || s.durationNs === undefined ? 'null' : String(nsToMs(s.durationNs));
  const handshake = partial || s.handshakeNs === undefined ? 'null' : String(nsToMs(s.handshakeNs));
  const error = s.error === undefined ? 'null' : `"${s.error}"`;
  const start = partial || s.startTime === undefined ? 'null' : `"${rfc3339Micros(s.startTime)}"`;
  const traceId = connectionIds(s)?.traceId;
  return (
    `{"pid":${s.pid},"comm":${JSON.stringify(s.comm)},"family":${s.family},` +
    `"laddr":"${s.localAddress}","lport":${s.localPort},"raddr":"${s.remoteAddress}","rport":${s.remotePort},` +
    `"tx_bytes":${s.bytesSent},"rx_bytes":${s.bytesReceived},"duration_ms":${duration},"handshake_ms":${handshake},` +
    `"role":"${s.role}","outcome":"${s.outcome}","error":${error},"state_before_close":"${s.stateBeforeClose}",` +
    `"partial":${partial},"start":${start},"end":"${rfc3339Micros(s.endTime)}",` +
    `"host_pid":${s.hostPid},"container_id":${s.containerId === undefined ? 'null' : `"${s.containerId}"`},` +
    `"rtt_ms":${s.rttUs === undefined ? 'null' : usToMs(s.rttUs)},"retrans_segments":${s.retransSegments},"retrans_bytes":${s.retransBytes},` +
    `"segs_in":${s.segmentsIn},"segs_out":${s.segmentsOut},"trace_id":${traceId === undefined ? 'null' : `"${traceId}"`},` +
    `"found_at":${s.foundAt === undefined ? 'null' : `"${rfc3339Micros(s.foundAt)}"`}}`
  );
}
