import { strict as assert } from 'node:assert';
import type { TcpSession, WallTime } from '../../src/sessions/tcp-session';
import { jsonLine, rfc3339Micros, sessionToJson } from '../../src/output/json-lines';
import { connectionIds } from '../../src/sessions/connection-ids';
import { sampleSession } from '../support/sample-session';

const session = sampleSession;

const KEYS = [
  'pid',
  'comm',
  'family',
  'laddr',
  'lport',
  'raddr',
  'rport',
  'tx_bytes',
  'rx_bytes',
  'duration_ms',
  'handshake_ms',
  'role',
  'outcome',
  'error',
  'state_before_close',
  'partial',
  'start',
  'end',
  'host_pid',
  'container_id',
  'rtt_ms',
  'retrans_segments',
  'retrans_bytes',
  'segs_in',
  'segs_out',
  'trace_id',
  'found_at',
];

describe('JSON lines', () => {
  describe('rfc3339Micros', () => {
    const cases: Array<[WallTime, string]> = [
      [[0, 0], '1970-01-01T00:00:00.000000Z'],
      [[1795673752, 123456789], '2026-11-26T06:15:52.123456Z'],
      [[1795673752, 999999999], '2026-11-26T06:15:52.999999Z'], // truncated, never rounded into the next second
      [[1795673752, 1000], '2026-11-26T06:15:52.000001Z'],
      [[1795673752, 999], '2026-11-26T06:15:52.000000Z'],
      [[1, 1500000000], '1970-01-01T00:00:02.500000Z'], // nanos carried into seconds
      [[951782400, 0], '2000-02-29T00:00:00.000000Z'],
    ];
    for (const [t, expected] of cases) {
      it(`${t[0]}.${t[1]} -> ${expected}`, () => assert.equal(rfc3339Micros(t), expected));
    }
  });

  describe('sessionToJson', () => {
    it('a complete session', () => {
      const o = sessionToJson(session({}));
      assert.deepEqual(Object.keys(o), KEYS);
      assert.deepEqual(o, {
        pid: 1234,
        comm: 'curl',
        family: 4,
        laddr: '10.0.0.5',
        lport: 45678,
        raddr: '93.184.216.34',
        rport: 443,
        tx_bytes: 2548,
        rx_bytes: 1048577,
        duration_ms: 123.457,
        handshake_ms: 0.002,
        role: 'client',
        outcome: 'closed_locally',
        error: null,
        state_before_close: 'FIN_WAIT2',
        partial: false,
        start: '2026-11-26T06:15:52.123456Z',
        end: '2026-11-26T06:15:52.246913Z',
        host_pid: 1234,
        container_id: null,
        rtt_ms: 0.25,
        retrans_segments: 0,
        retrans_bytes: 0,
        segs_in: 740,
        segs_out: 12,
        trace_id: connectionIds(session({}))!.traceId,
        found_at: null,
      });
    });

    const cases: Array<[string, Partial<TcpSession>, Record<string, unknown>]> = [
      [
        "in a pod: the pod's pid, the host pid and the container",
        { pid: 7, hostPid: 51234, containerId: 'c'.repeat(64) },
        { pid: 7, host_pid: 51234, container_id: 'c'.repeat(64) },
      ],
      [
        'refused: never established',
        { outcome: 'refused', error: 'ECONNREFUSED', handshakeNs: undefined, stateBeforeClose: 'SYN_SENT', bytesSent: 0, bytesReceived: 0 },
        { outcome: 'refused', error: 'ECONNREFUSED', handshake_ms: null, state_before_close: 'SYN_SENT', tx_bytes: 0, rx_bytes: 0 },
      ],
      [
        'partial: birth not seen',
        { startTime: undefined, durationNs: undefined, handshakeNs: undefined, role: 'unknown' },
        { partial: true, start: null, duration_ms: null, handshake_ms: null, role: 'unknown', end: '2026-11-26T06:15:52.246913Z' },
      ],
      [
        'unknown owner keeps pid 0 and an empty comm',
        { pid: 0, tid: 0, hostPid: 0, comm: '', ownerSource: 'none', role: 'server' },
        { pid: 0, comm: '', role: 'server' },
      ],
      [
        'IPv6 with exact byte counts above 2^32',
        { family: 6, localAddress: '2001:db8::1', remoteAddress: '::ffff:10.0.0.1', bytesSent: 2 ** 40 + 1, bytesReceived: 4294967296 },
        { family: 6, laddr: '2001:db8::1', raddr: '::ffff:10.0.0.1', tx_bytes: 1099511627777, rx_bytes: 4294967296 },
      ],
      ['durations at microsecond precision', { durationNs: 1, handshakeNs: 499 }, { duration_ms: 0, handshake_ms: 0 }],
      ['a long session', { durationNs: 86_400_000_000_001, handshakeNs: 1_234_567 }, { duration_ms: 86400000, handshake_ms: 1.235 }],
      [
        'reset by peer',
        { outcome: 'reset_by_peer', error: 'ECONNRESET', stateBeforeClose: 'ESTABLISHED' },
        { outcome: 'reset_by_peer', error: 'ECONNRESET', state_before_close: 'ESTABLISHED' },
      ],
    ];
    for (const [name, over, expectedSubset] of cases) {
      it(`${name}: jsonLine is the same text as JSON.stringify(sessionToJson)`, () => {
        assert.equal(jsonLine(session(over)), JSON.stringify(sessionToJson(session(over))));
      });
      it(name, () => {
        const o = sessionToJson(session(over));
        assert.deepEqual(Object.keys(o), KEYS);
        for (const [k, v] of Object.entries(expectedSubset)) assert.deepEqual(o[k], v, k);
      });
    }
  });

  describe('jsonLine', () => {
    it('one line, no trailing newline, parses back', () => {
      const line = jsonLine(session({ comm: 'evil\nname' }));
      assert.equal(line.includes('\n'), false);
      assert.equal(line.startsWith('{"pid":1234,"comm":"evil\\nname","family":4,'), true);
      assert.deepEqual(JSON.parse(line), sessionToJson(session({ comm: 'evil\nname' })));
    });
    for (const comm of ['say "hi"', 'back\\slash', '\u0001\u001f\u007f', 'ünï€ødé', '']) {
      it(`escapes comm ${JSON.stringify(comm)} as JSON.stringify does`, () => {
        assert.equal(jsonLine(session({ comm })), JSON.stringify(sessionToJson(session({ comm }))));
      });
    }
    it('the exact text of a partial session', () => {
      assert.equal(
        jsonLine(session({ startTime: undefined, durationNs: undefined, handshakeNs: undefined, role: 'unknown' })),
        '{"pid":1234,"comm":"curl","family":4,"laddr":"10.0.0.5","lport":45678,"raddr":"93.184.216.34","rport":443,' +
          '"tx_bytes":2548,"rx_bytes":1048577,"duration_ms":null,"handshake_ms":null,"role":"unknown",' +
          '"outcome":"closed_locally","error":null,"state_before_close":"FIN_WAIT2","partial":true,' +
          '"start":null,"end":"2026-11-26T06:15:52.246913Z","host_pid":1234,"container_id":null,' +
          '"rtt_ms":0.25,"retrans_segments":0,"retrans_bytes":0,"segs_in":740,"segs_out":12,"trace_id":null,"found_at":null}',
      );
    });
  });
});
