// Addresses as the kernel stores them (network byte order), to text and back.

export function ipv4ToString(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** RFC 5952 text: lower case, longest run (>= 2) of zero groups as '::', IPv4-mapped as ::ffff:a.b.c.d. */
export function ipv6ToString(bytes: Uint8Array, offset: number): string {
  let mapped = bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = bytes[offset + i] === 0;
  if (mapped) return `::ffff:${ipv4ToString(bytes, offset + 12)}`;

  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[offset + i] << 8) | bytes[offset + i + 1]);

  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]) => gs.map((g) => g.toString(16)).join(':');
  if (bestLen < 2) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/**
 * The bytes of an address that net.isIPv4 or net.isIPv6 accepted (no zone):
 * 4 for IPv4, 16 for IPv6, an embedded dotted quad included.
 */
export function addressBytes(text: string): Uint8Array {
  if (!text.includes(':')) return Uint8Array.from(text.split('.').map(Number));
  const out = new Uint8Array(16);
  const gap = text.indexOf('::');
  const head = gap >= 0 ? text.slice(0, gap) : text;
  const tail = gap >= 0 ? text.slice(gap + 2) : '';
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const b = addressBytes(g); // the last 32 bits, as a dotted quad
          return [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
        });
  const front = words(head);
  const back = words(tail);
  [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back].forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}
