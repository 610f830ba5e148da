// Batch buffer from the addon -> TcpSession objects. Pure apart from the clock.
import { ipv4ToString, ipv6ToString } from '../sessions/address';
import { diffNs, splitNs, type KernelClock } from './kernel-clock';
import type { OwnerSource, Role, TcpSession } from '../sessions/tcp-session';
import { errnoName, sessionOutcome, tcpStateName } from '../sessions/tcp-state';
import { AF_INET, EVENT_SIZE, FIELDS as F, FLAG, OWNER, ROLE } from './wire';

const ROLES: Record<number, Role> = {
  [ROLE.CLIENT]: 'client',
  [ROLE.SERVER]: 'server',
  [ROLE.UNKNOWN]: 'unknown',
};

const OWNER_SOURCES: Record<number, OwnerSource> = {
  [OWNER.NONE]: 'none',
  [OWNER.CONNECT]: 'connect',
  [OWNER.SOCKET_IO]: 'socket_io',
  [OWNER.CLOSE]: 'close',
  [OWNER.FOUND]: 'found',
};

const textDecoder = new TextDecoder('utf-8');

function cString(bytes: Uint8Array, offset: number, size: number): string {
  let end = offset;
  while (end < offset + size && bytes[end] !== 0) end++;
  return textDecoder.decode(bytes.subarray(offset, end));
}

/** Decodes `count` records of EVENT_SIZE bytes each. */
export function decodeSessions(records: Uint8Array, count: number, clock: KernelClock): TcpSession[] {
  if (records.byteLength < count * EVENT_SIZE) {
    throw new RangeError(`batch of ${records.byteLength} bytes cannot hold ${count} session records`);
  }
  const view = new DataView(records.buffer, records.byteOffset, records.byteLength);
  const sessions: TcpSession[] = new Array(count);
  for (let i = 0; i < count; i++) {
    sessions[i] = decodeSession(records, view, i * EVENT_SIZE, clock);
  }
  return sessions;
}

// Reading u64 fields as two u32 halves keeps BigInt off the hot path.
const TWO_POW_32 = 4294967296;

function decodeSession(bytes: Uint8Array, view: DataView, base: number, clock: KernelClock): TcpSession {
  const u32 = (f: { offset: number }) => view.getUint32(base + f.offset, true);
  const u16 = (f: { offset: number }) => view.getUint16(base + f.offset, true);
  const u8 = (f: { offset: number }) => view.getUint8(base + f.offset);
  /** Counters and ids: exact below 2^53. */
  const u64 = (f: { offset: number }) => view.getUint32(base + f.offset + 4, true) * TWO_POW_32 + view.getUint32(base + f.offset, true);
  /** Kernel times, split into [s, ns] exactly. */
  const time = (f: { offset: number }) => splitNs(view.getUint32(base + f.offset + 4, true), view.getUint32(base + f.offset, true));

  const flags = u8(F.flags);
  const role = ROLES[u8(F.role)] ?? 'unknown';
  const birthSeen = (flags & FLAG.BIRTH_SEEN) !== 0;
  const established = (flags & FLAG.ESTABLISHED) !== 0;
  const end = time(F.end_ns);
  const birth = birthSeen ? time(F.birth_ns) : undefined;
  const found = flags & FLAG.FOUND_AT_START ? time(F.birth_ns) : undefined;
  const establishedAt = established ? time(F.established_ns) : undefined;
  const ipv4 = u16(F.family) === AF_INET;
  const addr = ipv4 ? ipv4ToString : ipv6ToString;

  // Kernel counters are in sequence space: the client's SYN and each FIN take
  // one. Report payload bytes; the raw values stay alongside.
  const bytesAckedRaw = u64(F.bytes_acked);
  const bytesReceivedRaw = u64(F.bytes_received);
  const synInAcked = role === 'client' && established ? 1 : 0;
  const finInAcked = flags & FLAG.FIN_ACKED ? 1 : 0;
  const finInReceived = flags & FLAG.FIN_RECEIVED ? 1 : 0;

  const oldstate = u8(F.oldstate);
  const srtt = u32(F.srtt_us); // µs << 3, as the kernel keeps it
  const errno = u8(F.error);

  return {
    family: ipv4 ? 4 : 6,
    localAddress: addr(bytes, base + F.laddr.offset),
    localPort: u16(F.lport),
    remoteAddress: addr(bytes, base + F.raddr.offset),
    remotePort: u16(F.rport),
    role,
    pid: u32(F.ns_pid),
    tid: u32(F.ns_tid),
    hostPid: u32(F.pid),
    comm: cString(bytes, base + F.comm.offset, F.comm.size),
    ownerSource: OWNER_SOURCES[u8(F.owner_source)] ?? 'none',
    cgroupId: u64(F.cgroup_id),
    netns: u32(F.netns),
    filterGeneration: u8(F.filter_gen),
    startTime: birth ? clock.toWall(birth) : undefined,
    foundAt: found ? clock.toWall(found) : undefined,
    endTime: clock.toWall(end),
    durationNs: birth ? diffNs(birth, end) : undefined,
    handshakeNs: birth && establishedAt ? diffNs(birth, establishedAt) : undefined,
    bytesSent: Math.max(0, bytesAckedRaw - synInAcked - finInAcked),
    bytesReceived: Math.max(0, bytesReceivedRaw - finInReceived),
    bytesAckedRaw,
    bytesReceivedRaw,
    stateBeforeClose: tcpStateName(oldstate),
    outcome: sessionOutcome(oldstate, errno),
    error: errnoName(errno),
    cookie: u64(F.cookie),
    // In whole µs, as tcp_info (and so ss -ti) gives them.
    rttUs: srtt === 0 ? undefined : srtt >>> 3,
    rttVarUs: srtt === 0 ? undefined : u32(F.mdev_us) >>> 2,
    retransSegments: u32(F.total_retrans),
    retransBytes: u64(F.bytes_retrans),
    segmentsIn: u32(F.segs_in),
    segmentsOut: u32(F.segs_out),
    sndUna: u32(F.snd_una),
    rcvNxt: u32(F.rcv_nxt),
    endBootNs: end[0] * 1e9 + end[1],
  };
}
