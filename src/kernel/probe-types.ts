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
   * The PID namespace whose view of owners' PIDs sessions carry (their
   * `pid`); null: the host's. Default: the agent's own (see ownPidNamespace).
   */
  pidNamespace?: { dev: number; ino: number } | null;
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
   * Local address in one of these CIDRs: '127.0.0.0/8', '2001:db8::/32'; a
   * bare address is a single host. An IPv4 CIDR also matches the IPv4-mapped
   * addresses (::ffff:a.b.c.d) of IPv6 sockets. Host bits are ignored.
   */
  localCidrs: string[];
  /** Remote address, same as localCidrs. */
  remoteCidrs: string[];
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

export interface ProbeInfo {
  mechanism: 'tp_btf' | 'tracepoint';
  /** Whether sock_send_length/sock_recv_length give owners of accepted sockets. */
  ownerFromSocketIo: boolean;
  /** Milliseconds from open to attached. */
  attachMs: number;
  /**
   * Sessions open at start, found and given state right after attaching:
   * how many, or -1 with the reason when they could not be looked for
   * (they are then reported at close without owner or role).
   */
  openAtStart: { found: number; ms: number; reason?: undefined } | { found: -1; ms?: undefined; reason: string };
}

/** Kernel-side and reader-side counters since start. */
export interface ProbeCounters {
  sessionsEmitted: number;
  /** Sessions lost because the ring buffer was full. */
  ringbufFull: number;
  /** Sessions excluded by a kernel filter. */
  filtered: number;
  /** Sessions that closed with no state: started before the probe (reported as partial). */
  birthMissed: number;
  /** Sessions whose per-socket state could not be allocated (reported as partial). */
  storageFailed: number;
  /**
   * State changes the kernel did not show us because the program was already
   * running on that CPU (an interrupt nested in it): a session may be lost,
   * partial, or miss its handshake time.
   */
  recursionMisses: number;
  /** Owner checks skipped the same way: an owner may be found later or stay unknown. */
  ownerRecursionMisses: number;
  /** State changes made by an interrupt nested in the state-change program, handled by its twin. */
  nestedHandled: number;
  /** Records the reader saw with a wrong size (never expected). */
  malformed: number;
  /** Sessions handed to JavaScript. */
  delivered: number;
}
