// KernelFilters to the addon's form: each CIDR becomes a 17-byte record
// (prefix length in IPv6 space, then 16 address bytes), so the kernel side
// never sees text. Anything malformed throws here, before the kernel is touched.
import { parseCidr, type Cidr } from '../sessions/cidr';
import type { NativeFilters } from './binding';
import type { KernelFilters } from './probe-types';

/** Bytes per CIDR record handed to the addon. */
export const CIDR_RECORD_BYTES = 17;

/** A CIDR as the kernel matches it: IPv4 as ::ffff:a.b.c.d, its prefix + 96. */
export function kernelCidr(c: Cidr): { prefixLength: number; address: Uint8Array } {
  if (c.family === 6) return { prefixLength: c.prefix, address: c.bytes };
  const address = new Uint8Array(16);
  address[10] = 0xff;
  address[11] = 0xff;
  address.set(c.bytes, 12);
  return { prefixLength: c.prefix + 96, address };
}

function cidrRecords(field: string, list: ReadonlyArray<string | Cidr> | undefined): Uint8Array {
  if (list === undefined) return new Uint8Array(0);
  if (!Array.isArray(list)) throw new TypeError(`${field} must be an array of CIDRs`);
  const out = new Uint8Array(list.length * CIDR_RECORD_BYTES);
  list.forEach((item: string | Cidr, i) => {
    let c: Cidr;
    try {
      // Parsed configuration arrives parsed; text (a library caller's) is parsed here, once.
      c = typeof item === 'object' && item !== null ? item : parseCidr(item);
    } catch (err) {
      throw new Error(`${field}: ${JSON.stringify(item)} is not a CIDR: ${(err as Error).message}`);
    }
    const k = kernelCidr(c);
    out[i * CIDR_RECORD_BYTES] = k.prefixLength;
    out.set(k.address, i * CIDR_RECORD_BYTES + 1);
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
