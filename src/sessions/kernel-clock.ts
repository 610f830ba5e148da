import type { WallTime } from './tcp-session';

/** A reading of both clocks at one moment. */
export interface ClockReading {
  bootNs: bigint;
  realtimeNs: bigint;
}

const NS_PER_S = 1_000_000_000n;

/**
 * Converts the kernel's CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) to wall-clock
 * time with an offset measured at start. refresh() re-measures it so that
 * NTP steps and slewing reach the spans.
 */
export class KernelClock {
  private offsetNs: bigint;

  constructor(private readonly read: () => ClockReading) {
    this.offsetNs = this.measure();
  }

  refresh(): void {
    this.offsetNs = this.measure();
  }

  toWall(bootNs: bigint): WallTime {
    const wall = bootNs + this.offsetNs;
    return [Number(wall / NS_PER_S), Number(wall % NS_PER_S)];
  }

  private measure(): bigint {
    const r = this.read();
    return r.realtimeNs - r.bootNs;
  }
}
