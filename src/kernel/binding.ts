// Raw typings of the native addon (native/addon.cc). The friendly API is probe.ts.
import * as path from 'node:path';
import type { KernelFilters, ProbeCounters, ProbeInfo } from './probe-types';

export interface FieldLayout {
  offset: number;
  size: number;
}

export interface WireLayout {
  size: number;
  fields: Record<string, FieldLayout>;
  constants: Record<string, number>;
}

export interface NativeProgramStats {
  name: string;
  runCount: number;
  runTimeNs: number;
  recursionMisses: number;
}

/** What the addon reports beyond ProbeCounters: poll wakeups and each program's stats. */
export interface NativeCounters extends ProbeCounters {
  wakeups: number;
  programs: NativeProgramStats[];
}

export interface NativeProbe {
  /** onBatch gets one shared buffer holding `count` records; it is reused after the call returns. */
  start(filters: KernelFilters, onBatch: (records: Buffer, count: number) => void): ProbeInfo;
  setFilters(filters: KernelFilters): void;
  drain(): number;
  counters(): NativeCounters;
  stop(): void;
}

export interface NativeProbeOptions {
  attach?: string;
  ringBytes?: number;
  wakeupBytes?: number;
  drainIntervalMs?: number;
  ownerFromSocketIo?: boolean;
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
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      addon = require(file) as NativeAddon;
    } catch (err) {
      throw new Error(`cannot load the native addon ${file} (${(err as Error).message.split('\n')[0]}): build it with scripts/setup`);
    }
  }
  return addon;
}
