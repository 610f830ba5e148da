/**
 * Trace and span ids derived from the connection itself, so that both ends
 * of one TCP connection land in one trace, the server's span a child of the
 * client's, whether one agent saw both ends or two agents on different
 * hosts did. Pure: no state, no randomness.
 *
 * The connection's identity is its pair of initial sequence numbers (ISNs),
 * the client's and the server's, which both ends know and which NAT leaves
 * alone (addresses and ports are left out: NAT rewrites them). They are
 * recovered at close from what the kernel counts:
 *   own ISN  = snd_una - bytes_acked (- 1 on the server: the client's SYN is
 *              in its bytes_acked, the server's SYN is not in the server's)
 *   peer ISN = rcv_nxt - bytes_received - 1 (no SYN is in bytes_received)
 * FINs cancel out: each is counted in both terms of its difference.
 *
 * The ids are a bijection of the 64-bit pair (a Feistel permutation per id
 * kind), so two connections share a trace id only if both their ISNs are
 * equal: about 2^-64 for two connections, n^2 / 2^65 among n.
 */
import type { TcpSession } from './tcp-session';

export interface ConnectionIds {
  traceId: string;
  spanId: string;
  /** The client span's id, on the server's span. */
  parentSpanId?: string;
}

/** The connection's ISNs, or undefined when the session's role is unknown. */
export function initialSequenceNumbers(s: TcpSession): { client: number; server: number } | undefined {
  if (s.role === 'unknown') return undefined;
  const own = (s.sndUna - (s.bytesAckedRaw % 2 ** 32) - (s.role === 'server' ? 1 : 0)) >>> 0;
  // A client that never got the SYN-ACK has no peer ISN (there is no server span either).
  const established = s.role === 'server' || s.stateBeforeClose !== 'SYN_SENT';
  const peer = established ? (s.rcvNxt - (s.bytesReceivedRaw % 2 ** 32) - 1) >>> 0 : 0;
  return s.role === 'client' ? { client: own, server: peer } : { client: peer, server: own };
}

// Round keys, four per id kind: arbitrary constants.
const TRACE_HI = [0x9e3779b9, 0x7f4a7c15, 0xf39cc060, 0x5ced3f4b] as const;
const TRACE_LO = [0x85ebca6b, 0xc2b2ae35, 0x27d4eb2f, 0x165667b1] as const;
const CLIENT_SPAN = [0xd3a2646c, 0xfd7046c5, 0xb55a4f09, 0x94d049bb] as const;
const SERVER_SPAN = [0xbf58476d, 0x1ce4e5b9, 0x2545f491, 0x4f6cdd1d] as const;

/** murmur3's 32-bit finalizer: every input bit moves every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
const hex32 = (n: number) => HEX_BYTE[n >>> 24] + HEX_BYTE[(n >>> 16) & 255] + HEX_BYTE[(n >>> 8) & 255] + HEX_BYTE[n & 255];

/**
 * 64 bits as 16 hex digits: (client, server) through a 4-round Feistel
 * network keyed by `k`, a permutation of 64-bit values. All zeros is an
 * invalid OTLP id (one input pair gives it): ...01 instead.
 */
function id64(client: number, server: number, k: readonly number[]): string {
  let l = client >>> 0;
  let r = server >>> 0;
  let t = (l ^ fmix32(r ^ k[0])) >>> 0;
  l = r;
  r = t;
  t = (l ^ fmix32(r ^ k[1])) >>> 0;
  l = r;
  r = t;
  t = (l ^ fmix32(r ^ k[2])) >>> 0;
  l = r;
  r = t;
  t = (l ^ fmix32(r ^ k[3])) >>> 0;
  l = r;
  r = t;
  return l === 0 && r === 0 ? '0000000000000001' : hex32(l) + hex32(r);
}

/**
 * The ids of a session's span: the trace of its connection; the client's
 * span is the root, the server's its child. Undefined when the role is
 * unknown (the caller draws random ids).
 */
export function connectionIds(s: TcpSession): ConnectionIds | undefined {
  const isn = initialSequenceNumbers(s);
  if (!isn) return undefined;
  const traceId = id64(isn.client, isn.server, TRACE_HI) + id64(isn.client, isn.server, TRACE_LO);
  const clientSpan = id64(isn.client, isn.server, CLIENT_SPAN);
  if (s.role === 'client') return { traceId, spanId: clientSpan };
  return { traceId, spanId: id64(isn.client, isn.server, SERVER_SPAN), parentSpanId: clientSpan };
}
