// Networks in CIDR notation, parsed once: the filters in user space, the
// configuration and the kernel's filter records all take this form.
import { isIPv4, isIPv6 } from 'node:net';
import { addressBytes, ipv4ToString, ipv6ToString } from './address';

/** A network: '10.0.0.0/8', '2001:db8::/32'; a bare address is a /32 or /128. */
export interface Cidr {
  family: 4 | 6;
  /** Prefix length in its family: 0-32 or 0-128. */
  prefix: number;
  /** 4 or 16 bytes, network order, host bits zero. */
  bytes: Uint8Array;
  /** Normalized text (RFC 5952 for IPv6), with the prefix. */
  text: string;
}

/** Why a text is not a CIDR, with what the caller may want to say about it. */
export class CidrError extends Error {
  constructor(
    why: string,
    readonly detail: { family?: 4 | 6; maxPrefix?: number; network?: string } = {},
  ) {
    super(why);
  }
}

/**
 * Parses 'a.b.c.d/len', 'x:y::z/len' or a bare address. Host bits after the
 * prefix are cleared, or refused (`strict`: a user who wrote 10.1.2.3/8
 * probably meant something else; CidrError.network says what it stands for).
 */
export function parseCidr(text: string, strict = false): Cidr {
  if (typeof text !== 'string') throw new CidrError(`CIDR must be a string, got ${typeof text}`);
  const m = /^([^/]+)(?:\/(0|[1-9][0-9]{0,2}))?$/.exec(text);
  const addr = m?.[1] ?? '';
  const family = isIPv4(addr) ? 4 : isIPv6(addr) && !addr.includes('%') ? 6 : 0;
  if (!m || family === 0) throw new CidrError('expected an IPv4 or IPv6 address, optionally /prefix-length');
  const max = family === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) throw new CidrError(`prefix length must be 0-${max}`, { family, maxPrefix: max });
  const bytes = addressBytes(addr);
  let hostBits = false;
  for (let bit = prefix; bit < max; bit++) {
    const mask = 0x80 >> (bit & 7);
    if (bytes[bit >> 3] & mask) hostBits = true;
    bytes[bit >> 3] &= ~mask;
  }
  const normalized = `${family === 4 ? ipv4ToString(bytes, 0) : ipv6ToString(bytes, 0)}/${prefix}`;
  if (strict && hostBits) throw new CidrError(`host bits are set after the prefix: did you mean ${normalized}?`, { family, network: normalized });
  return { family, prefix, bytes, text: normalized };
}
