// The friendly probe: kernel batches in, TcpSession arrays out.
import { loadAddon, type NativeError, type NativeProbe } from './binding';
import { encodeKernelFilters } from './kernel-filters';
import type { KernelFilters, OpenAtStart, ProbeCounters, ProbeInfo, ProbeOptions } from './probe-types';
import { decodeSessions } from './decode';
import { EVENT_SIZE } from './wire';
import { KernelClock } from './kernel-clock';
import type { TcpSession } from '../sessions/tcp-session';
import { KERNEL_COUNTERS } from '../sessions/counters';

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

/** An addon error with a stage becomes a ProbeError; a TypeError/RangeError stays as it is. */
function fromNative(err: unknown): unknown {
  const e = err as NativeError;
  if (e && typeof e.stage === 'string') return new ProbeError(e.message, e.code, e.stage, e.libbpfLog);
  return err;
}

/** How often the boot-to-wall clock offset is re-measured. */
const CLOCK_REFRESH_MS = 60_000;
/** Sessions per onSessions call (see start()). */
const DELIVERY_SLICE = 256;

export class SessionProbe {
  private readonly native: NativeProbe;
  private readonly clock: KernelClock;
  private clockTimer?: NodeJS.Timeout;
  private started = false;

  constructor(options: ProbeOptions = {}) {
    const addon = loadAddon();
    this.native = new addon.Probe(options);
    this.clock = new KernelClock(() => addon.clocks());
  }

  /**
   * Loads the kernel program, puts `filters` in force, then attaches it (no
   * session is judged without them); sessions then arrive in batches.
   * Malformed filters throw before anything is loaded.
   */
  start(filters: KernelFilters, onSessions: (batch: TcpSession[]) => void): ProbeInfo {
    if (this.started) throw new Error('probe already started');
    const encoded = encodeKernelFilters(filters);
    let info: Omit<ProbeInfo, 'openAtStart'>;
    try {
      info = this.native.start(encoded, (records, count) => {
        // Decoded and handed on in slices: the sessions of a slice (and
        // whatever the sinks make of them) die young, in V8's nursery. A
        // whole 4,096-record batch alive at once outgrew it, and copying
        // the survivors into the old generation cost more than the work.
        for (let first = 0; first < count; first += DELIVERY_SLICE) {
          const n = Math.min(DELIVERY_SLICE, count - first);
          onSessions(decodeSessions(records.subarray(first * EVENT_SIZE), n, this.clock));
        }
      });
    } catch (err) {
      throw fromNative(err);
    }
    this.started = true;
    const openAtStart = this.findOpenSessions();
    this.clockTimer = setInterval(() => this.clock.refresh(), CLOCK_REFRESH_MS);
    this.clockTimer.unref();
    return { ...info, openAtStart };
  }

  /** Sessions open now (before the probe) get state and owner: see ProbeInfo.openAtStart. */
  private findOpenSessions(): OpenAtStart {
    try {
      return this.native.findOpenSessions();
    } catch (err) {
      return { found: -1, reason: (err as Error).message };
    }
  }

  /**
   * Replaces the kernel filters while running, without detaching (returns
   * the new filter generation): sessions
   * in flight keep their state, and each session closing meanwhile is judged
   * entirely by the old filters or entirely by the new ones. Returns once no
   * session can be judged by the old ones any more (an RCU grace period,
   * milliseconds). Malformed filters throw and leave the old ones in force.
   */
  setFilters(filters: KernelFilters): number {
    if (!this.started) throw new Error('probe not started');
    const encoded = encodeKernelFilters(filters);
    try {
      this.native.setFilters(encoded);
    } catch (err) {
      throw fromNative(err);
    }
    return this.native.filterGeneration();
  }

  /**
   * The kernel filter generation in force (0 or 1). Every session carries
   * the generation that admitted it (TcpSession.filterGeneration), so user
   * space can judge it by the filters of the same configuration.
   */
  filterGeneration(): number {
    if (!this.started) throw new Error('probe not started');
    return this.native.filterGeneration();
  }

  /** Delivers everything the kernel has queued, now. */
  drain(): void {
    this.native.drain();
  }

  counters(): ProbeCounters {
    const { kernel, ...rest } = this.native.counters();
    const out = { ...rest } as ProbeCounters;
    for (const { name, index } of KERNEL_COUNTERS) out[name] = kernel[index] ?? 0;
    return out;
  }

  /** Drains, detaches and unloads; safe to call more than once. */
  stop(): void {
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.clockTimer = undefined;
    this.native.stop();
    this.started = false;
  }
}
