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
}

/** Filters decided in the kernel; an empty list means "any". AND across kinds, OR within one. */
export interface KernelFilters {
  pids: number[];
  localPorts: number[];
  remotePorts: number[];
  /** 0: any family. */
  family: 0 | 4 | 6;
}

export const NO_KERNEL_FILTERS: KernelFilters = { pids: [], localPorts: [], remotePorts: [], family: 0 };

export interface ProbeInfo {
  mechanism: 'tp_btf' | 'tracepoint';
  /** Whether sock_send_length/sock_recv_length give owners of accepted sockets. */
  ownerFromSocketIo: boolean;
  /** Milliseconds from open to attached. */
  attachMs: number;
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
