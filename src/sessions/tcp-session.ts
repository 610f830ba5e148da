/** Wall-clock time as OpenTelemetry keeps it: [seconds since the epoch, nanoseconds]. */
export type WallTime = [seconds: number, nanos: number];

/** Who opened the session: this host (client), the peer (server), or not seen. */
export type Role = 'client' | 'server' | 'unknown';

/**
 * How the session ended, from the TCP state before CLOSE and the socket error.
 * - refused: connect answered by a RST
 * - timeout: no answer (connect or retransmissions timed out)
 * - connect_failed: connect failed otherwise (unreachable, aborted)
 * - handshake_aborted: an accepted socket died before ESTABLISHED
 * - reset_by_peer: the peer sent a RST
 * - reset_locally: this side aborted (SO_LINGER 0, close with unread data)
 * - closed_by_peer: orderly close, the peer's FIN came first
 * - closed_locally: orderly close, this side's FIN went first
 */
export const OUTCOMES = [
  'refused',
  'timeout',
  'connect_failed',
  'handshake_aborted',
  'reset_by_peer',
  'reset_locally',
  'closed_by_peer',
  'closed_locally',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** Outcomes a user treats as failures: they become span errors. */
export const FAILED_OUTCOMES: ReadonlySet<Outcome> = new Set<Outcome>([
  'refused',
  'timeout',
  'connect_failed',
  'handshake_aborted',
  'reset_by_peer',
  'reset_locally',
]);

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
