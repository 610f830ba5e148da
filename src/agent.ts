// Wires the probe to the sinks. Start and stop run in mirror order.
import type { OwnerCgroups } from './container/container-ids';
import type { SessionProbe } from './kernel/probe';
import type { KernelFilters, ProbeInfo } from './kernel/probe-types';
import type { SessionFilter } from './sessions/session-filter';
import type { SessionSink } from './sessions/session-sink';
import type { TcpSession } from './sessions/tcp-session';

export interface AgentCounters {
  /** Sessions that reached user space. */
  sessions_seen: number;
  /** Kernel: excluded by a filter. */
  sessions_filtered: number;
  /** Reached user space, then excluded by a filter decided there (process name, role, outcome, duration, bytes). */
  sessions_filtered_userspace: number;
  /** Kernel: lost because the ring buffer was full. */
  lost_ringbuf_full: number;
  /** Kernel: state changes skipped by recursion protection (a session may be lost or partial). */
  skipped_state_changes: number;
  /** Kernel: state changes made in an interrupt nested in the program, caught by its twin. */
  nested_state_changes: number;
  /** Kernel: owner checks skipped by recursion protection (an owner may stay unknown). */
  skipped_owner_checks: number;
  /** Kernel: per-socket state could not be allocated (session reported as partial). */
  state_alloc_failed: number;
  /** Sessions whose birth was not observed (they opened before the probe). */
  sessions_partial: number;
  /** Records of the wrong size, dropped by the reader (a kernel/addon mismatch; never expected). */
  malformed_records: number;
  [sinkCounter: string]: number;
}

export class Agent {
  private seen = 0;
  private filteredInUserspace = 0;
  private stopped = false;
  /**
   * The user-space filter of each kernel filter generation: a session is
   * judged by the one of the configuration that admitted it in the kernel,
   * so a reload never judges a session by a mix of two configurations.
   */
  private readonly sessionFilters: Array<SessionFilter | undefined> = [undefined, undefined];

  constructor(
    private readonly probe: SessionProbe,
    private readonly initialFilters: KernelFilters,
    private readonly sinks: readonly SessionSink[],
    private readonly initialSessionFilter?: SessionFilter,
    /** Sets each wanted session's cgroup path and container id, before the sinks see it. */
    private readonly cgroups?: OwnerCgroups,
  ) {}

  start(): ProbeInfo {
    const info = this.probe.start(this.initialFilters, (batch) => this.onSessions(batch));
    this.sessionFilters[this.probe.filterGeneration()] = this.initialSessionFilter;
    // Sessions arrive from the event loop, never during start(): opening the
    // sinks now keeps a failed start from printing a header.
    for (const sink of this.sinks) sink.open();
    return info;
  }

  /**
   * Switches both filter stages while running (SIGHUP), without a restart:
   * each session is judged, in the kernel and here, by the configuration in
   * force when it closed. What the kernel queued under the old generation is
   * delivered first, so that its slot can be reused for the new one.
   */
  setFilters(filters: KernelFilters, sessionFilter?: SessionFilter): void {
    this.probe.drain();
    const generation = this.probe.setFilters(filters);
    this.sessionFilters[generation] = sessionFilter;
  }

  private onSessions(batch: TcpSession[]): void {
    this.seen += batch.length;
    const [f0, f1] = this.sessionFilters;
    const wanted =
      f0 || f1
        ? batch.filter((s) => {
            const keep = s.filterGeneration ? f1 : f0;
            return !keep || keep(s);
          })
        : batch;
    this.filteredInUserspace += batch.length - wanted.length;
    if (wanted.length === 0) return;
    this.cgroups?.annotate(wanted);
    for (const sink of this.sinks) sink.write(wanted);
  }

  /**
   * Drains and detaches the kernel program, then gives the sinks timeoutMs to
   * deliver what is pending; returns the final counters. Safe to call twice.
   */
  async stop(timeoutMs: number): Promise<AgentCounters> {
    if (!this.stopped) {
      this.stopped = true;
      this.probe.stop();
      await Promise.all(this.sinks.map((sink) => sink.close(timeoutMs)));
    }
    return this.counters();
  }

  counters(): AgentCounters {
    const k = this.probe.counters();
    const out: AgentCounters = {
      sessions_seen: this.seen,
      sessions_filtered: k.filtered,
      sessions_filtered_userspace: this.filteredInUserspace,
      lost_ringbuf_full: k.ringbufFull,
      skipped_state_changes: k.recursionMisses,
      nested_state_changes: k.nestedHandled,
      skipped_owner_checks: k.ownerRecursionMisses,
      state_alloc_failed: k.storageFailed,
      sessions_partial: k.birthMissed,
      malformed_records: k.malformed,
    };
    if (this.cgroups) Object.assign(out, this.cgroups.counters());
    for (const sink of this.sinks) Object.assign(out, sink.counters());
    return out;
  }
}
