/**
 * Every counter the agent keeps, declared once. A counter's name is the same
 * on the exit line, in the addon's answer and in TypeScript; the kernel's
 * enum constant (bpf/session_event.h), the OpenTelemetry metric and the
 * docs' table (docs/counters.md) are derived from this table or checked
 * against it by test/unit/counters.test.ts.
 */

/** Who counts it: the kernel program, the ring-buffer reader (addon), or a stage in JavaScript. */
export type CounterSource = 'kernel' | 'reader' | 'agent' | 'container' | 'output' | 'export' | 'metrics';

export interface CounterSpec {
  readonly name: string;
  readonly source: CounterSource;
  /** The slot of the kernel's per-CPU counters map that holds it (kernel counters only). */
  readonly kernel?: { readonly constant: string; readonly index: number };
  /** The metric it feeds, told apart from the metric's other counters by its attributes. */
  readonly metric?: { readonly name: MetricName; readonly attributes?: Readonly<Record<string, string>> };
  /** Not on the exit line and not exported: read by the benchmark and tests. */
  readonly diagnostic?: true;
  readonly meaning: string;
}

/** The metrics the counters feed: losses of one kind share one metric, with a `reason` attribute. */
export const METRICS = {
  'tcplife.sessions.seen': { unit: '{session}', description: 'TCP sessions that reached the agent' },
  'tcplife.sessions.filtered': { unit: '{session}', description: 'TCP sessions excluded by a filter' },
  'tcplife.sessions.partial': { unit: '{session}', description: 'TCP sessions whose opening was not observed' },
  'tcplife.sessions.lost': { unit: '{session}', description: 'TCP sessions lost before reaching the agent' },
  'tcplife.kernel.state_changes.skipped': {
    unit: '{event}',
    description: 'TCP state changes the kernel skipped for recursion protection (a session may be lost or partial)',
  },
  'tcplife.kernel.state_changes.nested': {
    unit: '{event}',
    description: 'TCP state changes in an interrupt nested in the probe, caught by its twin program',
  },
  'tcplife.kernel.owner_checks.skipped': {
    unit: '{event}',
    description: 'Owner checks the kernel skipped for recursion protection (an owner may stay unknown)',
  },
  'tcplife.kernel.state_alloc_failures': {
    unit: '{session}',
    description: 'Per-socket state that could not be allocated (the session is reported as partial)',
  },
  'tcplife.container_lookups.failed': {
    unit: '{session}',
    description: "Sessions whose owner's container could not be told (owner gone, or outside the agent's PID namespace)",
  },
  'tcplife.spans.exported': { unit: '{span}', description: 'Spans the collector accepted' },
  'tcplife.spans.dropped': { unit: '{span}', description: 'Spans that will never reach the collector' },
  'tcplife.spans.export_failures': { unit: '{attempt}', description: 'Failed export attempts (retried or dropped)' },
  'tcplife.spans.queued': { unit: '{span}', description: 'Spans waiting for export', gauge: true },
} as const satisfies Record<string, { unit: string; description: string; gauge?: boolean }>;

export type MetricName = keyof typeof METRICS;

export const COUNTERS = [
  {
    name: 'sessions_seen',
    source: 'agent',
    metric: { name: 'tcplife.sessions.seen' },
    meaning: 'sessions that reached user space',
  },
  {
    name: 'sessions_filtered',
    source: 'kernel',
    kernel: { constant: 'COUNTER_FILTERED', index: 2 },
    metric: { name: 'tcplife.sessions.filtered', attributes: { where: 'kernel' } },
    meaning: 'excluded by a kernel filter',
  },
  {
    name: 'sessions_filtered_userspace',
    source: 'agent',
    metric: { name: 'tcplife.sessions.filtered', attributes: { where: 'userspace' } },
    meaning: 'excluded by a filter decided in the agent (process name, role, outcome, duration, bytes)',
  },
  {
    name: 'lost_ringbuf_full',
    source: 'kernel',
    kernel: { constant: 'COUNTER_RINGBUF_FULL', index: 1 },
    metric: { name: 'tcplife.sessions.lost', attributes: { reason: 'ring_buffer_full' } },
    meaning:
      'sessions lost because the ring buffer was full (the reader fell behind by more than 8 MiB: about 45,600 sessions of 176 bytes, plus an 8-byte header each)',
  },
  {
    name: 'skipped_state_changes',
    source: 'kernel',
    metric: { name: 'tcplife.kernel.state_changes.skipped' },
    meaning:
      'state changes neither state-change program saw because both were already running on that CPU (interrupts nested in them): a session may then be lost, partial, or lack its handshake time',
  },
  {
    name: 'nested_state_changes',
    source: 'kernel',
    kernel: { constant: 'COUNTER_NESTED_HANDLED', index: 5 },
    metric: { name: 'tcplife.kernel.state_changes.nested' },
    meaning: 'state changes made by an interrupt nested in the state-change program, handled by its twin (not a loss)',
  },
  {
    name: 'skipped_owner_checks',
    source: 'kernel',
    metric: { name: 'tcplife.kernel.owner_checks.skipped' },
    meaning: 'the same for the send/recv owner checks: an owner may stay unknown',
  },
  {
    name: 'state_alloc_failed',
    source: 'kernel',
    kernel: { constant: 'COUNTER_STORAGE_FAILED', index: 4 },
    metric: { name: 'tcplife.kernel.state_alloc_failures' },
    meaning: 'per-socket state could not be allocated (the session is reported as partial)',
  },
  {
    name: 'sessions_partial',
    source: 'kernel',
    kernel: { constant: 'COUNTER_BIRTH_MISSED', index: 3 },
    metric: { name: 'tcplife.sessions.partial' },
    meaning: 'sessions whose opening was not seen (they opened before the trace)',
  },
  {
    name: 'malformed_records',
    source: 'reader',
    metric: { name: 'tcplife.sessions.lost', attributes: { reason: 'malformed_record' } },
    meaning: 'ring-buffer records of the wrong size, dropped (a kernel/addon mismatch; never expected)',
  },
  {
    name: 'sessions_emitted',
    source: 'kernel',
    kernel: { constant: 'COUNTER_SESSIONS_EMITTED', index: 0 },
    diagnostic: true,
    meaning: 'records the kernel wrote to the ring buffer',
  },
  {
    name: 'sessions_delivered',
    source: 'reader',
    diagnostic: true,
    meaning: 'records the reader handed to JavaScript',
  },
  {
    name: 'ringbuf_wakeups',
    source: 'reader',
    diagnostic: true,
    meaning: 'times the reader woke up to read the ring buffer',
  },
  {
    name: 'container_lookups_failed',
    source: 'container',
    metric: { name: 'tcplife.container_lookups.failed' },
    meaning:
      "sessions whose owner's container could not be told (the owner had exited, or is outside the agent's PID namespace); their spans lack `container.id`",
  },
  {
    name: 'spans_exported',
    source: 'export',
    metric: { name: 'tcplife.spans.exported' },
    meaning: 'spans the collector accepted',
  },
  {
    name: 'spans_dropped_queue_full',
    source: 'export',
    metric: { name: 'tcplife.spans.dropped', attributes: { reason: 'queue_full' } },
    meaning: 'spans dropped because the export queue was full',
  },
  {
    name: 'spans_dropped_rejected',
    source: 'export',
    metric: { name: 'tcplife.spans.dropped', attributes: { reason: 'rejected' } },
    meaning: 'spans the collector refused (a non-retryable status, or an invalid record)',
  },
  {
    name: 'spans_dropped_shutdown',
    source: 'export',
    metric: { name: 'tcplife.spans.dropped', attributes: { reason: 'shutdown' } },
    meaning: 'spans still queued when time ran out at shutdown',
  },
  {
    name: 'span_export_failures',
    source: 'export',
    metric: { name: 'tcplife.spans.export_failures' },
    meaning: 'failed export attempts (retried or dropped)',
  },
  {
    name: 'spans_queued',
    source: 'export',
    metric: { name: 'tcplife.spans.queued' },
    meaning: 'spans waiting for export now (a gauge)',
  },
  {
    name: 'metric_export_failures',
    source: 'metrics',
    meaning: 'failed exports of these metrics (not retried: the next export carries the cumulative values)',
  },
  {
    name: 'printed',
    source: 'output',
    meaning: 'lines written to the terminal or file',
  },
  {
    name: 'partial_not_shown',
    source: 'output',
    meaning: 'partial sessions left out of the table or CSV',
  },
] as const satisfies readonly CounterSpec[];

export type CounterName = (typeof COUNTERS)[number]['name'];

/** Some counters, by name: what one stage reports. */
export type CounterValues = Partial<Record<CounterName, number>>;

type Spec = (typeof COUNTERS)[number];
type NamesOf<S extends CounterSource> = Extract<Spec, { source: S }>['name'];

/** The counters one source keeps, all of them. */
export type CountersOf<S extends CounterSource> = Record<NamesOf<S>, number>;

/** What the probe reports (kernel and reader), diagnostics included. */
export type ProbeCounterName = NamesOf<'kernel'> | NamesOf<'reader'>;

/** The counters kept in the kernel's counters map (the rest of the kernel's come from program statistics). */
export type KernelCounterName = Extract<Spec, { kernel: object }>['name'];

/** The kernel counters, by their slot in the counters map (index: the enum's value). */
export const KERNEL_COUNTERS: ReadonlyArray<{ name: KernelCounterName; index: number }> = COUNTERS.flatMap((c: CounterSpec) =>
  c.kernel ? [{ name: c.name as KernelCounterName, index: c.kernel.index }] : [],
);
