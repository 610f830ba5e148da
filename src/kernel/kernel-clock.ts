import type { WallTime } from '../sessions/tcp-session';

/** A reading of both clocks at one moment (from the addon, as BigInt ns). */
export interface ClockReading {
  bootNs: bigint;
  realtimeNs: bigint;
}

const NS_PER_S = 1e9;
const TWO_POW_32_S = 4; // 2^32 ns = 4 s + 294,967,296 ns
const TWO_POW_32_REM = 294_967_296;

/**
 * A kernel u64 nanosecond count, given as its two u32 halves, split into
 * [seconds, nanoseconds] without BigInt (the hot path allocates nothing).
 * Exact while hi * 294,967,296 stays below 2^53, i.e. for 4 years of uptime.
 */
export function splitNs(hi: number, lo: number): WallTime {
  const rest = hi * TWO_POW_32_REM + lo;
  const restSec = Math.floor(rest / NS_PER_S);
  return [hi * TWO_POW_32_S + restSec, rest - restSec * NS_PER_S];
}

/** b - a in nanoseconds. */
export function diffNs(a: WallTime, b: WallTime): number {
  return (b[0] - a[0]) * NS_PER_S + (b[1] - a[1]);
}

/**
 * Converts the kernel's CLOCK_BOOTTIME (bpf_ktime_get_boot_ns) to wall-clock
 * time with an offset measured at start. refresh() re-measures it so that
 * NTP steps and slewing reach the output.
 */
export class KernelClock {
  private offsetSec = 0;
  private offsetNs = 0;

  constructor(private readonly read: () => ClockReading) {
    this.refresh();
  }

  refresh(): void {
    const r = this.read();
    const offset = r.realtimeNs - r.bootNs;
    this.offsetSec = Number(offset / 1_000_000_000n);
    this.offsetNs = Number(offset % 1_000_000_000n);
    if (this.offsetNs < 0) {
      this.offsetNs += NS_PER_S;
      this.offsetSec -= 1;
    }
  }

  /** Boot time, already split by splitNs, to wall-clock time. */
  toWall(boot: WallTime): WallTime {
    let sec = boot[0] + this.offsetSec;
    let ns = boot[1] + this.offsetNs;
    if (ns >= NS_PER_S) {
      ns -= NS_PER_S;
      sec += 1;
    }
    return [sec, ns];
  }
}
