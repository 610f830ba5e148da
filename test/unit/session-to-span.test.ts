import { strict as assert } from 'node:assert';
import { FAILED_OUTCOMES, type Outcome, type TcpSession, type WallTime } from '../../src/sessions/tcp-session';
import { sessionToSpan } from '../../src/telemetry/session-to-span';
import {
  type AttributeValue,
  type SpanKindCode,
  type SpanRecord,
  type SpanStatus,
  SpanKind,
  StatusCode,
} from '../../src/telemetry/span-record';
import { sampleSession } from '../support/sample-session';

const IDS = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };

const S = (v: string): AttributeValue => ({ string: v });
const I = (v: number): AttributeValue => ({ int: v });
const D = (v: number): AttributeValue => ({ double: v });
const B = (v: boolean): AttributeValue => ({ bool: v });

interface Expected {
  name: string;
  kind: SpanKindCode;
  start: WallTime;
  end: WallTime;
  attributes: Record<string, AttributeValue>;
  status: SpanStatus;
}

/** Attributes as a key-sorted list, so comparisons ignore order but not duplicates. */
function sorted(attrs: SpanRecord['attributes']): Array<[string, AttributeValue]> {
  return attrs.map((a): [string, AttributeValue] => [a.key, a.value]).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

const START: WallTime = [1795673752, 123456789];
const END: WallTime = [1795673752, 246913578];

const cases: Array<[string, Partial<TcpSession>, Expected]> = [
  [
    'an IPv4 client',
    {},
    {
      name: 'TCP connect :443',
      kind: SpanKind.CLIENT,
      start: START,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('10.0.0.5'),
        'network.local.port': I(45678),
        'network.peer.address': S('93.184.216.34'),
        'network.peer.port': I(443),
        'server.address': S('93.184.216.34'),
        'server.port': I(443),
        'client.address': S('10.0.0.5'),
        'client.port': I(45678),
        'process.pid': I(1234),
        'process.executable.name': S('curl'),
        'tcplife.bytes_sent': I(2548),
        'tcplife.bytes_received': I(1048577),
        'tcplife.handshake_ms': D(0.0015),
        'tcplife.outcome': S('closed_locally'),
        'tcplife.state_before_close': S('FIN_WAIT2'),
        'tcplife.owner_source': S('connect'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'tcplife.closed_by': S('local'),
      },
      status: { code: StatusCode.UNSET },
    },
  ],
  [
    'an IPv6 server',
    {
      family: 6,
      localAddress: '2001:db8::5',
      localPort: 8443,
      remoteAddress: '2001:db8::9',
      remotePort: 51874,
      role: 'server',
      pid: 2211,
      tid: 2211,
      hostPid: 2211,
      comm: 'nginx',
      ownerSource: 'socket_io',
      handshakeNs: 20_000,
      bytesSent: 99_328,
      bytesReceived: 517,
      stateBeforeClose: 'LAST_ACK',
      outcome: 'closed_by_peer',
    },
    {
      name: 'TCP accept :8443',
      kind: SpanKind.SERVER,
      start: START,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv6'),
        'network.local.address': S('2001:db8::5'),
        'network.local.port': I(8443),
        'network.peer.address': S('2001:db8::9'),
        'network.peer.port': I(51874),
        'server.address': S('2001:db8::5'),
        'server.port': I(8443),
        'client.address': S('2001:db8::9'),
        'client.port': I(51874),
        'process.pid': I(2211),
        'process.executable.name': S('nginx'),
        'tcplife.bytes_sent': I(99328),
        'tcplife.bytes_received': I(517),
        'tcplife.handshake_ms': D(0.02),
        'tcplife.outcome': S('closed_by_peer'),
        'tcplife.state_before_close': S('LAST_ACK'),
        'tcplife.owner_source': S('socket_io'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'tcplife.closed_by': S('peer'),
      },
      status: { code: StatusCode.UNSET },
    },
  ],
  [
    "a client in a pod: the pod's pid, the host pid beside it, and the container",
    { pid: 7, tid: 9, hostPid: 51234, containerId: 'a'.repeat(64) },
    {
      name: 'TCP connect :443',
      kind: SpanKind.CLIENT,
      start: START,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('10.0.0.5'),
        'network.local.port': I(45678),
        'network.peer.address': S('93.184.216.34'),
        'network.peer.port': I(443),
        'server.address': S('93.184.216.34'),
        'server.port': I(443),
        'client.address': S('10.0.0.5'),
        'client.port': I(45678),
        'process.pid': I(7),
        'tcplife.process.host_pid': I(51234),
        'container.id': S('a'.repeat(64)),
        'process.executable.name': S('curl'),
        'tcplife.bytes_sent': I(2548),
        'tcplife.bytes_received': I(1048577),
        'tcplife.handshake_ms': D(0.0015),
        'tcplife.outcome': S('closed_locally'),
        'tcplife.state_before_close': S('FIN_WAIT2'),
        'tcplife.owner_source': S('connect'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'tcplife.closed_by': S('local'),
      },
      status: { code: StatusCode.UNSET },
    },
  ],
  [
    "an owner outside the agent's PID namespace: no process.pid, the host pid only",
    { pid: 0, tid: 0, hostPid: 4321 },
    {
      name: 'TCP connect :443',
      kind: SpanKind.CLIENT,
      start: START,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('10.0.0.5'),
        'network.local.port': I(45678),
        'network.peer.address': S('93.184.216.34'),
        'network.peer.port': I(443),
        'server.address': S('93.184.216.34'),
        'server.port': I(443),
        'client.address': S('10.0.0.5'),
        'client.port': I(45678),
        'tcplife.process.host_pid': I(4321),
        'process.executable.name': S('curl'),
        'tcplife.bytes_sent': I(2548),
        'tcplife.bytes_received': I(1048577),
        'tcplife.handshake_ms': D(0.0015),
        'tcplife.outcome': S('closed_locally'),
        'tcplife.state_before_close': S('FIN_WAIT2'),
        'tcplife.owner_source': S('connect'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'tcplife.closed_by': S('local'),
      },
      status: { code: StatusCode.UNSET },
    },
  ],
  [
    'a refused connect',
    {
      remotePort: 5432,
      handshakeNs: undefined,
      bytesSent: 0,
      bytesReceived: 0,
      stateBeforeClose: 'SYN_SENT',
      outcome: 'refused',
      error: 'ECONNREFUSED',
    },
    {
      name: 'TCP connect :5432',
      kind: SpanKind.CLIENT,
      start: START,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('10.0.0.5'),
        'network.local.port': I(45678),
        'network.peer.address': S('93.184.216.34'),
        'network.peer.port': I(5432),
        'server.address': S('93.184.216.34'),
        'server.port': I(5432),
        'client.address': S('10.0.0.5'),
        'client.port': I(45678),
        'process.pid': I(1234),
        'process.executable.name': S('curl'),
        'tcplife.bytes_sent': I(0),
        'tcplife.bytes_received': I(0),
        'tcplife.outcome': S('refused'),
        'tcplife.state_before_close': S('SYN_SENT'),
        'tcplife.owner_source': S('connect'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'error.type': S('ECONNREFUSED'),
      },
      status: { code: StatusCode.ERROR, message: 'connection refused' },
    },
  ],
  [
    'a reset by peer',
    { stateBeforeClose: 'ESTABLISHED', outcome: 'reset_by_peer', error: 'ECONNRESET', bytesReceived: 10 },
    {
      name: 'TCP connect :443',
      kind: SpanKind.CLIENT,
      start: START,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('10.0.0.5'),
        'network.local.port': I(45678),
        'network.peer.address': S('93.184.216.34'),
        'network.peer.port': I(443),
        'server.address': S('93.184.216.34'),
        'server.port': I(443),
        'client.address': S('10.0.0.5'),
        'client.port': I(45678),
        'process.pid': I(1234),
        'process.executable.name': S('curl'),
        'tcplife.bytes_sent': I(2548),
        'tcplife.bytes_received': I(10),
        'tcplife.handshake_ms': D(0.0015),
        'tcplife.outcome': S('reset_by_peer'),
        'tcplife.state_before_close': S('ESTABLISHED'),
        'tcplife.owner_source': S('connect'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'tcplife.closed_by': S('peer'),
        'error.type': S('ECONNRESET'),
      },
      status: { code: StatusCode.ERROR, message: 'connection reset by peer' },
    },
  ],
  [
    'a timeout',
    {
      remoteAddress: '192.0.2.1',
      remotePort: 81,
      startTime: [1795673700, 0],
      endTime: [1795673831, 500000000],
      durationNs: 131_500_000_000,
      handshakeNs: undefined,
      bytesSent: 0,
      bytesReceived: 0,
      stateBeforeClose: 'SYN_SENT',
      outcome: 'timeout',
      error: 'ETIMEDOUT',
    },
    {
      name: 'TCP connect :81',
      kind: SpanKind.CLIENT,
      start: [1795673700, 0],
      end: [1795673831, 500000000],
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('10.0.0.5'),
        'network.local.port': I(45678),
        'network.peer.address': S('192.0.2.1'),
        'network.peer.port': I(81),
        'server.address': S('192.0.2.1'),
        'server.port': I(81),
        'client.address': S('10.0.0.5'),
        'client.port': I(45678),
        'process.pid': I(1234),
        'process.executable.name': S('curl'),
        'tcplife.bytes_sent': I(0),
        'tcplife.bytes_received': I(0),
        'tcplife.outcome': S('timeout'),
        'tcplife.state_before_close': S('SYN_SENT'),
        'tcplife.owner_source': S('connect'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'error.type': S('ETIMEDOUT'),
      },
      status: { code: StatusCode.ERROR, message: 'connection timed out' },
    },
  ],
  [
    'a partial session with an unknown owner',
    {
      startTime: undefined,
      durationNs: undefined,
      handshakeNs: undefined,
      role: 'unknown',
      pid: 0,
      tid: 0,
      hostPid: 0,
      comm: '',
      ownerSource: 'none',
      stateBeforeClose: 'LAST_ACK',
      outcome: 'closed_by_peer',
    },
    {
      name: 'TCP session',
      kind: SpanKind.INTERNAL,
      start: END,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('10.0.0.5'),
        'network.local.port': I(45678),
        'network.peer.address': S('93.184.216.34'),
        'network.peer.port': I(443),
        'tcplife.bytes_sent': I(2548),
        'tcplife.bytes_received': I(1048577),
        'tcplife.outcome': S('closed_by_peer'),
        'tcplife.state_before_close': S('LAST_ACK'),
        'tcplife.owner_source': S('none'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'tcplife.closed_by': S('peer'),
        'tcplife.partial': B(true),
      },
      status: { code: StatusCode.UNSET },
    },
  ],
  [
    'an IPv4-mapped client on a dual-stack server socket (network.type is the wire protocol)',
    {
      family: 6,
      localAddress: '::ffff:10.0.0.5',
      localPort: 3000,
      remoteAddress: '::ffff:10.0.0.9',
      remotePort: 40000,
      role: 'server',
      pid: 77,
      hostPid: 77,
      comm: 'node',
      ownerSource: 'close',
      handshakeNs: 0,
    },
    {
      name: 'TCP accept :3000',
      kind: SpanKind.SERVER,
      start: START,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('::ffff:10.0.0.5'),
        'network.local.port': I(3000),
        'network.peer.address': S('::ffff:10.0.0.9'),
        'network.peer.port': I(40000),
        'server.address': S('::ffff:10.0.0.5'),
        'server.port': I(3000),
        'client.address': S('::ffff:10.0.0.9'),
        'client.port': I(40000),
        'process.pid': I(77),
        'process.executable.name': S('node'),
        'tcplife.bytes_sent': I(2548),
        'tcplife.bytes_received': I(1048577),
        'tcplife.handshake_ms': D(0),
        'tcplife.outcome': S('closed_locally'),
        'tcplife.state_before_close': S('FIN_WAIT2'),
        'tcplife.owner_source': S('close'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'tcplife.closed_by': S('local'),
      },
      status: { code: StatusCode.UNSET },
    },
  ],
  [
    'a failed handshake without an errno: error.type is the outcome; byte counts above 2^32 stay exact ints',
    {
      role: 'server',
      localPort: 443,
      remotePort: 51000,
      pid: 0,
      hostPid: 0,
      comm: 'sshd',
      ownerSource: 'none',
      handshakeNs: undefined,
      bytesSent: 2 ** 40 + 1,
      bytesReceived: 4294967296,
      stateBeforeClose: 'SYN_RECV',
      outcome: 'handshake_aborted',
      error: undefined,
    },
    {
      name: 'TCP accept :443',
      kind: SpanKind.SERVER,
      start: START,
      end: END,
      attributes: {
        'network.transport': S('tcp'),
        'network.type': S('ipv4'),
        'network.local.address': S('10.0.0.5'),
        'network.local.port': I(443),
        'network.peer.address': S('93.184.216.34'),
        'network.peer.port': I(51000),
        'server.address': S('10.0.0.5'),
        'server.port': I(443),
        'client.address': S('93.184.216.34'),
        'client.port': I(51000),
        'process.executable.name': S('sshd'),
        'tcplife.bytes_sent': I(1099511627777),
        'tcplife.bytes_received': I(4294967296),
        'tcplife.outcome': S('handshake_aborted'),
        'tcplife.state_before_close': S('SYN_RECV'),
        'tcplife.owner_source': S('none'),
        'tcplife.rtt_ms': D(0.25),
        'tcplife.rttvar_ms': D(0.125),
        'tcplife.retrans_segments': I(0),
        'tcplife.retrans_bytes': I(0),
        'tcplife.segments_in': I(740),
        'tcplife.segments_out': I(12),
        'error.type': S('handshake_aborted'),
      },
      status: { code: StatusCode.ERROR, message: 'handshake aborted' },
    },
  ],
];

describe('sessionToSpan', () => {
  for (const [title, over, want] of cases) {
    describe(title, () => {
      const session = sampleSession(over);
      const span = sessionToSpan(session, IDS);

      it('name, kind, ids and times', () => {
        assert.equal(span.name, want.name);
        assert.equal(span.kind, want.kind);
        assert.equal(span.traceId, IDS.traceId);
        assert.equal(span.spanId, IDS.spanId);
        assert.equal(span.parentSpanId, undefined);
        assert.deepEqual(span.startTime, want.start);
        assert.deepEqual(span.endTime, want.end);
      });

      it('exactly the expected attributes, each key once', () => {
        const keys = span.attributes.map((a) => a.key);
        assert.equal(new Set(keys).size, keys.length, `duplicate keys in ${keys.join(', ')}`);
        assert.deepEqual(sorted(span.attributes), sorted(Object.entries(want.attributes).map(([key, value]) => ({ key, value }))));
      });

      it('status', () => assert.deepEqual(span.status, want.status));

      it('the name holds no address and no attribute value in it', () => {
        assert.match(span.name, /^(TCP connect :\d+|TCP accept :\d+|TCP session)$/);
        for (const addr of [session.localAddress, session.remoteAddress]) assert.ok(!span.name.includes(addr), addr);
        for (const a of span.attributes) {
          if (a.value.string !== undefined && a.value.string.includes('.')) {
            assert.ok(!span.name.includes(a.value.string), `${a.key}=${a.value.string} in the name`);
          }
        }
      });

      it('every attribute value has exactly one kind; ints are safe integers', () => {
        for (const { key, value } of span.attributes) {
          const kinds = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
          assert.equal(kinds.length, 1, key);
          if (value.int !== undefined) assert.ok(Number.isSafeInteger(value.int), key);
        }
      });
    });
  }

  describe('status for every outcome', () => {
    const outcomes: Outcome[] = [
      'refused', 'timeout', 'connect_failed', 'handshake_aborted', 'reset_by_peer', 'reset_locally', 'closed_by_peer', 'closed_locally',
    ];
    const messages: Partial<Record<Outcome, string>> = {
      refused: 'connection refused',
      timeout: 'connection timed out',
      connect_failed: 'connect failed',
      handshake_aborted: 'handshake aborted',
      reset_by_peer: 'connection reset by peer',
      reset_locally: 'connection reset locally',
    };
    for (const outcome of outcomes) {
      const failed = FAILED_OUTCOMES.has(outcome);
      it(`${outcome} -> ${failed ? 'ERROR' : 'UNSET'}`, () => {
        const span = sessionToSpan(sampleSession({ outcome, error: failed ? 'EHOSTUNREACH' : undefined }), IDS);
        const errorType = span.attributes.find((a) => a.key === 'error.type');
        if (failed) {
          assert.deepEqual(span.status, { code: StatusCode.ERROR, message: messages[outcome] });
          assert.deepEqual(errorType?.value, { string: 'EHOSTUNREACH' });
        } else {
          assert.deepEqual(span.status, { code: StatusCode.UNSET });
          assert.equal(errorType, undefined);
        }
      });
    }
  });

  it('is pure: same input, same record; the record shares no arrays with the session', () => {
    const session = sampleSession({});
    const before = JSON.stringify(session);
    const a = sessionToSpan(session, IDS);
    assert.deepEqual(sessionToSpan(session, IDS), a);
    assert.equal(JSON.stringify(session), before);
    a.startTime[0] = 0;
    a.endTime[0] = 0;
    assert.deepEqual(session.startTime, START);
    assert.deepEqual(session.endTime, END);
  });

  it('a partial span starts at its end without aliasing it', () => {
    const span = sessionToSpan(sampleSession({ startTime: undefined, durationNs: undefined }), IDS);
    assert.deepEqual(span.startTime, span.endTime);
    assert.notEqual(span.startTime, span.endTime);
  });

  it('a session found open at start starts when it was found, and says so', () => {
    const foundAt: WallTime = [1795673700, 5];
    const span = sessionToSpan(sampleSession({ startTime: undefined, durationNs: undefined, handshakeNs: undefined, foundAt, ownerSource: 'found' }), IDS);
    assert.deepEqual(span.startTime, foundAt);
    const attrs = Object.fromEntries(span.attributes.map((a) => [a.key, a.value]));
    assert.deepEqual(attrs['tcplife.partial'], { bool: true });
    assert.deepEqual(attrs['tcplife.found_at_start'], { bool: true });
    assert.deepEqual(attrs['tcplife.owner_source'], { string: 'found' });
  });

  it('health: no RTT sample, no rtt attributes; retransmissions as counted; a refused connect has no closing side', () => {
    const span = sessionToSpan(sampleSession({ rttUs: undefined, rttVarUs: undefined, retransSegments: 6, retransBytes: 0, outcome: 'refused', stateBeforeClose: 'SYN_SENT' }), IDS);
    const attrs = Object.fromEntries(span.attributes.map((a) => [a.key, a.value]));
    assert.equal(attrs['tcplife.rtt_ms'], undefined);
    assert.equal(attrs['tcplife.rttvar_ms'], undefined);
    assert.deepEqual(attrs['tcplife.retrans_segments'], { int: 6 });
    assert.equal(attrs['tcplife.closed_by'], undefined);
  });

  it('a parent span id is carried, and checked like the others', () => {
    assert.equal(sessionToSpan(sampleSession({}), { ...IDS, parentSpanId: 'abcdef0123456789' }).parentSpanId, 'abcdef0123456789');
    assert.throws(() => sessionToSpan(sampleSession({}), { ...IDS, parentSpanId: '0'.repeat(16) }), RangeError);
  });

  it('SpanKind and StatusCode carry OTLP numbers', () => {
    assert.deepEqual(SpanKind, { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 });
    assert.deepEqual(StatusCode, { UNSET: 0, OK: 1, ERROR: 2 });
  });

  describe('rejects malformed ids', () => {
    const bad: Array<[string, { traceId: string; spanId: string }]> = [
      ['short traceId', { ...IDS, traceId: 'abc' }],
      ['uppercase traceId', { ...IDS, traceId: IDS.traceId.toUpperCase() }],
      ['all-zero traceId', { ...IDS, traceId: '0'.repeat(32) }],
      ['17-digit spanId', { ...IDS, spanId: IDS.spanId + '0' }],
      ['non-hex spanId', { ...IDS, spanId: 'g'.repeat(16) }],
      ['all-zero spanId', { ...IDS, spanId: '0'.repeat(16) }],
    ];
    for (const [title, ids] of bad) {
      it(title, () => assert.throws(() => sessionToSpan(sampleSession({}), ids), RangeError));
    }
  });
});
