#!/usr/bin/env node
// tcplife-otel's command line: flags -> configuration -> agent, then
// signals. Exit codes: 0 normal stop (SIGINT/SIGTERM, --help,
// --print-config), 1 the probe could not start, 2 bad configuration.
import { readFileSync } from 'node:fs';
import type { CounterValues } from './sessions/counters';
import { Agent } from './agent';
import { kernelFiltersFrom, scopedFilters } from './config/kernel-filters';
import { OwnerCgroups } from './container/container-ids';
import { decideScope, ownPidNamespace, type ScopeDecision } from './container/namespaces';
import { ConfigError, loadSettings, type Loaded } from './config/load';
import { printConfig } from './config/print';
import { settings as allSettings } from './config/schema';
import { usage } from './config/usage';
import { KERNEL_PARTS, partOn, type KernelFilters, type KernelPartName, type ProbeInfo } from './kernel/probe-types';
import { ProbeError, SessionProbe } from './kernel/probe';
import { ConsoleSink } from './output/console-sink';
import { FdWriter } from './output/fd-writer';
import { compileServiceRules } from './sessions/service-rules';
import { compileSessionFilter, type SessionFilter } from './sessions/session-filter';
import type { ServiceOf } from './sessions/service-rules';
import type { SessionSink } from './sessions/session-sink';
import { startCounterMetrics, type CounterMetricsExporter } from './telemetry/counter-metrics';
import type { OtlpConnection } from './telemetry/export-config';
import { detectResource, k8sAttributes } from './telemetry/resource';
import { OtlpSpanExporter, type TlsMaterial } from './telemetry/span-exporter';
import { SpanSink } from './telemetry/span-sink';

const NAME = 'tcplife-otel';
// dist/src/cli.js -> the repository's package.json: one version, declared once.
const VERSION: string = require('../../package.json').version;
const SCOPE = { name: NAME, version: VERSION };

function log(line: string): void {
  process.stderr.write(`${NAME}: ${line}\n`);
}

function fail(message: string, status: number): never {
  for (const line of message.split('\n')) log(line);
  process.exit(status);
}

function formatCounters(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** The start-up report: the mechanism, one line per part that is off (with its log when verbose), what was found open. */
function reportStart(info: ProbeInfo, verbose: boolean): void {
  if (info.tpBtfRefused) log(`tp_btf/inet_sock_set_state refused (${info.tpBtfRefused}): using the classic tracepoint`);
  for (const part of info.parts) {
    if (part.on) continue;
    log(`off: ${KERNEL_PARTS[part.name].what}: ${part.reason}; ${KERNEL_PARTS[part.name].without}`);
    if (verbose && part.log) process.stderr.write(part.log.endsWith('\n') ? part.log : `${part.log}\n`);
  }
  const hook = info.mechanism === 'tp_btf' ? 'tp_btf/inet_sock_set_state' : 'tracepoint sock:inet_sock_set_state';
  const owners = partOn(info, 'owners-from-io') ? 'owners of accepted sockets from their first send/recv' : 'owners of accepted sockets from close()';
  log(`tracing TCP sessions via ${hook} (${owners}); attached in ${info.attachMs.toFixed(0)} ms`);
  const open = info.openAtStart;
  if (open.reason !== undefined) {
    // Off: said above. On, but the walk failed: say so here.
    if (partOn(info, 'open-sessions')) log(`the search for TCP sessions open at start failed (${open.reason}): they are reported when they close, as partial`);
    return;
  }
  const where = open.namespaces === 1 ? '' : ` in ${open.namespaces} network namespaces`;
  log(
    `found ${open.found} TCP sessions open at start${where} in ${open.ms.toFixed(0)} ms: each is reported when it closes, as partial, with its owner and role`,
  );
  if (open.namespacesMissed) log(`${open.namespacesMissed} network namespaces not searched for open sessions: ${open.missedReason}`);
  if (open.ownersDropped) log(`${open.ownersDropped} sessions open at start were found without their owner (no room to note it)`);
}

/** TCPLIFE_TEST_REJECT_PARTS (tests only): parts of the kernel program to make the verifier refuse. */
function rejectPartsFrom(env: NodeJS.ProcessEnv): ('core' | KernelPartName)[] | undefined {
  const text = env.TCPLIFE_TEST_REJECT_PARTS;
  if (!text) return undefined;
  const allowed = ['core', ...Object.keys(KERNEL_PARTS)];
  const names = text.split(',').map((n) => n.trim());
  const unknown = names.filter((n) => !allowed.includes(n));
  if (unknown.length) fail(`TCPLIFE_TEST_REJECT_PARTS: unknown part ${unknown.join(', ')} (allowed: ${allowed.join(', ')})`, 2);
  return names as ('core' | KernelPartName)[];
}

/** Reads the CA, key and certificate files a connection names; exit 2 if one cannot be read. */
function readTlsFiles(c: OtlpConnection, signal: string): TlsMaterial {
  const read = (file: string | undefined, what: string, variable: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      return fail(`cannot read the ${what} ${file} (OTEL_EXPORTER_OTLP_[${signal}_]${variable}): ${(err as Error).message}`, 2);
    }
  };
  return {
    ca: read(c.certificateFile, 'CA certificate', 'CERTIFICATE'),
    key: read(c.clientKeyFile, 'client key', 'CLIENT_KEY'),
    cert: read(c.clientCertificateFile, 'client certificate', 'CLIENT_CERTIFICATE'),
  };
}

/** What a span sink is built from: the effective OTEL_* variables, the resource and scope, the service rules. */
export interface SpanSinkContext {
  otelEnv: Loaded['otelEnv'];
  resource: ReturnType<typeof detectResource>['attributes'];
  scope: { name: string; version: string };
  serviceOf?: ServiceOf;
}

/** A sink of spans whose service rules a reload can replace. */
export type SpanSessionSink = SessionSink & { serviceOf?: ServiceOf };

export interface RunOptions {
  /**
   * Builds the span sink for OTLP export; absent: the agent's own pipeline.
   * The benchmark's comparison with the stock SDK (test/bench/sdk-agent.ts)
   * gives its own.
   */
  spanSink?: (context: SpanSinkContext) => SpanSessionSink;
}

/**
 * The span sink OTEL_TRACES_EXPORTER asks for, if any, and whether the
 * terminal output stays: unset (or OTEL_SDK_DISABLED) keeps tcplife's
 * output; 'otlp' exports spans; 'console' is the terminal output.
 */
function traceExporters(loaded: Loaded, options: RunOptions): { console: boolean; otlp?: SpanSessionSink } {
  const config = loaded.otlp.traces;
  if (config.disabled || !config.exporters.includes('otlp')) return { console: true };
  const tls = readTlsFiles(config, 'TRACES');
  const resource = detectResource(loaded.otelEnv, k8sAttributes(loaded.settings.k8s));
  for (const w of resource.warnings) log(w);
  const serviceOf = compileServiceRules(loaded.settings.services);
  const otlp = options.spanSink
    ? options.spanSink({ otelEnv: loaded.otelEnv, resource: resource.attributes, scope: SCOPE, serviceOf })
    : new SpanSink(new OtlpSpanExporter(config, resource.attributes, SCOPE, tls, { log }), serviceOf);
  return { console: config.exporters.includes('console'), otlp };
}

/**
 * Exporting the counters as OTel metrics, when OTEL_METRICS_EXPORTER (or,
 * unset, span export over OTLP) asks for it: prepared before the probe loads,
 * started once it runs.
 */
function counterMetrics(loaded: Loaded): ((read: () => Record<string, number>) => CounterMetricsExporter) | undefined {
  const config = loaded.otlp.metrics;
  if (!config.enabled) return undefined;
  const tls = readTlsFiles(config, 'METRICS');
  const resource = detectResource(loaded.otelEnv, k8sAttributes(loaded.settings.k8s)).attributes;
  return (read) => startCounterMetrics(config, tls, resource, SCOPE, read);
}

/** Settings -> both filter stages; a namespace or cgroup that cannot be found is a ConfigError. */
function filtersOf(loaded: Loaded): { kernel: KernelFilters; session?: SessionFilter; scope: ScopeDecision } {
  const scope = decideScope(loaded.settings.scope);
  const f = scopedFilters(loaded, scope.scope);
  return { kernel: kernelFiltersFrom(f), session: compileSessionFilter(f), scope };
}

/** Runs `fn`; a ConfigError ends the command: its problems, exit 2. */
function orExit2<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ConfigError) fail(`${err.problems.join('\n')}\n(see --help for the settings and what they allow)`, 2);
    throw err;
  }
}

/** Keys whose value changed and that only a restart applies. */
function restartOnlyChanges(before: Loaded, after: Loaded): string[] {
  return allSettings()
    .filter(([key, s]) => !s.reload && JSON.stringify(before.raw.get(key)) !== JSON.stringify(after.raw.get(key)))
    .map(([key]) => key);
}

/**
 * The agent as a process: built from a configuration, started, reloaded at
 * SIGHUP, stopped once. Start: probe attached, then sinks opened (Agent),
 * then metrics, then the stats timer; stop runs back from the timer, except
 * that metrics go last, so that their final export carries the final counts.
 */
class AgentProcess {
  private stopping = false;
  private metrics: CounterMetricsExporter | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly agent: Agent;
  private readonly spans: SpanSessionSink | undefined;
  private readonly startMetrics: ReturnType<typeof counterMetrics>;
  private readonly scope: ScopeDecision;

  constructor(
    private loaded: Loaded,
    /** Re-reads the configuration (SIGHUP); throws ConfigError. */
    private readonly reread: () => Loaded,
    options: RunOptions,
    env: NodeJS.ProcessEnv,
  ) {
    const s = loaded.settings;
    const filters = orExit2(() => filtersOf(loaded));
    this.scope = filters.scope;
    let probe: SessionProbe;
    try {
      probe = new SessionProbe({ attach: s.attach, pidNamespace: ownPidNamespace(), rejectParts: rejectPartsFrom(env) });
    } catch (err) {
      fail((err as Error).message, 1); // the addon is missing or does not load
    }
    const sinks: SessionSink[] = [];
    const exporters = traceExporters(loaded, options);
    if (exporters.console) {
      const table = { wide: s.output.wide, csv: s.output.format === 'csv', time: s.output.time, timestamp: s.output.timestamp };
      sinks.push(new ConsoleSink(new FdWriter(1), { json: s.output.format === 'json', table }, (err) => this.onWriteError(err)));
    }
    if (exporters.otlp) sinks.push(exporters.otlp);
    this.spans = exporters.otlp;
    this.startMetrics = counterMetrics(loaded);
    this.agent = new Agent(probe, filters.kernel, sinks, filters.session, new OwnerCgroups());
  }

  start(): void {
    try {
      reportStart(this.agent.start(), this.loaded.settings.verbose);
      log(this.scope.reason);
    } catch (err) {
      if (err instanceof ProbeError) {
        if (this.loaded.settings.verbose && err.libbpfLog) process.stderr.write(err.libbpfLog);
        fail(err.message, 1);
      }
      throw err;
    }
    this.metrics = this.startMetrics?.(() => this.agent.counters());
    this.startStats(this.loaded.settings.stats_interval_s);
  }

  /** Stops once; the process exits 0 when spans and metrics are delivered or the shutdown timeout ran out. */
  stop(reason: string): void {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.statsTimer);
    // One deadline for everything: spans first, then the final counters.
    const timeoutMs = this.loaded.settings.shutdown_timeout_ms;
    const deadline = Date.now() + timeoutMs;
    void this.agent
      .stop(timeoutMs)
      .then(async (c) => {
        log(`stopped (${reason}): ${formatCounters(this.withMetrics(c))}`);
        await this.metrics?.shutdown(Math.max(0, deadline - Date.now()));
      })
      .finally(() => process.exit(0));
  }

  /** SIGHUP: re-read, validate, and switch the filters in place. A bad configuration changes nothing. */
  reload(): void {
    if (this.stopping) return;
    let next: Loaded;
    let filters: ReturnType<typeof filtersOf>;
    try {
      next = this.reread();
      filters = filtersOf(next);
      this.agent.setFilters(filters.kernel, filters.session);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      for (const p of problems) log(`reload: ${p}`);
      log('reload refused: the running configuration stays');
      return;
    }
    if (this.spans) this.spans.serviceOf = compileServiceRules(next.settings.services);
    const pending = restartOnlyChanges(this.loaded, next);
    if (next.settings.stats_interval_s !== this.loaded.settings.stats_interval_s) this.startStats(next.settings.stats_interval_s);
    this.loaded = next;
    log(`configuration reloaded${next.settings.config ? ` from ${next.settings.config}` : ''}; filters applied (${filters.scope.reason})`);
    if (pending.length) log(`reload: needs a restart to apply: ${pending.join(', ')}`);
  }

  private withMetrics(c: CounterValues): CounterValues {
    return this.metrics ? { ...c, metric_export_failures: this.metrics.failures() } : c;
  }

  private startStats(seconds: number): void {
    clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    if (seconds > 0) {
      this.statsTimer = setInterval(() => log(`counters: ${formatCounters(this.withMetrics(this.agent.counters()))}`), seconds * 1000).unref();
    }
  }

  // stdout is written with write(2) on fd 1 (see FdWriter), never through
  // process.stdout. A closed pipe (`| head`) ends tracing quietly.
  private onWriteError(err: NodeJS.ErrnoException): void {
    if (err.code === 'EPIPE') setImmediate(() => this.stop('output closed'));
    else fail(`cannot write output: ${err.message}`, 1);
  }
}

/** The command: flags and environment -> configuration -> the agent, until a signal stops it. */
export function run(argv: string[], env: NodeJS.ProcessEnv = process.env, options: RunOptions = {}): void {
  // Until the agent runs, SIGHUP does nothing (its default would kill us).
  let onSighup = () => log('SIGHUP while starting: ignored');
  process.on('SIGHUP', () => onSighup());

  const loaded = orExit2(() => loadSettings(argv, env));
  if (loaded.help) {
    process.stdout.write(usage());
    return;
  }
  if (loaded.printConfig) {
    process.stdout.write(printConfig(loaded));
    return;
  }
  const agent = new AgentProcess(loaded, () => loadSettings(argv, env), options, env);
  process.on('SIGINT', () => agent.stop('SIGINT'));
  process.on('SIGTERM', () => agent.stop('SIGTERM'));
  onSighup = () => agent.reload();
  agent.start();
}

/** run(), with anything unexpected as one line, not a stack (set DEBUG for it). */
export function main(options: RunOptions = {}): void {
  try {
    run(process.argv.slice(2), process.env, options);
  } catch (err) {
    if (process.env.DEBUG) throw err;
    fail(`internal error: ${(err as Error).message}`, 1);
  }
}

if (require.main === module) main();
