/**
 * Command-line parsing: bcc tcplife's flags plus ours.
 *
 * node:util parseArgs runs non-strict with tokens, and every check is made
 * here on the tokens, so that each error names the flag as the user typed
 * it, the bad value, and what is allowed; parseArgs' own messages (and
 * stacks) never reach the user.
 */
import { parseArgs } from 'node:util';
import type { AttachMode, KernelFilters } from '../kernel/probe-types';
import type { TableOptions } from '../output/table';

export interface CliOptions {
  help: boolean;
  table: TableOptions;
  json: boolean;
  filters: KernelFilters;
  attach: AttachMode;
  verbose: boolean;
  /** How long pending spans may take to reach the collector at SIGINT/SIGTERM. */
  shutdownTimeoutMs: number;
  /** Seconds between counter lines on stderr; 0 for none. */
  statsIntervalS: number;
}

/** A bad command line; the message is meant for the user as is. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Linux's PID_MAX_LIMIT: no pid can exceed it. */
const PID_MAX = 4194304;
const ATTACH_MODES: readonly AttachMode[] = ['auto', 'tp_btf', 'tracepoint'];

const PID_EXPECTED = `expected comma-separated process ids 1-${PID_MAX}`;
const PORT_EXPECTED = 'expected comma-separated ports 1-65535 or ranges like 8000-8080';
const ATTACH_EXPECTED = `expected ${ATTACH_MODES.join(', ')}`;
/** Kubernetes' default grace period is 30 s; beyond 10 minutes is surely a typo. */
const SHUTDOWN_TIMEOUT_MAX_MS = 600_000;
const SHUTDOWN_TIMEOUT_EXPECTED = `expected milliseconds from 0 to ${SHUTDOWN_TIMEOUT_MAX_MS}`;
const STATS_INTERVAL_MAX_S = 86_400;
const STATS_INTERVAL_EXPECTED = `expected seconds from 0 (only at exit) to ${STATS_INTERVAL_MAX_S}`;
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;
export const DEFAULT_STATS_INTERVAL_S = 60;

export const USAGE = `usage: tcplife-otel [-h] [-T] [-t] [-w] [-s] [-j] [-p PID] [-L LOCALPORT]
                    [-D REMOTEPORT] [-4 | -6] [--attach MODE] [--verbose]
                    [--shutdown-timeout MS] [--stats-interval SEC]

Trace the lifespan of TCP sessions and summarize

options:
  -h, --help            show this help message and exit
  -T, --time            include time column on output (HH:MM:SS)
  -t, --timestamp       include timestamp on output (seconds)
  -w, --wide            wide column output (fits IPv6 addresses)
  -s, --csv             comma separated values output
  -j, --json            JSON lines output: one object per session, with exact
                        byte counts, outcome, and sessions that opened before
                        the trace (partial); not with -s, -w, -T or -t
  -p PID, --pid PID     trace these PIDs only (comma-separated list)
  -L LOCALPORT, --localport LOCALPORT
                        comma-separated list of local ports to trace; ranges
                        like 8000-8080 are allowed
  -D REMOTEPORT, --remoteport REMOTEPORT
                        comma-separated list of remote ports to trace; ranges
                        like 8000-8080 are allowed
  -4, --ipv4            trace IPv4 sessions only
  -6, --ipv6            trace IPv6 sessions only (IPv4-mapped included)
  --attach MODE         how to attach: auto (default), tp_btf or tracepoint
  --verbose             when loading fails, also print libbpf's messages
                        (the verifier log)
  --shutdown-timeout MS at SIGINT/SIGTERM, how long pending spans may take to
                        reach the collector (default ${DEFAULT_SHUTDOWN_TIMEOUT_MS})
  --stats-interval SEC  print the counters on stderr every SEC seconds
                        (default ${DEFAULT_STATS_INTERVAL_S}; 0: only at exit)

Runs until interrupted; bcc tcplife's [interval [count]] are not supported.
The table and CSV show sessions whose opening was seen; -j shows all.

examples:
    tcplife-otel             # trace all TCP sessions
    tcplife-otel -T          # include time column (HH:MM:SS)
    tcplife-otel -w          # wider columns (fit IPv6)
    tcplife-otel -stT        # csv output, with times & timestamps
    tcplife-otel -p 181      # only trace PID 181
    tcplife-otel -L 80       # only trace local port 80
    tcplife-otel -L 80,81    # only trace local ports 80 and 81
    tcplife-otel -L 8000-8080 # only trace local ports 8000 to 8080
    tcplife-otel -D 80       # only trace remote port 80
    tcplife-otel -6 -w       # only IPv6 sessions, wide columns
    tcplife-otel -j          # JSON lines
`;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  time: { type: 'boolean', short: 'T' },
  timestamp: { type: 'boolean', short: 't' },
  wide: { type: 'boolean', short: 'w' },
  csv: { type: 'boolean', short: 's' },
  json: { type: 'boolean', short: 'j' },
  pid: { type: 'string', short: 'p' },
  localport: { type: 'string', short: 'L' },
  remoteport: { type: 'string', short: 'D' },
  ipv4: { type: 'boolean', short: '4' },
  ipv6: { type: 'boolean', short: '6' },
  attach: { type: 'string' },
  verbose: { type: 'boolean' },
  'shutdown-timeout': { type: 'string' },
  'stats-interval': { type: 'string' },
} as const;

type OptionName = keyof typeof OPTIONS;

function isOptionName(name: string): name is OptionName {
  return Object.prototype.hasOwnProperty.call(OPTIONS, name);
}

/** Quotes a user's value for a message: escaped, and cut if enormous. */
function quote(value: string): string {
  const cut = value.length > 80 ? value.slice(0, 80) + '...' : value;
  return JSON.stringify(cut);
}

/** A hint when an option's value looks like the next option. */
function valueHint(value: string): string {
  return /^-[^0-9]/.test(value) ? ` (${quote(value)} looks like an option: is the value missing?)` : '';
}

/**
 * Parses argv (without node and the script). Throws UsageError on
 * anything wrong. With -h/--help anywhere, returns help: true and the
 * defaults, whatever else is on the line: asking for help never fails.
 */
export function parseCliArgs(argv: string[]): CliOptions {
  const tokens = tokenize(argv);

  const result: CliOptions = {
    help: false,
    table: { wide: false, csv: false, time: false, timestamp: false },
    json: false,
    filters: { pids: [], localPorts: [], remotePorts: [], family: 0 },
    attach: 'auto',
    verbose: false,
    shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS,
    statsIntervalS: DEFAULT_STATS_INTERVAL_S,
  };
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) {
    return { ...result, help: true };
  }

  /** The spelling the user typed for each flag seen, for messages. */
  const seen = new Map<OptionName, string>();
  const pids = new Set<number>();
  const localPorts = new Set<number>();
  const remotePorts = new Set<number>();
  let attachSeen: string | undefined;

  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      throw new UsageError(
        `unexpected argument ${quote(t.value)}: tcplife-otel takes no positional arguments ` +
          `(bcc tcplife's interval and count are not supported; it runs until interrupted)`,
      );
    }
    const { name, rawName, value } = t;
    if (!isOptionName(name)) throw new UsageError(`unknown option '${rawName}'`);
    seen.set(name, rawName);

    if (OPTIONS[name].type === 'boolean') {
      // Non-strict parseArgs lets "--wide=yes" through: refuse it here.
      if (value !== undefined) throw new UsageError(`${rawName}: takes no value (got ${quote(value)})`);
      switch (name) {
        case 'time': result.table.time = true; break;
        case 'timestamp': result.table.timestamp = true; break;
        case 'wide': result.table.wide = true; break;
        case 'csv': result.table.csv = true; break;
        case 'json': result.json = true; break;
        case 'ipv4': result.filters.family = 4; break;
        case 'ipv6': result.filters.family = 6; break;
        case 'verbose': result.verbose = true; break;
      }
      continue;
    }

    // A string option: repeated list flags add up (-p 1 -p 2 is -p 1,2).
    switch (name) {
      case 'pid':
        for (const p of parsePidList(rawName, value)) pids.add(p);
        break;
      case 'localport':
        for (const p of parsePortList(rawName, value)) localPorts.add(p);
        break;
      case 'remoteport':
        for (const p of parsePortList(rawName, value)) remotePorts.add(p);
        break;
      case 'attach': {
        const mode = parseAttach(rawName, value);
        if (attachSeen !== undefined && attachSeen !== mode) {
          throw new UsageError(`${rawName}: given twice with different modes (${attachSeen} and ${mode}): choose one`);
        }
        attachSeen = mode;
        result.attach = mode;
        break;
      }
      case 'shutdown-timeout':
        result.shutdownTimeoutMs = parseBoundedInteger(rawName, value, SHUTDOWN_TIMEOUT_MAX_MS, SHUTDOWN_TIMEOUT_EXPECTED);
        break;
      case 'stats-interval':
        result.statsIntervalS = parseBoundedInteger(rawName, value, STATS_INTERVAL_MAX_S, STATS_INTERVAL_EXPECTED);
        break;
    }
  }

  if (seen.has('ipv4') && seen.has('ipv6')) {
    throw new UsageError(
      `${seen.get('ipv4')} and ${seen.get('ipv6')} cannot be used together: give one family, or neither for both`,
    );
  }
  if (seen.has('json')) {
    const j = seen.get('json');
    if (seen.has('csv')) {
      throw new UsageError(`${j} (JSON lines) and ${seen.get('csv')} (CSV) cannot be used together: choose one output format`);
    }
    if (seen.has('wide')) {
      throw new UsageError(
        `${j} (JSON lines) and ${seen.get('wide')} (wide table) cannot be used together: ` +
          `-w only widens the table's columns; JSON lines always carry full addresses`,
      );
    }
    for (const flag of ['time', 'timestamp'] as const) {
      if (seen.has(flag)) {
        throw new UsageError(
          `${j} (JSON lines) and ${seen.get(flag)} (${flag === 'time' ? 'HH:MM:SS' : 'seconds'} column) cannot be used together: ` +
            `each JSON line already carries its start and end as RFC 3339 UTC timestamps`,
        );
      }
    }
  }

  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  result.filters.pids = sorted(pids);
  result.filters.localPorts = sorted(localPorts);
  result.filters.remotePorts = sorted(remotePorts);
  return result;
}

type Token =
  | { kind: 'option'; name: string; rawName: string; value?: string }
  | { kind: 'positional'; value: string }
  | { kind: 'option-terminator' };

/** parseArgs, non-strict so that nothing is rejected with its own words. */
function tokenize(argv: string[]): Token[] {
  try {
    const { tokens } = parseArgs({ args: argv, options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
    return tokens as Token[];
  } catch {
    // Not expected in non-strict mode (only non-string arguments throw).
    throw new UsageError('could not read the command line: arguments must be plain strings');
  }
}

/** A whole number from 0 to max (the last value given wins). */
function parseBoundedInteger(flag: string, value: string | undefined, max: number, expected: string): number {
  if (value === undefined) throw new UsageError(`${flag}: missing value: ${expected}`);
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!(n <= max)) throw new UsageError(`${flag}: ${quote(value)} is not allowed: ${expected}${valueHint(value)}`);
  return n;
}

/** -p: comma-separated pids, each 1..PID_MAX. */
function parsePidList(flag: string, value: string | undefined): number[] {
  if (value === undefined) throw new UsageError(`${flag}: missing value: ${PID_EXPECTED}`);
  const bad = (detail = '') =>
    new UsageError(`${flag}: ${quote(value)} is not a PID list: ${PID_EXPECTED}${detail}${valueHint(value)}`);
  const out: number[] = [];
  for (const item of value.split(',')) {
    if (!/^[0-9]+$/.test(item)) throw bad();
    const pid = Number(item);
    if (pid < 1 || pid > PID_MAX) throw bad(` (${item} is out of range)`);
    out.push(pid);
  }
  return out;
}

/** -L/-D: comma-separated ports or low-high ranges, each 1..65535, expanded. */
function parsePortList(flag: string, value: string | undefined): number[] {
  if (value === undefined) throw new UsageError(`${flag}: missing value: ${PORT_EXPECTED}`);
  const bad = (detail = '') =>
    new UsageError(`${flag}: ${quote(value)} is not a port list: ${PORT_EXPECTED}${detail}${valueHint(value)}`);
  const port = (text: string): number => {
    const n = Number(text);
    if (n < 1 || n > 65535) throw bad(` (${text} is out of range)`);
    return n;
  };
  // A set: overlapping ranges cost nothing, and it never exceeds 65535 ports.
  const out = new Set<number>();
  for (const item of value.split(',')) {
    const m = /^([0-9]+)(?:-([0-9]+))?$/.exec(item);
    if (!m) throw bad();
    const low = port(m[1]);
    const high = m[2] === undefined ? low : port(m[2]);
    if (low > high) throw bad(` (range ${item} is reversed: low must not exceed high)`);
    if (out.size === 65535) continue; // all ports already: only validate the rest
    for (let p = low; p <= high; p++) out.add(p);
  }
  return [...out];
}

function parseAttach(flag: string, value: string | undefined): AttachMode {
  if (value === undefined) throw new UsageError(`${flag}: missing value: ${ATTACH_EXPECTED}`);
  const mode = ATTACH_MODES.find((m) => m === value);
  if (mode === undefined) {
    throw new UsageError(`${flag}: ${quote(value)} is not an attach mode: ${ATTACH_EXPECTED}${valueHint(value)}`);
  }
  return mode;
}
