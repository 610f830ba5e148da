import type { Cidr } from '../sessions/cidr';
import type { ProbeCounterName } from '../sessions/counters';

/** How the kernel program attaches: BTF tracepoint, classic tracepoint, or the best available. */
export type AttachMode = 'auto' | 'tp_btf' | 'tracepoint';

export interface ProbeOptions {
  attach?: AttachMode;
  /** Ring buffer size in bytes (power of two, at least one page). Default 8 MiB. */
  ringBytes?: number;
  /** Queued bytes at which the kernel wakes the reader early. Default 64 KiB. */
  wakeupBytes?: number;
  /** The reader's timer drain period. Default 50 ms. */
  drainIntervalMs?: number;
  /** Take the owner of accepted sockets from their first sendmsg/recvmsg. Default true. */
  ownerFromSocketIo?: boolean;
  /** Find the sessions open at start, right after attaching (ProbeInfo.openAtStart). Default true. */
  findOpenSessions?: boolean;
  /**
   * Tests only: parts of the kernel program (KERNEL_PARTS, or 'core') that
   * get a deliberate verifier error, to show that each fails alone.
   */
  rejectParts?: ('core' | KernelPartName)[];
  /**
   * The PID namespace whose view of owners' PIDs sessions carry (their
   * `pid`); absent: the host's. The command line passes the agent's own.
   */
  pidNamespace?: { dev: number; ino: number };
}

/**
 * Filters decided in the kernel when a session closes; an empty (or absent)
 * list means "any". AND across kinds, OR within one.
 *
 * The kinds added after the first four are optional so that callers written
 * before them still compile; absent means [].
 */
export interface KernelFilters {
  /** Owner tgid in this list (an unknown owner matches none). */
  pids: number[];
  /** Owner tgid not in this list (an unknown owner is never excluded). */
  excludePids: number[];
  localPorts: number[];
  remotePorts: number[];
  /** 0: any family. An IPv6 socket counts as 6, even with IPv4-mapped addresses. */
  family: 0 | 4 | 6;
  /**
   * Local address in one of these networks, parsed (sessions/cidr.ts) or as
   * text: '127.0.0.0/8', '2001:db8::/32'; a bare address is a single host.
   * An IPv4 CIDR also matches the IPv4-mapped addresses (::ffff:a.b.c.d) of
   * IPv6 sockets. Host bits are ignored.
   */
  localCidrs: ReadonlyArray<string | Cidr>;
  /** Remote address, same as localCidrs. */
  remoteCidrs: ReadonlyArray<string | Cidr>;
  /** Network namespace inodes (`stat -L -c %i /proc/PID/ns/net`). */
  netns: number[];
  /**
   * cgroup v2 ids (the inode of the cgroup's directory): the socket's cgroup
   * (where the process that created it was; an accepted socket has its
   * listener's) is one of these or below one of them, up to 31 levels below.
   */
  cgroupIds: number[];
}

export const NO_KERNEL_FILTERS: KernelFilters = {
  pids: [],
  excludePids: [],
  localPorts: [],
  remotePorts: [],
  family: 0,
  localCidrs: [],
  remoteCidrs: [],
  netns: [],
  cgroupIds: [],
};

/**
 * The optional parts of the kernel program, each loaded alone beside the
 * core (the state-change program, its filters and the ring buffer): a kernel
 * that refuses one turns off that part only.
 */
export const KERNEL_PARTS = {
  'nested-state-changes': {
    what: 'state changes nested in an interrupt (set_state_nested)',
    without: 'such a state change is skipped, counted as skipped_state_changes',
  },
  'owners-from-io': {
    what: 'owners of accepted sockets from their first send/recv (tp_btf sock_send_length, sock_recv_length)',
    without: 'an accepted socket gets its owner from close(), or none',
  },
  'open-sessions': {
    what: 'sessions open at start (iter/task_file, iter/tcp)',
    without: 'they are reported when they close, as partial, without role and with the owner close() shows',
  },
} as const;
export type KernelPartName = keyof typeof KERNEL_PARTS;

export interface KernelPart {
  name: KernelPartName;
  on: boolean;
  /** Why it is off: the step, then the verifier's last words or libbpf's. */
  reason?: string;
  /** The whole libbpf and verifier log of the failure (for --verbose). */
  log?: string;
}

export interface ProbeInfo {
  mechanism: 'tp_btf' | 'tracepoint';
  /** Why tp_btf was refused when attach 'auto' fell back to the classic tracepoint. */
  tpBtfRefused?: string;
  /** Every optional part, on or off. */
  parts: KernelPart[];
  /** Milliseconds from open to attached. */
  attachMs: number;
  /**
   * Sessions open at start, found and given state right after attaching:
   * how many, or -1 with the reason when they could not be looked for
   * (they are then reported at close without owner or role).
   */
  openAtStart: OpenAtStart;
}

export type OpenAtStart =
  | {
      found: number;
      ms: number;
      /** Network namespaces walked, and those that could not be entered (with why). */
      namespaces: number;
      namespacesMissed: number;
      missedReason?: string;
      /** Sessions found without their owner: no room to note it. */
      ownersDropped: number;
      reason?: undefined;
    }
  | { found: -1; ms?: undefined; reason: string };

export function partOn(info: ProbeInfo, name: KernelPartName): boolean {
  return info.parts.some((p) => p.name === name && p.on);
}

/** Kernel-side and reader-side counters since start (see sessions/counters.ts), with each program's run statistics. */
export type ProbeCounters = Record<ProbeCounterName, number> & { programs: ProgramStats[] };

export interface ProgramStats {
  name: string;
  runCount: number;
  runTimeNs: number;
  recursionMisses: number;
}
