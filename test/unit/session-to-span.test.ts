import { strict as assert } from 'node:assert';
import type { Outcome, TcpSession, WallTime } from '../../src/sessions/tcp-session';
import { sessionToSpan } from '../../src/telemetry/session-to-span';
import { type AttributeValue, type SpanRecord, SpanKind, StatusCode } from '../../src/telemetry/span-record';
import { sampleSession } from '../support/sample-session';

const IDS = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };

const S = (v: string): AttributeValue => ({ string: v });
const I = (v: number): AttributeValue => ({ int: v });
const D = (v: number): AttributeValue => ({ double: v });
const B = (v: boolean): AttributeValue => ({ bool: v });

const START: WallTime = [1795673752, 123456789];
const END: WallTime = [1795673752, 246913578];

/** A span with its attributes keyed by name, so a case can name the ones it changes. */
type Expected = Omit<SpanRecord, 'attributes'> & { attributes: Record<string, AttributeValue> };

/** The base session: an IPv4 client that sent its FIN first. */
const BASE_SESSION: TcpSession = sampleSession({});

/** Its span, whole: every case below is this plus its own differences. */
const BASE_SPAN: Expected = {
  traceId: IDS.traceId,
  spanId: IDS.spanId,
  name: 'TCP connect :443',
  kind: SpanKind.CLIENT,
  startTime: START,
  endTime: END,
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
};

/**
 * One case: only what differs from the base. An `undefined` value means
 * "absent" (a session field unset, an attribute that must disappear).
 */
interface Case {
  title: string;
  session?: Partial<TcpSession>;
  ids?: { parentSpanId: string };
  span?: Partial<Omit<Expected, 'attributes'>>;
  attributes?: Record<string, AttributeValue | undefined>;
}

// What each outcome shows, written out rather than read from OUTCOME_TABLE,
// so a wrong entry there fails here. Record<Outcome, …>: a new outcome does
// not compile until it is added.
const BY_OUTCOME: Record<Outcome, { message?: string; closedBy?: 'local' | 'peer' }> = {
  refused: { message: 'connection refused' },
  timeout: { message: 'connection timed out' },
  connect_failed: { message: 'connect failed' },
  handshake_aborted: { message: 'handshake aborted' },
  reset_by_peer: { message: 'connection reset by peer', closedBy: 'peer' },
  reset_locally: { message: 'connection reset locally', closedBy: 'local' },
  closed_by_peer: { closedBy: 'peer' },
  closed_locally: { closedBy: 'local' },
};

/** One case per outcome but the base's (closed_locally is the base case). */
function outcomeCase(outcome: Outcome): Case {
  const { message, closedBy } = BY_OUTCOME[outcome];
  const attributes: Record<string, AttributeValue | undefined> = { 'tcplife.outcome': S(outcome) };
  // The base closes locally: only another closing side, or none, is a difference.
  if (closedBy !== 'local') attributes['tcplife.closed_by'] = closedBy === undefined ? undefined : S(closedBy);
  if (message === undefined) return { title: `outcome ${outcome} -> UNSET, no error.type`, session: { outcome }, attributes };
  return {
    title: `outcome ${outcome} -> ERROR '${message}', error.type the errno`,
    session: { outcome, error: 'EHOSTUNREACH' },
    span: { status: { code: StatusCode.ERROR, message } },
    attributes: { ...attributes, 'error.type': S('EHOSTUNREACH') },
  };
}

const cases: Case[] = [
  { title: 'the base: an IPv4 client' },
  {
    title: 'an IPv6 server',
    session: {
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
    span: { name: 'TCP accept :8443', kind: SpanKind.SERVER },
    attributes: {
      'network.type': S('ipv6'),
      'network.local.address': S('2001:db8::5'),
      'network.local.port': I(8443),
      'network.peer.address': S('2001:db8::9'),
      'network.peer.port': I(51874),
      // The server is this end.
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
      'tcplife.closed_by': S('peer'),
    },
  },
  {
    title: "a client in a pod: the pod's pid, the host pid beside it, and the container",
    session: { pid: 7, tid: 9, hostPid: 51234, containerId: 'a'.repeat(64) },
    attributes: { 'process.pid': I(7), 'tcplife.process.host_pid': I(51234), 'container.id': S('a'.repeat(64)) },
  },
  {
    title: "an owner outside the agent's PID namespace: no process.pid, the host pid only",
    session: { pid: 0, tid: 0, hostPid: 4321 },
    attributes: { 'process.pid': undefined, 'tcplife.process.host_pid': I(4321) },
  },
  {
    title: 'a refused connect: error.type the errno, no handshake, no closing side',
    session: {
      remotePort: 5432,
      handshakeNs: undefined,
      bytesSent: 0,
      bytesReceived: 0,
      stateBeforeClose: 'SYN_SENT',
      outcome: 'refused',
      error: 'ECONNREFUSED',
    },
    span: { name: 'TCP connect :5432', status: { code: StatusCode.ERROR, message: 'connection refused' } },
    attributes: {
      'network.peer.port': I(5432),
      'server.port': I(5432),
      'tcplife.bytes_sent': I(0),
      'tcplife.bytes_received': I(0),
      'tcplife.handshake_ms': undefined,
      'tcplife.outcome': S('refused'),
      'tcplife.state_before_close': S('SYN_SENT'),
      'tcplife.closed_by': undefined,
      'error.type': S('ECONNREFUSED'),
    },
  },
  {
    title: 'a reset by peer: an error that still has a closing side',
    session: { stateBeforeClose: 'ESTABLISHED', outcome: 'reset_by_peer', error: 'ECONNRESET', bytesReceived: 10 },
    span: { status: { code: StatusCode.ERROR, message: 'connection reset by peer' } },
    attributes: {
      'tcplife.bytes_received': I(10),
      'tcplife.outcome': S('reset_by_peer'),
      'tcplife.state_before_close': S('ESTABLISHED'),
      'tcplife.closed_by': S('peer'),
      'error.type': S('ECONNRESET'),
    },
  },
  {
    title: 'a timeout: the span spans birth to close',
    session: {
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
    span: {
      name: 'TCP connect :81',
      startTime: [1795673700, 0],
      endTime: [1795673831, 500000000],
      status: { code: StatusCode.ERROR, message: 'connection timed out' },
    },
    attributes: {
      'network.peer.address': S('192.0.2.1'),
      'network.peer.port': I(81),
      'server.address': S('192.0.2.1'),
      'server.port': I(81),
      'tcplife.bytes_sent': I(0),
      'tcplife.bytes_received': I(0),
      'tcplife.handshake_ms': undefined,
      'tcplife.outcome': S('timeout'),
      'tcplife.state_before_close': S('SYN_SENT'),
      'tcplife.closed_by': undefined,
      'error.type': S('ETIMEDOUT'),
    },
  },
  {
    title: 'a partial session (birth unseen) starts at its end and says so',
    session: { startTime: undefined, durationNs: undefined },
    span: { startTime: END },
    attributes: { 'tcplife.partial': B(true) },
  },
  {
    title: 'a partial session with an unknown owner and role: no server/client, no process',
    session: {
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
    span: { name: 'TCP session', kind: SpanKind.INTERNAL, startTime: END },
    attributes: {
      'server.address': undefined,
      'server.port': undefined,
      'client.address': undefined,
      'client.port': undefined,
      'process.pid': undefined,
      'process.executable.name': undefined,
      'tcplife.handshake_ms': undefined,
      'tcplife.outcome': S('closed_by_peer'),
      'tcplife.state_before_close': S('LAST_ACK'),
      'tcplife.owner_source': S('none'),
      'tcplife.closed_by': S('peer'),
      'tcplife.partial': B(true),
    },
  },
  {
    title: 'a session found open at start starts when it was found, and says so',
    session: { startTime: undefined, durationNs: undefined, handshakeNs: undefined, foundAt: [1795673700, 5], ownerSource: 'found' },
    span: { startTime: [1795673700, 5] },
    attributes: {
      'tcplife.handshake_ms': undefined,
      'tcplife.owner_source': S('found'),
      'tcplife.partial': B(true),
      'tcplife.found_at_start': B(true),
    },
  },
  {
    // network.type stays the base's 'ipv4' though the family is 6.
    title: 'an IPv4-mapped client on a dual-stack server socket (network.type is the wire protocol)',
    session: {
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
    span: { name: 'TCP accept :3000', kind: SpanKind.SERVER },
    attributes: {
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
      // A zero handshake is still reported.
      'tcplife.handshake_ms': D(0),
      'tcplife.owner_source': S('close'),
    },
  },
  {
    // The base session has no errno.
    title: 'a failed handshake without an errno: error.type is the outcome; byte counts above 2^32 stay exact ints',
    session: {
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
    },
    span: { name: 'TCP accept :443', kind: SpanKind.SERVER, status: { code: StatusCode.ERROR, message: 'handshake aborted' } },
    attributes: {
      'network.local.port': I(443),
      'network.peer.port': I(51000),
      // server.port stays the base's 443, now this end's port.
      'server.address': S('10.0.0.5'),
      'client.address': S('93.184.216.34'),
      'client.port': I(51000),
      'process.pid': undefined,
      'process.executable.name': S('sshd'),
      'tcplife.bytes_sent': I(1099511627777),
      'tcplife.bytes_received': I(4294967296),
      'tcplife.handshake_ms': undefined,
      'tcplife.outcome': S('handshake_aborted'),
      'tcplife.state_before_close': S('SYN_RECV'),
      'tcplife.owner_source': S('none'),
      'tcplife.closed_by': undefined,
      'error.type': S('handshake_aborted'),
    },
  },
  {
    // retransBytes stays the base's 0: segments are counted, not derived from bytes.
    title: 'health: no RTT sample, no rtt attributes; retransmissions as counted; a refused connect has no closing side',
    session: { rttUs: undefined, rttVarUs: undefined, retransSegments: 6, outcome: 'refused', stateBeforeClose: 'SYN_SENT' },
    span: { status: { code: StatusCode.ERROR, message: 'connection refused' } },
    attributes: {
      'tcplife.rtt_ms': undefined,
      'tcplife.rttvar_ms': undefined,
      'tcplife.retrans_segments': I(6),
      'tcplife.outcome': S('refused'),
      'tcplife.state_before_close': S('SYN_SENT'),
      'tcplife.closed_by': undefined,
      'error.type': S('refused'),
    },
  },
  {
    title: 'a parent span id is carried',
    ids: { parentSpanId: 'abcdef0123456789' },
    span: { parentSpanId: 'abcdef0123456789' },
  },
  ...(Object.keys(BY_OUTCOME) as Outcome[]).filter((o) => o !== BASE_SESSION.outcome).map(outcomeCase),
];

/**
 * Checks that each difference is one (a key to drop that the base has, a
 * value the base does not): a typo'd key or a stale value would otherwise
 * pass unnoticed.
 */
function checkDiff(what: string, base: object, diff: object): void {
  for (const [key, value] of Object.entries(diff)) {
    const was: unknown = (base as Record<string, unknown>)[key];
    if (value === undefined) assert.notEqual(was, undefined, `${what}: ${key} is to be absent, but the base has none`);
    else assert.notDeepEqual(value, was, `${what}: ${key} is as in the base (state only what differs)`);
  }
}

function applyDiff<T extends object>(base: T, diff: object): T {
  return Object.fromEntries(Object.entries({ ...base, ...diff }).filter(([, v]) => v !== undefined)) as T;
}

/** The base span with the case's differences. */
function expectedSpan(c: Case): Expected {
  checkDiff(`${c.title}: session`, BASE_SESSION, c.session ?? {});
  checkDiff(`${c.title}: span`, BASE_SPAN, c.span ?? {});
  checkDiff(`${c.title}: attributes`, BASE_SPAN.attributes, c.attributes ?? {});
  return { ...applyDiff(BASE_SPAN, c.span ?? {}), attributes: applyDiff(BASE_SPAN.attributes, c.attributes ?? {}) };
}

/** Attributes as a key-sorted list: their order is no contract, but a duplicate still shows. */
function sorted(attrs: Array<[string, AttributeValue]>): Array<[string, AttributeValue]> {
  return [...attrs].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
}

describe('sessionToSpan', () => {
  for (const c of cases) {
    describe(c.title, () => {
      const session = sampleSession(c.session ?? {});
      const span = sessionToSpan(session, { ...IDS, ...c.ids });

      it('is the base span with exactly these differences, nothing else', () => {
        const keys = span.attributes.map((a) => a.key);
        assert.equal(new Set(keys).size, keys.length, `duplicate keys in ${keys.join(', ')}`);
        const want = expectedSpan(c);
        assert.deepEqual(
          { ...span, attributes: sorted(span.attributes.map((a) => [a.key, a.value])) },
          { ...want, attributes: sorted(Object.entries(want.attributes)) },
        );
      });

      it('the name holds no address and no attribute value in it', () => {
        assert.match(span.name, /^(TCP connect :\d+|TCP accept :\d+|TCP session)$/);
        for (const addr of [session.localAddress, session.remoteAddress]) assert.ok(!span.name.includes(addr), addr);
        for (const a of span.attributes) {
          if (a.value.string?.includes('.')) assert.ok(!span.name.includes(a.value.string), `${a.key}=${a.value.string} in the name`);
        }
      });

      it('every attribute value has exactly one kind; ints are safe integers', () => {
        for (const { key, value } of span.attributes) {
          const kinds = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined);
          assert.equal(kinds.length, 1, key);
          if (value.int !== undefined) assert.ok(Number.isSafeInteger(value.int), key);
        }
      });

      it('shares no time array with the session, nor its start with its end', () => {
        assert.notEqual(span.startTime, span.endTime);
        for (const t of [session.startTime, session.foundAt, session.endTime]) {
          assert.notEqual(span.startTime, t);
          assert.notEqual(span.endTime, t);
        }
      });
    });
  }

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

  it('SpanKind and StatusCode carry OTLP numbers', () => {
    assert.deepEqual(SpanKind, { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 });
    assert.deepEqual(StatusCode, { UNSET: 0, OK: 1, ERROR: 2 });
  });

  describe('rejects malformed ids', () => {
    const bad: Array<[string, { traceId: string; spanId: string; parentSpanId?: string }]> = [
      ['short traceId', { ...IDS, traceId: 'abc' }],
      ['uppercase traceId', { ...IDS, traceId: IDS.traceId.toUpperCase() }],
      ['all-zero traceId', { ...IDS, traceId: '0'.repeat(32) }],
      ['17-digit spanId', { ...IDS, spanId: IDS.spanId + '0' }],
      ['non-hex spanId', { ...IDS, spanId: 'g'.repeat(16) }],
      ['all-zero spanId', { ...IDS, spanId: '0'.repeat(16) }],
      ['all-zero parentSpanId', { ...IDS, parentSpanId: '0'.repeat(16) }],
    ];
    for (const [title, ids] of bad) {
      it(title, () => assert.throws(() => sessionToSpan(sampleSession({}), ids), RangeError));
    }
  });
});
