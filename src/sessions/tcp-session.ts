/** Wall-clock time as OpenTelemetry keeps it: [seconds since the epoch, nanoseconds]. */
export type WallTime = [seconds: number, nanos: number];

/** Who opened the session: this host (client), the peer (server), or not seen. */
export type Role = 'client' | 'server' | 'unknown';

interface OutcomeSpec {
  readonly meaning: string;
  /** Set for failures (span status ERROR): the status message. */
  readonly failure?: string;
  /** Which end ended an established session: its FIN or its RST came first. */
  readonly closedBy?: 'local' | 'peer';
  readonly reset?: true;
}

/**
 * How a session ends, from the TCP state before CLOSE and the socket error
 * (sessions/tcp-state.ts): the one table of outcomes. The filters' names and
 * groups (config/schema.ts), the span's status and closed_by
 * (telemetry/session-to-span.ts) are derived from it.
 */
export const OUTCOME_TABLE = {
  refused: { meaning: 'connect answered by a RST', failure: 'connection refused' },
  timeout: { meaning: 'no answer: connect or retransmissions timed out', failure: 'connection timed out' },
  connect_failed: { meaning: 'connect failed otherwise (unreachable, aborted)', failure: 'connect failed' },
  handshake_aborted: { meaning: 'an accepted socket died before ESTABLISHED', failure: 'handshake aborted' },
  reset_by_peer: { meaning: 'the peer sent a RST', failure: 'connection reset by peer', closedBy: 'peer', reset: true },
  reset_locally: {
    meaning: 'this side aborted (SO_LINGER 0, close with unread data)',
    failure: 'connection reset locally',
    closedBy: 'local',
    reset: true,
  },
  closed_by_peer: { meaning: "orderly close, the peer's FIN came first", closedBy: 'peer' },
  closed_locally: { meaning: "orderly close, this side's FIN went first", closedBy: 'local' },
} as const satisfies Record<string, OutcomeSpec>;

export type Outcome = keyof typeof OUTCOME_TABLE;

export const OUTCOMES = Object.keys(OUTCOME_TABLE) as Outcome[];

/** The table's entry for one outcome. */
export const outcomeSpec = (o: Outcome): OutcomeSpec => OUTCOME_TABLE[o];

/** Outcomes a user treats as failures: they become span errors. */
export const FAILED_OUTCOMES: ReadonlySet<Outcome> = new Set(OUTCOMES.filter((o) => outcomeSpec(o).failure !== undefined));

/** The names a filter may use for several outcomes at once. */
export const OUTCOME_GROUPS: Readonly<Record<'failed' | 'reset' | 'ok', readonly Outcome[]>> = {
  failed: OUTCOMES.filter((o) => FAILED_OUTCOMES.has(o)),
  reset: OUTCOMES.filter((o) => outcomeSpec(o).reset),
  ok: OUTCOMES.filter((o) => !FAILED_OUTCOMES.has(o)),
};

/** Where the owner came from; 'none' means pid 0 and an empty comm. */
export type OwnerSource = 'none' | 'connect' | 'socket_io' | 'close' | 'found';

/** One TCP session from birth (or first sight) to close. */
export interface TcpSession {
  /** 4 or 6. IPv4-mapped IPv6 sockets are 6, with ::ffff:a.b.c.d addresses. */
  family: 4 | 6;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  role: Role;
  /**
   * Owner's process id as the agent's PID namespace sees it (in a pod that
   * shares its PID namespace: the pod's view); 0 when unknown or when the
   * owner is outside that namespace.
   */
  pid: number;
  /** Owner's thread id, in the same namespace as pid; 0 when unknown. */
  tid: number;
  /** Owner's process id in the initial (host) PID namespace; 0 when unknown. */
  hostPid: number;
  /** Owner's command name (kernel comm, at most 15 bytes); '' when unknown. */
  comm: string;
  ownerSource: OwnerSource;
  /** cgroup v2 id of the owner when known, else 0. */
  cgroupId: number;
  /** The owner's container (64 hex digits), when its cgroup names one. */
  containerId?: string;
  /** The owner's cgroup v2 path, as /proc/PID/cgroup gives it, when it could be read. */
  cgroupPath?: string;
  /** Network namespace inode. */
  netns: number;
  /** The kernel filter generation (0 or 1) that admitted the session. */
  filterGeneration: number;
  /** Birth: first state seen (SYN_SENT or SYN_RECV). Undefined when not observed. */
  startTime?: WallTime;
  /**
   * Sessions open when the agent started (found then, birth unseen: partial):
   * when they were found. Their role and owner come from that moment.
   */
  foundAt?: WallTime;
  /** Close. */
  endTime: WallTime;
  /** Birth to close in ns; undefined when the birth was not observed. */
  durationNs?: number;
  /** Birth to ESTABLISHED in ns; undefined when never established or birth not observed. */
  handshakeNs?: number;
  /** Payload bytes sent and acknowledged by the peer (SYN and FIN excluded). */
  bytesSent: number;
  /** Payload bytes received (the peer's FIN excluded). */
  bytesReceived: number;
  /** The kernel's counters as they were: sequence space, SYN/FIN included. */
  bytesAckedRaw: number;
  bytesReceivedRaw: number;
  /** Name of the TCP state before CLOSE, e.g. 'FIN_WAIT2'. */
  stateBeforeClose: string;
  outcome: Outcome;
  /** Socket error at close as an errno name ('ECONNREFUSED'), or undefined. */
  error?: string;
  /** The socket cookie (unique for the boot), 0 with the classic tracepoint. */
  cookie: number;
  /** Smoothed RTT at close, whole µs (tcp_info's rtt); undefined without an RTT sample. */
  rttUs?: number;
  /** RTT mean deviation at close, µs (tcp_info's rttvar); undefined without an RTT sample. */
  rttVarUs?: number;
  /** Segments retransmitted, and their bytes. */
  retransSegments: number;
  retransBytes: number;
  /** Segments received and sent, retransmissions and pure ACKs included (tcp_info's segs_in/segs_out). */
  segmentsIn: number;
  segmentsOut: number;
  /** snd_una and rcv_nxt at close (u32): with the raw byte counts they give both ISNs. */
  sndUna: number;
  rcvNxt: number;
  /** Kernel CLOCK_BOOTTIME at close, ns (a double: for ordering, not arithmetic). */
  endBootNs: number;
}
