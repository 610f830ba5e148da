// KernelFilters to the addon's form: CIDR text becomes 17-byte records
// (prefix length in IPv6 space, then 16 address bytes), so the kernel side
// never sees text. Anything malformed throws here, before the kernel is touched.
import { isIPv4, isIPv6 } from 'node:net';
import { addressBytes } from '../sessions/address';
import type { NativeFilters } from './binding';
import type { KernelFilters } from './probe-types';

/** Bytes per CIDR record handed to the addon. */
export const CIDR_RECORD_BYTES = 17;

/** A CIDR as the kernel matches it: IPv4 as ::ffff:a.b.c.d, prefix + 96. */
export interface Cidr {
  /** 0..128, in IPv6 space. */
  prefixLength: number;
  /** 16 bytes, network order, host bits zero. */
  address: Uint8Array;
}

/**
 * Parses 'a.b.c.d/len', 'x:y::z/len' or a bare address (a single host).
 * Throws an Error saying what is wrong.
 */
export function parseCidr(text: string): Cidr {
  if (typeof text !== 'string') throw new TypeError(`CIDR must be a string, got ${typeof text}`);
  const bad = (why: string) => new Error(`${JSON.stringify(text)} is not a CIDR: ${why}`);
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? undefined : text.slice(slash + 1);
  const v4 = isIPv4(addr);
  if (!v4 && (!isIPv6(addr) || addr.includes('%'))) throw bad('expected an IPv4 or IPv6 address, optionally /prefix-length');
  const max = v4 ? 32 : 128;
  let len = max;
  if (lenText !== undefined) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > max) throw bad(`prefix length must be 0-${max}`);
    len = Number(lenText);
  }
  let address: Uint8Array;
  if (v4) {
    address = new Uint8Array(16);
    address[10] = 0xff;
    address[11] = 0xff;
    address.set(addressBytes(addr), 12);
    len += 96;
  } else {
    address = addressBytes(addr);
  }
  for (let bit = len; bit < 128; bit++) address[bit >> 3] &= ~(0x80 >> (bit & 7));
  return { prefixLength: len, address };
}

function cidrRecords(field: string, list: string[] | undefined): Uint8Array {
  if (list === undefined) return new Uint8Array(0);
  if (!Array.isArray(list)) throw new TypeError(`${field} must be an array of CIDR strings`);
  const out = new Uint8Array(list.length * CIDR_RECORD_BYTES);
  list.forEach((text, i) => {
    let c: Cidr;
    try {
      c = parseCidr(text);
    } catch (err) {
      throw new Error(`${field}: ${(err as Error).message}`);
    }
    out[i * CIDR_RECORD_BYTES] = c.prefixLength;
    out.set(c.address, i * CIDR_RECORD_BYTES + 1);
  });
  return out;
}

/** The addon's form of `filters`; the addon checks the numbers (ranges, sizes) itself. */
export function encodeKernelFilters(filters: KernelFilters): NativeFilters {
  if (typeof filters !== 'object' || filters === null) throw new TypeError('filters must be an object');
  return {
    pids: filters.pids,
    excludePids: filters.excludePids,
    localPorts: filters.localPorts,
    remotePorts: filters.remotePorts,
    family: filters.family,
    localCidrs: cidrRecords('localCidrs', filters.localCidrs),
    remoteCidrs: cidrRecords('remoteCidrs', filters.remoteCidrs),
    netns: filters.netns,
    cgroupIds: filters.cgroupIds,
  };
}
