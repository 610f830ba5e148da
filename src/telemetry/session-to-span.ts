/**
 * One TCP session -> one span, as a plain SpanRecord. Pure and deterministic:
 * the same session and ids always give the same record; ids come from the
 * caller. Attribute names follow the OpenTelemetry semantic conventions
 * (network.*, server.*, client.*, process.*, error.type); what they have no
 * name for is under tcplife.*.
 *
 * Span name: low cardinality, never an address (addresses are in attributes):
 *   'TCP connect :<remote port>'  role client: this host connected to that port
 *   'TCP accept :<local port>'    role server: this host accepted on that port
 *   'TCP session'                 role unknown (e.g. opened before the agent)
 * The port a client connects to and the port a server listens on name the
 * service; the other end's port is ephemeral and stays out of the name.
 */
import { outcomeSpec, type Role, type TcpSession, type WallTime } from '../sessions/tcp-session';
import { type Attribute, type SpanKindCode, type SpanRecord, type SpanStatus, SpanKind, StatusCode } from './span-record';

/** What the session's role decides: the span's kind and name, and which end is the server. */
const BY_ROLE: Readonly<Record<Role, { kind: SpanKindCode; name: (s: TcpSession) => string; server?: 'local' | 'remote' }>> = {
  client: { kind: SpanKind.CLIENT, name: (s) => `TCP connect :${s.remotePort}`, server: 'remote' },
  server: { kind: SpanKind.SERVER, name: (s) => `TCP accept :${s.localPort}`, server: 'local' },
  unknown: { kind: SpanKind.INTERNAL, name: () => 'TCP session' },
};

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const IPV4_MAPPED = /^::ffff:\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i;

const str = (key: string, value: string): Attribute => ({ key, value: { string: value } });
const int = (key: string, value: number): Attribute => ({ key, value: { int: value } });
const double = (key: string, value: number): Attribute => ({ key, value: { double: value } });
const bool = (key: string, value: boolean): Attribute => ({ key, value: { bool: value } });

/**
 * The span for one session.
 * - start = birth, end = close (wall clock). A partial session (birth not
 *   seen: startTime undefined) carries tcplife.partial = true (complete
 *   sessions do not carry the key); it starts when the agent found it open
 *   at start (tcplife.found_at_start), else at its end.
 * - kind: CLIENT (role client), SERVER (role server), INTERNAL (unknown).
 * - status: ERROR with the outcome table's message for failures, else UNSET.
 * Throws a RangeError when an id is not lowercase hex of the right length,
 * or is all zeros (OTLP treats those as invalid).
 */
export function sessionToSpan(s: TcpSession, ids: { traceId: string; spanId: string; parentSpanId?: string }): SpanRecord {
  checkId('traceId', ids.traceId, TRACE_ID);
  checkId('spanId', ids.spanId, SPAN_ID);
  if (ids.parentSpanId !== undefined) checkId('parentSpanId', ids.parentSpanId, SPAN_ID);
  const partial = s.startTime === undefined;
  const endTime: WallTime = [s.endTime[0], s.endTime[1]];
  // A partial session starts when it was found, else at its end.
  const from = s.startTime ?? s.foundAt ?? endTime;
  const startTime: WallTime = [from[0], from[1]];
  const span: SpanRecord = {
    traceId: ids.traceId,
    spanId: ids.spanId,
    name: BY_ROLE[s.role].name(s),
    kind: BY_ROLE[s.role].kind,
    startTime,
    endTime,
    attributes: spanAttributes(s, partial),
    status: spanStatus(s),
  };
  if (ids.parentSpanId !== undefined) span.parentSpanId = ids.parentSpanId;
  return span;
}

/**
 * network.type is the protocol on the wire: an IPv4-mapped peer
 * (::ffff:a.b.c.d) on an IPv6 socket talks IPv4, so it is 'ipv4' even
 * though the session's family is 6. Addresses are reported as the socket
 * holds them (still ::ffff:a.b.c.d).
 */
function networkType(s: TcpSession): 'ipv4' | 'ipv6' {
  return s.family === 4 || IPV4_MAPPED.test(s.remoteAddress) ? 'ipv4' : 'ipv6';
}

function spanAttributes(s: TcpSession, partial: boolean): Attribute[] {
  const a: Attribute[] = [
    str('network.transport', 'tcp'),
    str('network.type', networkType(s)),
    str('network.local.address', s.localAddress),
    int('network.local.port', s.localPort),
    str('network.peer.address', s.remoteAddress),
    int('network.peer.port', s.remotePort),
  ];
  const server = BY_ROLE[s.role].server;
  if (server) {
    const local = { address: s.localAddress, port: s.localPort };
    const remote = { address: s.remoteAddress, port: s.remotePort };
    const [srv, cli] = server === 'local' ? [local, remote] : [remote, local];
    a.push(str('server.address', srv.address), int('server.port', srv.port), str('client.address', cli.address), int('client.port', cli.port));
  }
  if (s.pid !== 0) a.push(int('process.pid', s.pid));
  // Only when the agent's PID namespace is not the host's (e.g. in a pod).
  if (s.hostPid !== s.pid && s.hostPid !== 0) a.push(int('tcplife.process.host_pid', s.hostPid));
  if (s.containerId !== undefined) a.push(str('container.id', s.containerId));
  if (s.comm !== '') a.push(str('process.executable.name', s.comm));
  a.push(int('tcplife.bytes_sent', s.bytesSent), int('tcplife.bytes_received', s.bytesReceived));
  if (s.handshakeNs !== undefined) a.push(double('tcplife.handshake_ms', s.handshakeNs / 1e6));
  a.push(str('tcplife.outcome', s.outcome), str('tcplife.state_before_close', s.stateBeforeClose), str('tcplife.owner_source', s.ownerSource));
  // TCP health at close, as tcp_info (ss -ti) shows it.
  if (s.rttUs !== undefined) a.push(double('tcplife.rtt_ms', s.rttUs / 1000), double('tcplife.rttvar_ms', (s.rttVarUs ?? 0) / 1000));
  a.push(
    int('tcplife.retrans_segments', s.retransSegments),
    int('tcplife.retrans_bytes', s.retransBytes),
    int('tcplife.segments_in', s.segmentsIn),
    int('tcplife.segments_out', s.segmentsOut),
  );
  const { closedBy, failure } = outcomeSpec(s.outcome);
  if (closedBy) a.push(str('tcplife.closed_by', closedBy));
  if (partial) a.push(bool('tcplife.partial', true));
  if (s.foundAt !== undefined) a.push(bool('tcplife.found_at_start', true));
  if (failure !== undefined) a.push(str('error.type', s.error ?? s.outcome));
  return a;
}

function spanStatus(s: TcpSession): SpanStatus {
  const { failure } = outcomeSpec(s.outcome);
  return failure === undefined ? { code: StatusCode.UNSET } : { code: StatusCode.ERROR, message: failure };
}

function checkId(name: string, id: string, shape: RegExp): void {
  if (!shape.test(id) || /^0+$/.test(id)) {
    throw new RangeError(`sessionToSpan: ${name} ${JSON.stringify(id)} is not ${shape === TRACE_ID ? 32 : 16} lowercase hex digits (not all zero)`);
  }
}
