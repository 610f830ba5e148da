// The friendly probe: kernel batches in, TcpSession arrays out.
import { loadAddon, type NativeCounters, type NativeError, type NativeProbe } from './binding';
import type { KernelFilters, ProbeInfo, ProbeOptions } from './probe-types';
import { decodeSessions } from '../sessions/decode';
import { KernelClock } from '../sessions/kernel-clock';
import type { TcpSession } from '../sessions/tcp-session';

/** A failure to load or attach the kernel program, with a message that names the fix. */
export class ProbeError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly stage: string,
    readonly libbpfLog = '',
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

/** How often the boot-to-wall clock offset is re-measured. */
const CLOCK_REFRESH_MS = 60_000;

export class SessionProbe {
  private readonly native: NativeProbe;
  private readonly clock: KernelClock;
  private clockTimer?: NodeJS.Timeout;
  private started = false;

  constructor(options: ProbeOptions = {}) {
    const addon = loadAddon();
    this.native = new addon.Probe({ ...options });
    this.clock = new KernelClock(() => addon.clocks());
  }

  /** Loads and attaches the kernel program; sessions then arrive in batches. */
  start(filters: KernelFilters, onSessions: (batch: TcpSession[]) => void): ProbeInfo {
    if (this.started) throw new Error('probe already started');
    let info: ProbeInfo;
    try {
      info = this.native.start(filters, (records, count) => {
        onSessions(decodeSessions(records, count, this.clock));
      });
    } catch (err) {
      const e = err as NativeError;
      if (e && typeof e.stage === 'string') throw new ProbeError(e.message, e.code, e.stage, e.libbpfLog);
      throw err;
    }
    this.started = true;
    this.clockTimer = setInterval(() => this.clock.refresh(), CLOCK_REFRESH_MS);
    this.clockTimer.unref();
    return info;
  }

  /** Replaces the kernel filters; sessions in flight keep their state. */
  setFilters(filters: KernelFilters): void {
    this.native.setFilters(filters);
  }

  /** Delivers everything the kernel has queued, now. */
  drain(): void {
    this.native.drain();
  }

  counters(): NativeCounters {
    return this.native.counters();
  }

  /** Drains, detaches and unloads; safe to call more than once. */
  stop(): void {
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.clockTimer = undefined;
    this.native.stop();
    this.started = false;
  }
}
