// decodeSessions on hand-built records: addresses, payload bytes, outcomes, times.
import { strict as assert } from 'node:assert';
import { decodeSessions } from '../../src/kernel/decode';
import { KernelClock } from '../../src/kernel/kernel-clock';
import { AF_INET, AF_INET6, EVENT_SIZE, FIELDS as F, FLAG, OWNER, ROLE } from '../../src/kernel/wire';
import { ipv6ToString } from '../../src/sessions/address';

// Wall clock = boot clock + 1,700,000,000 s exactly, to make times easy to check.
const OFFSET_NS = 1_700_000_000n * 1_000_000_000n;
const clock = new KernelClock(() => ({ bootNs: 0n, realtimeNs: OFFSET_NS }));

interface Rec {
  birth?: bigint;
  established?: bigint;
  end?: bigint;
  acked?: number;
  received?: number;
  pid?: number;
  nsPid?: number;
  family?: number;
  lport?: number;
  rport?: number;
  oldstate?: number;
  role?: number;
  flags?: number;
  owner?: number;
  error?: number;
  laddr?: number[];
  raddr?: number[];
  comm?: string;
}

function record(r: Rec): Buffer {
  const b = Buffer.alloc(EVENT_SIZE);
  b.writeBigUInt64LE(r.birth ?? 1_000_000_000n, F.birth_ns.offset);
  b.writeBigUInt64LE(r.established ?? 0n, F.established_ns.offset);
  b.writeBigUInt64LE(r.end ?? 3_000_000_000n, F.end_ns.offset);
  b.writeBigUInt64LE(BigInt(r.acked ?? 0), F.bytes_acked.offset);
  b.writeBigUInt64LE(BigInt(r.received ?? 0), F.bytes_received.offset);
  b.writeUInt32LE(r.pid ?? 0, F.pid.offset);
  b.writeUInt32LE(r.nsPid ?? r.pid ?? 0, F.ns_pid.offset);
  b.writeUInt16LE(r.family ?? AF_INET, F.family.offset);
  b.writeUInt16LE(r.lport ?? 0, F.lport.offset);
  b.writeUInt16LE(r.rport ?? 0, F.rport.offset);
  b.writeUInt8(r.oldstate ?? 5, F.oldstate.offset);
  b.writeUInt8(r.role ?? ROLE.CLIENT, F.role.offset);
  b.writeUInt8(r.flags ?? FLAG.BIRTH_SEEN, F.flags.offset);
  b.writeUInt8(r.owner ?? OWNER.NONE, F.owner_source.offset);
  b.writeUInt8(r.error ?? 0, F.error.offset);
  Buffer.from(r.laddr ?? [127, 0, 0, 1]).copy(b, F.laddr.offset);
  Buffer.from(r.raddr ?? [127, 0, 0, 1]).copy(b, F.raddr.offset);
  Buffer.from(r.comm ?? '', 'utf8').copy(b, F.comm.offset);
  return b;
}

const decodeOne = (r: Rec) => decodeSessions(record(r), 1, clock)[0];

describe('decodeSessions', () => {
  it('decodes IPv4 addresses, ports, owner and times', () => {
    const s = decodeOne({
      laddr: [192, 0, 2, 1],
      raddr: [192, 0, 2, 2],
      lport: 40000,
      rport: 80,
      pid: 4242,
      comm: 'curl',
      owner: OWNER.CONNECT,
      flags: FLAG.BIRTH_SEEN | FLAG.ESTABLISHED | FLAG.OWNER_KNOWN,
      birth: 1_000_000_000n,
      established: 1_000_250_000n,
      end: 1_500_000_123n,
    });
    assert.equal(s.family, 4);
    assert.equal(s.localAddress, '192.0.2.1');
    assert.equal(s.remoteAddress, '192.0.2.2');
    assert.equal(s.localPort, 40000);
    assert.equal(s.remotePort, 80);
    assert.equal(s.pid, 4242);
    assert.equal(s.hostPid, 4242);
    assert.equal(s.comm, 'curl');
    assert.equal(s.ownerSource, 'connect');
    assert.deepEqual(s.startTime, [1_700_000_001, 0]);
    assert.deepEqual(s.endTime, [1_700_000_001, 500_000_123]);
    assert.equal(s.durationNs, 500_000_123);
    assert.equal(s.handshakeNs, 250_000);
  });

  it("takes pid from the agent's PID namespace view, hostPid from the host's", () => {
    const s = decodeOne({ pid: 51234, nsPid: 7, owner: OWNER.CONNECT, comm: 'app' });
    assert.equal(s.pid, 7);
    assert.equal(s.hostPid, 51234);
  });

  it('keeps local and remote IPv6 addresses apart', () => {
    const local = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const remote = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const s = decodeOne({ family: AF_INET6, laddr: local, raddr: remote });
    assert.equal(s.family, 6);
    assert.equal(s.localAddress, '2001:db8::1');
    assert.equal(s.remoteAddress, '2001:db8::2');
  });

  it('marks a session whose birth was not seen as partial', () => {
    const s = decodeOne({ flags: 0, role: ROLE.UNKNOWN, birth: 0n });
    assert.equal(s.startTime, undefined);
    assert.equal(s.durationNs, undefined);
    assert.equal(s.handshakeNs, undefined);
    assert.equal(s.role, 'unknown');
  });

  // bytes_acked/bytes_received count sequence space; payload excludes SYN and FINs.
  const byteCases: Array<[string, Rec, number, number]> = [
    [
      'client, both FINs counted',
      { role: ROLE.CLIENT, flags: FLAG.BIRTH_SEEN | FLAG.ESTABLISHED | FLAG.FIN_ACKED | FLAG.FIN_RECEIVED, acked: 100_002, received: 54_322 },
      100_000,
      54_321,
    ],
    ['client, no FIN acked yet', { role: ROLE.CLIENT, flags: FLAG.BIRTH_SEEN | FLAG.ESTABLISHED, acked: 11, received: 7 }, 10, 7],
    [
      'server: its SYN is not in bytes_acked',
      { role: ROLE.SERVER, flags: FLAG.BIRTH_SEEN | FLAG.ESTABLISHED | FLAG.FIN_ACKED | FLAG.FIN_RECEIVED, acked: 54_322, received: 100_001 },
      54_321,
      100_000,
    ],
    ['refused client: nothing acked', { role: ROLE.CLIENT, flags: FLAG.BIRTH_SEEN, acked: 0, received: 0 }, 0, 0],
  ];
  for (const [name, rec, sent, received] of byteCases) {
    it(`reports payload bytes: ${name}`, () => {
      const s = decodeOne(rec);
      assert.equal(s.bytesSent, sent);
      assert.equal(s.bytesReceived, received);
      assert.equal(s.bytesAckedRaw, rec.acked);
      assert.equal(s.bytesReceivedRaw, rec.received);
    });
  }

  // [state before CLOSE, sk_err, outcome]
  const outcomes: Array<[number, number, string]> = [
    [2, 111, 'refused'], // SYN_SENT + ECONNREFUSED
    [2, 110, 'timeout'], // SYN_SENT + ETIMEDOUT
    [2, 113, 'connect_failed'], // SYN_SENT + EHOSTUNREACH
    [3, 0, 'handshake_aborted'], // SYN_RECV
    [1, 104, 'reset_by_peer'], // ESTABLISHED + ECONNRESET
    [1, 0, 'reset_locally'], // ESTABLISHED, no error: we sent the RST
    [8, 0, 'reset_locally'], // CLOSE_WAIT
    [9, 0, 'closed_by_peer'], // LAST_ACK
    [5, 0, 'closed_locally'], // FIN_WAIT2
    [4, 0, 'closed_locally'], // FIN_WAIT1
    [11, 0, 'closed_locally'], // CLOSING
    [4, 104, 'reset_by_peer'], // FIN_WAIT1 + ECONNRESET
    [1, 110, 'timeout'], // ESTABLISHED + ETIMEDOUT (retransmissions gave up)
  ];
  for (const [state, errno, outcome] of outcomes) {
    it(`maps state ${state} with errno ${errno} to ${outcome}`, () => {
      assert.equal(decodeOne({ oldstate: state, error: errno }).outcome, outcome);
    });
  }

  it('decodes several records of one batch at their offsets', () => {
    const batch = Buffer.concat([record({ lport: 1 }), record({ lport: 2 }), record({ lport: 3 })]);
    assert.deepEqual(
      decodeSessions(batch, 3, clock).map((s) => s.localPort),
      [1, 2, 3],
    );
  });

  it('refuses a batch too short for its count', () => {
    assert.throws(() => decodeSessions(Buffer.alloc(EVENT_SIZE), 2, clock), RangeError);
  });
});

describe('ipv6ToString (RFC 5952)', () => {
  const cases: Array<[number[], string]> = [
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3], '::ffff:10.1.2.3'],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], '2001:db8:0:1::1'],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0], '2001:db8:1:1:1:1:1:0'],
    [[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0, 0, 0, 0, 0], 'fe80::abcd:0:0:0'],
  ];
  for (const [bytes, text] of cases) {
    it(`formats ${text}`, () => assert.equal(ipv6ToString(Uint8Array.from(bytes), 0), text));
  }
});
