/**
 * A SessionProbe that collects every session it delivers, with bounded
 * waits for the sessions a test provoked.
 *
 * The probe module is required lazily, inside start(): if the addon is
 * missing or the kernel refuses the program, the error surfaces in the test
 * that needs the probe (a failure), never as a load-time crash of the run
 * or a skipped test.
 */
import { NO_KERNEL_FILTERS, type KernelFilters, type ProbeCounters, type ProbeInfo, type ProbeOptions } from '../../src/kernel/probe-types';
import type { SessionProbe } from '../../src/kernel/probe';
import type { TcpSession } from '../../src/sessions/tcp-session';

export const ANY: KernelFilters = NO_KERNEL_FILTERS;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class SessionCollector {
  readonly sessions: TcpSession[] = [];
  info?: ProbeInfo;
  private probe?: SessionProbe;
  private startError?: unknown;

  constructor(private readonly options: ProbeOptions = {}) {}

  /** Starts the probe; never throws (the error is rethrown by every later use). */
  start(filters: KernelFilters = ANY): void {
    try {
      // Loaded here, so that a missing addon fails this test, not the import of the file.
      const { SessionProbe: Probe } = require('../../src/kernel/probe') as typeof import('../../src/kernel/probe');
      const probe = new Probe(this.options);
      this.info = probe.start(filters, (batch) => {
        for (const s of batch) this.sessions.push(s);
      });
      this.probe = probe;
    } catch (err) {
      this.startError = err;
    }
  }

  /** Throws (failing the test) unless the probe runs. */
  assertStarted(): void {
    void this.running;
  }

  /** The running probe, or the reason it could not start (makes the test fail). */
  get running(): SessionProbe {
    if (this.probe) return this.probe;
    const e = this.startError as { message?: string; code?: string; stage?: string } | undefined;
    const detail = e ? `${e.message ?? String(e)}${e.code ? ` (code ${e.code}, stage ${e.stage})` : ''}` : 'start() not called';
    throw new Error(`the probe could not be started: ${detail}`);
  }

  setFilters(filters: KernelFilters): void {
    this.running.setFilters(filters);
  }

  counters(): ProbeCounters {
    return this.running.counters();
  }

  stop(): void {
    this.probe?.stop();
    this.probe = undefined;
  }

  /** Sessions seen so far that match. */
  find(match: (s: TcpSession) => boolean): TcpSession[] {
    this.running.drain();
    return this.sessions.filter(match);
  }

  /**
   * Waits until `count` sessions match (draining the ring on each poll) and
   * returns them; fails after `timeoutMs` listing what was seen instead.
   */
  async waitFor(match: (s: TcpSession) => boolean, count: number, what: string, timeoutMs = 3_000): Promise<TcpSession[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.find(match);
      if (found.length >= count) {
        // One more drain catches a duplicate, if the probe ever produced one.
        await sleep(20);
        return this.find(match);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${count} session(s): ${what}; ` +
            `found ${found.length}; last sessions seen: ${this.sessions.slice(-6).map(sessionSummary).join(' | ') || 'none'}`,
        );
      }
      await sleep(10);
    }
  }

  /** Waits until counters().sessions_filtered reaches `atLeast`, then a little longer (bounded). */
  async waitForFiltered(atLeast: number, timeoutMs = 3_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const filtered = this.counters().sessions_filtered;
      if (filtered >= atLeast) {
        await sleep(50);
        this.running.drain();
        return this.counters().sessions_filtered;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms: counters().sessions_filtered is ${filtered}, expected at least ${atLeast}`);
      }
      await sleep(10);
    }
  }
}

/** The session with these local/remote ports (one end of one connection). */
export function byPorts(localPort: number, remotePort: number): (s: TcpSession) => boolean {
  return (s) => s.localPort === localPort && s.remotePort === remotePort;
}

export function sessionSummary(s: TcpSession): string {
  return (
    `${s.role} ${s.pid}/${s.comm} [${s.localAddress}]:${s.localPort}->[${s.remoteAddress}]:${s.remotePort} ` +
    `${s.outcome}${s.error ? `(${s.error})` : ''} tx=${s.bytesSent} rx=${s.bytesReceived} before=${s.stateBeforeClose}`
  );
}

/** WallTime to milliseconds since the epoch. */
export function wallMs(t: [number, number] | undefined): number {
  if (!t) return NaN;
  return t[0] * 1000 + t[1] / 1e6;
}
