/**
 * tcplife's text output (default, wide -w, CSV -s, with -T/-t prefixes).
 *
 * The layouts are bcc's tcplife of 2018, byte for byte: people have scripts
 * and eyes trained on them. The format strings below are the seed's Python
 * %-formats, rebuilt from small helpers that follow Python's semantics
 * (widths count code points, %-15s never truncates, %.10s does, %.2f rounds
 * the binary value half-to-even).
 *
 * Pure functions: the caller owns the clock and the first-row origin.
 */
import type { TcpSession, WallTime } from '../sessions/tcp-session';

export interface TableOptions {
  /** -w: wider columns that fit IPv6 addresses, plus an IP column. */
  wide: boolean;
  /** -s: comma separated values. Wins over -w, as in the seed. */
  csv: boolean;
  /** -T: HH:MM:SS column (local time when the row is printed). */
  time: boolean;
  /** -t: seconds since the first printed session closed. */
  timestamp: boolean;
}

/** What a row needs beyond the session. */
export interface RowContext {
  /**
   * End time of the first printed session: the origin of the -t column (the
   * seed takes its first event's timestamp). When absent, this row is the
   * first one and prints 0.000000.
   */
  firstEnd?: WallTime;
  /** The -T column: local HH:MM:SS, see localClock(). Required with -T. */
  clock?: string;
}

/**
 * A partial session: its birth was not observed (it opened before the probe
 * attached, or its state could not be stored), so it has no duration. The
 * table and CSV have no way to show "unknown" in the MS column without
 * breaking the seed's layout, so their callers skip partial sessions;
 * JSON lines keep them, with partial: true and null durations.
 */
export function isPartial(s: TcpSession): boolean {
  return s.startTime === undefined || s.durationNs === undefined;
}

/** Local wall-clock time as HH:MM:SS, what the seed's strftime("%H:%M:%S") prints. */
export function localClock(date: Date): string {
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** The header line, without a trailing newline. */
export function tableHeader(opts: TableOptions): string {
  const withIp = opts.wide || opts.csv;
  const cols = ['PID', 'COMM', withIp ? 'IP' : '', 'LADDR', 'LPORT', 'RADDR', 'RPORT', 'TX_KB', 'RX_KB', 'MS'];
  let prefix = '';
  if (opts.time) prefix += opts.csv ? 'TIME,' : ljust('TIME', 8) + ' ';
  if (opts.timestamp) prefix += opts.csv ? 'TIME(s),' : ljust('TIME(s)', 9) + ' ';
  return prefix + formatColumns(opts, cols);
}

/**
 * One row, without a trailing newline. The caller must skip partial
 * sessions (see isPartial); a partial session here is a programming error.
 */
export function tableRow(s: TcpSession, opts: TableOptions, ctx: RowContext): string {
  if (isPartial(s)) {
    throw new Error('tableRow: partial session (birth not observed) has no duration; skip it with isPartial()');
  }
  let prefix = '';
  if (opts.time) {
    if (ctx.clock === undefined) throw new Error('tableRow: -T needs ctx.clock (see localClock)');
    prefix += opts.csv ? ctx.clock + ',' : ljust(ctx.clock, 8) + ' ';
  }
  if (opts.timestamp) {
    const delta = pyFixed(secondsSince(ctx.firstEnd ?? s.endTime, s.endTime), 6);
    prefix += opts.csv ? delta + ',' : ljust(delta, 9) + ' ';
  }
  const withIp = opts.wide || opts.csv;
  const cols = [
    String(s.pid),
    displayComm(s, opts.csv),
    withIp ? String(s.family) : '',
    s.localAddress,
    String(s.localPort),
    s.remoteAddress,
    String(s.remotePort),
    // The seed prints tx_b / 1024 through %d: whole kilobytes, rounded down.
    String(Math.floor(s.bytesSent / 1024)),
    String(Math.floor(s.bytesReceived / 1024)),
    pyFixed((s.durationNs as number) / 1e6, 2),
  ];
  return prefix + formatColumns(opts, cols);
}

/**
 * Lays out the ten columns (already turned into strings) with the seed's
 * format for the mode. Header and row formats differ only in %s vs %d,
 * which give the same text for our integers, so one layout serves both.
 */
function formatColumns(opts: TableOptions, c: string[]): string {
  const [pid, comm, ip, laddr, lport, raddr, rport, tx, rx, ms] = c;
  if (opts.csv) {
    // "%d,%s,%s,%s,%s,%s,%d,%d,%d,%.2f"
    return c.join(',');
  }
  if (opts.wide) {
    // "%-5d %-16.16s %-2s %-26s %-5s %-26s %-5d %6d %6d %.2f"
    return [
      ljust(pid, 5),
      ljust(trunc(comm, 16), 16),
      ljust(ip, 2),
      ljust(laddr, 26),
      ljust(lport, 5),
      ljust(raddr, 26),
      ljust(rport, 5),
      rjust(tx, 6),
      rjust(rx, 6),
      ms,
    ].join(' ');
  }
  // "%-5d %-10.10s %s%-15s %-5d %-15s %-5d %5d %5d %.2f": the bare %s is the
  // (empty) IP column glued to LADDR, so it adds no space.
  return [
    ljust(pid, 5),
    ljust(trunc(comm, 10), 10),
    ip + ljust(laddr, 15),
    ljust(lport, 5),
    ljust(raddr, 15),
    ljust(rport, 5),
    rjust(tx, 5),
    rjust(rx, 5),
    ms,
  ].join(' ');
}

/**
 * The COMM column. Deliberate departures from the seed, both invisible for
 * ordinary names:
 * - unknown owner (no host pid or empty comm) prints "?": an empty column is
 *   unreadable (the layout would not shift, but the eye finds nothing);
 * - control characters (and commas in CSV) become "?": any process can
 *   set its own comm, and a newline or escape sequence in it must not forge
 *   output lines or drive the terminal, nor a comma shift CSV columns.
 */
function displayComm(s: TcpSession, csv: boolean): string {
  if (s.hostPid === 0 || s.comm === '') return '?';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is the point
  const unsafe = csv ? /[\u0000-\u001f\u007f-\u009f,]/g : /[\u0000-\u001f\u007f-\u009f]/g;
  return s.comm.replace(unsafe, '?');
}

/**
 * Seconds from `origin` to `t`, as the seed computes them: both truncated
 * to whole microseconds first (its ts_us), then the difference over 1e6.
 * Integer microseconds stay exact in a double for ~285 years.
 */
function secondsSince(origin: WallTime, t: WallTime): number {
  const us = (w: WallTime) => w[0] * 1e6 + Math.floor(w[1] / 1000);
  return (us(t) - us(origin)) / 1e6;
}

// ---- Python %-format semantics -------------------------------------------

const SURROGATE = /[\uD800-\uDFFF]/;

/** Python counts code points, not UTF-16 units (they differ only with surrogates). */
function cpLength(s: string): number {
  return SURROGATE.test(s) ? Array.from(s).length : s.length;
}

/** %-Ns: pad on the right to N, never truncate. */
function ljust(s: string, width: number): string {
  return s + ' '.repeat(Math.max(0, width - cpLength(s)));
}

/** %Ns: pad on the left to N, never truncate. */
function rjust(s: string, width: number): string {
  return ' '.repeat(Math.max(0, width - cpLength(s))) + s;
}

/** %.Ns: keep at most N code points. */
function trunc(s: string, n: number): string {
  if (!SURROGATE.test(s)) return s.length <= n ? s : s.slice(0, n);
  return Array.from(s).slice(0, n).join('');
}

/**
 * Python's "%.Nf": the exact binary value of x rounded half-to-even.
 * JavaScript's toFixed rounds exact ties away from zero (1.125 -> "1.13"
 * where Python prints "1.12"), so we take the exact decimal expansion
 * (toFixed(100) is exact for the magnitudes we print) and round it here.
 * Like Python, a negative value keeps its sign even when it rounds to 0.
 */
export function pyFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const negative = x < 0 || Object.is(x, -0);
  const abs = Math.abs(x);
  if (abs >= 1e21) return (negative ? '-' : '') + abs.toFixed(digits); // not reachable for our data
  // toFixed also rounds the exact binary value to the nearest; it differs
  // from Python only on an exact tie, and an exact tie always shows as a
  // fraction of exactly .5 in abs * 10^digits (10^digits is exact): only
  // then take the slow exact path below.
  const scaled = abs * 10 ** digits;
  if (scaled - Math.floor(scaled) !== 0.5) return (negative ? '-' : '') + abs.toFixed(digits);
  const exact = abs.toFixed(100);
  const dot = exact.indexOf('.');
  const kept = exact.slice(0, dot) + exact.slice(dot + 1, dot + 1 + digits); // digits as an integer string
  const rest = exact.slice(dot + 1 + digits);
  let roundUp = false;
  if (rest[0] > '5') roundUp = true;
  else if (rest[0] === '5') {
    const exactTie = /^50*$/.test(rest);
    roundUp = !exactTie || Number(kept[kept.length - 1]) % 2 === 1;
  }
  let n = BigInt(kept);
  if (roundUp) n += 1n;
  let str = n.toString().padStart(digits + 1, '0');
  if (digits > 0) str = str.slice(0, str.length - digits) + '.' + str.slice(str.length - digits);
  return (negative ? '-' : '') + str;
}
