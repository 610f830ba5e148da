// Raw typings of the native addon (native/addon.cc). The friendly API is probe.ts.
import * as path from 'node:path';
import type { KernelCounterName, ProbeCounterName } from '../sessions/counters';
import type { OpenAtStart, ProbeInfo, ProgramStats } from './probe-types';

export interface FieldLayout {
  offset: number;
  size: number;
}

export interface WireLayout {
  size: number;
  fields: Record<string, FieldLayout>;
  constants: Record<string, number>;
}

/** The addon's counters: the kernel's by their slot in the counters map, the rest by name. */
export type NativeCounters = Record<Exclude<ProbeCounterName, KernelCounterName>, number> & {
  kernel: number[];
  programs: ProgramStats[];
};

/**
 * KernelFilters as the addon takes them (see kernel-filters.ts): CIDRs are
 * binary, 17 bytes each (prefix length in IPv6 space, then the IPv6 or
 * IPv4-mapped address). A missing list is no restriction.
 */
export interface NativeFilters {
  pids?: number[];
  excludePids?: number[];
  localPorts?: number[];
  remotePorts?: number[];
  family?: 0 | 4 | 6;
  localCidrs?: Uint8Array;
  remoteCidrs?: Uint8Array;
  netns?: number[];
  cgroupIds?: number[];
}

export interface NativeProbe {
  /** onBatch gets one shared buffer holding `count` records; it is reused after the call returns. */
  start(filters: NativeFilters, onBatch: (records: Buffer, count: number) => void): Omit<ProbeInfo, 'openAtStart'>;
  /** Atomic: a session closing meanwhile is judged by the old filters or by the new ones. */
  setFilters(filters: NativeFilters): void;
  /** The filter generation in force (0 or 1): stamped on the records it admits. */
  filterGeneration(): number;
  drain(): number;
  counters(): NativeCounters;
  /** Gives the TCP sessions open now state, role and owner (found: -1 when the open-sessions part is off). */
  findOpenSessions(): OpenAtStart;
  stop(): void;
}

export interface NativeProbeOptions {
  attach?: string;
  ringBytes?: number;
  wakeupBytes?: number;
  drainIntervalMs?: number;
  ownerFromSocketIo?: boolean;
  findOpenSessions?: boolean;
  rejectParts?: string[];
  /** {dev, ino} of a PID namespace (nsfs stat); absent: the host's. */
  pidNamespace?: { dev: number; ino: number };
}

export interface NativeAddon {
  Probe: new (options?: NativeProbeOptions) => NativeProbe;
  layout(): WireLayout;
  clocks(): { bootNs: bigint; realtimeNs: bigint };
}

/** Errors thrown by the addon carry the errno, its name and the failing stage. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  stage: string;
  libbpfLog: string;
}

let addon: NativeAddon | undefined;

/** Loads build/Release/tcplife.node once (dist/src/kernel -> repository root). */
export function loadAddon(): NativeAddon {
  if (!addon) {
    const root = path.resolve(__dirname, '..', '..', '..');
    const file = path.join(root, 'build', 'Release', 'tcplife.node');
    try {
      // A .node file at a path known only at run time: require() is how Node loads it.
      addon = require(file) as NativeAddon;
    } catch (err) {
      throw new Error(`cannot load the native addon ${file} (${(err as Error).message.split('\n')[0]}): build it with scripts/setup`);
    }
  }
  return addon;
}
