// Ids from the connection: both ends of one connection, each from its own
// kernel counters, get one trace id; the server's span is the client's
// child; addresses and ports (what NAT rewrites) play no part.
import { strict as assert } from 'node:assert';
import type { TcpSession } from '../../src/sessions/tcp-session';
import { connectionIds, initialSequenceNumbers } from '../../src/sessions/connection-ids';
import { sessionToSpan } from '../../src/telemetry/session-to-span';
import { rng } from '../support/rng';
import { sampleSession } from '../support/sample-session';

const U32 = 2 ** 32;

/**
 * Both ends of one connection as the kernel counts them at close: client
 * ISN c, server ISN s, `up` bytes client -> server, `down` back, both FINs
 * sent and acknowledged (the client's first).
 */
function connection(c: number, s: number, up: number, down: number): { client: TcpSession; server: TcpSession } {
  const client = sampleSession({
    role: 'client',
    localAddress: '10.0.0.5',
    remoteAddress: '198.51.100.10', // a virtual IP, rewritten by DNAT
    remotePort: 80,
    sndUna: (c + 1 + up + 1) % U32, // SYN, data, FIN
    bytesAckedRaw: 1 + up + 1, // the client's SYN and FIN are in bytes_acked
    rcvNxt: (s + 1 + down + 1) % U32,
    bytesReceivedRaw: down + 1, // the peer's FIN is in bytes_received, its SYN is not
  });
  const server = sampleSession({
    role: 'server',
    localAddress: '192.0.2.2',
    localPort: 8080,
    remoteAddress: '192.0.2.1', // after SNAT
    sndUna: (s + 1 + down + 1) % U32,
    bytesAckedRaw: down + 1, // the server's SYN is not in bytes_acked
    rcvNxt: (c + 1 + up + 1) % U32,
    bytesReceivedRaw: up + 1,
    ownerSource: 'socket_io',
    stateBeforeClose: 'LAST_ACK',
    outcome: 'closed_by_peer',
  });
  return { client, server };
}

describe('connection ids', () => {
  it('recovers both ISNs from either end, across 2^32 wraparound', () => {
    for (const [c, s] of [
      [0, 0],
      [123456, 7654321],
      [0xfffffff0, 5],
      [3, 0xffffffff],
    ]) {
      const { client, server } = connection(c, s, 100_000, 5_000_000_000); // more than 2^32 bytes down
      assert.deepEqual(initialSequenceNumbers(client), { client: c, server: s });
      assert.deepEqual(initialSequenceNumbers(server), { client: c, server: s });
    }
  });

  it("one trace for both ends; the server's span is the client's child; NAT-rewritten addresses and ports do not matter", () => {
    const { client, server } = connection(0x1234abcd, 0x9876fedc, 100, 500);
    const c = connectionIds(client)!;
    const s = connectionIds(server)!;
    assert.match(c.traceId, /^[0-9a-f]{32}$/);
    assert.equal(s.traceId, c.traceId);
    assert.equal(c.parentSpanId, undefined, 'the client span is the root');
    assert.equal(s.parentSpanId, c.spanId);
    assert.notEqual(s.spanId, c.spanId);
    const span = sessionToSpan(server, s);
    assert.equal(span.parentSpanId, c.spanId);
    assert.equal(sessionToSpan(client, c).parentSpanId, undefined);
  });

  it('a session found open at start (no handshake time) still has both ISNs', () => {
    const { client, server } = connection(5, 6, 1, 1);
    const found = { handshakeNs: undefined, startTime: undefined, durationNs: undefined };
    assert.equal(connectionIds({ ...client, ...found })!.traceId, connectionIds({ ...server, ...found })!.traceId);
  });

  it('a client never answered (refused) has its own trace; an unknown role has none', () => {
    const refused = sampleSession({
      role: 'client',
      handshakeNs: undefined,
      sndUna: 777,
      bytesAckedRaw: 0,
      rcvNxt: 0,
      bytesReceivedRaw: 0,
      stateBeforeClose: 'SYN_SENT',
      outcome: 'refused',
    });
    assert.deepEqual(initialSequenceNumbers(refused), { client: 777, server: 0 });
    assert.ok(connectionIds(refused));
    assert.equal(connectionIds(sampleSession({ role: 'unknown', startTime: undefined })), undefined);
  });

  it('different ISN pairs give different trace ids and span ids (40,000 seeded pairs: 20,000 and their neighbours)', () => {
    const rand = rng(20261126);
    const traces = new Set<string>();
    const spans = new Set<string>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const c = Math.floor(rand() * U32);
      const s = Math.floor(rand() * U32);
      // A random pair and its neighbour in the client ISN: the worst case for a weak mix.
      for (const cc of [c, (c + 1) % U32]) {
        const ids = connectionIds(connection(cc, s, 10, 10).server)!;
        traces.add(ids.traceId);
        spans.add(ids.spanId);
        spans.add(ids.parentSpanId!);
      }
    }
    assert.equal(traces.size, 2 * n);
    assert.equal(spans.size, 4 * n);
  });
});
