// Wires the probe to the sinks. Start and stop run in mirror order.
import type { OwnerCgroups } from './container/container-ids';
import type { SessionProbe } from './kernel/probe';
import type { KernelFilters, ProbeInfo } from './kernel/probe-types';
import type { SessionFilter } from './sessions/session-filter';
import type { SessionSink } from './sessions/session-sink';
import type { TcpSession } from './sessions/tcp-session';
import { COUNTERS, type CounterName, type CounterSpec, type CounterValues, type ProbeCounterName } from './sessions/counters';

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
  async stop(timeoutMs: number): Promise<CounterValues> {
    if (!this.stopped) {
      this.stopped = true;
      this.probe.stop();
      await Promise.all(this.sinks.map((sink) => sink.close(timeoutMs)));
    }
    return this.counters();
  }

  /** The reported counters (exit line, metrics), in the order of sessions/counters.ts. */
  counters(): CounterValues {
    const probe = this.probe.counters();
    const values: CounterValues = {
      sessions_seen: this.seen,
      sessions_filtered_userspace: this.filteredInUserspace,
      ...this.cgroups?.counters(),
    };
    for (const sink of this.sinks) Object.assign(values, sink.counters());
    const out: CounterValues = {};
    for (const c of COUNTERS as readonly CounterSpec[]) {
      if (c.diagnostic) continue;
      const name = c.name as CounterName;
      const value = c.source === 'kernel' || c.source === 'reader' ? probe[name as ProbeCounterName] : values[name];
      if (value !== undefined) out[name] = value;
    }
    // A sink's own counts beyond the table (the stock-SDK comparison path) follow it.
    for (const [name, value] of Object.entries(values)) if (!(name in out)) out[name as CounterName] = value;
    return out;
  }
}
