#!/usr/bin/env node
// tcplife-otel's command line: settings -> probe -> filters -> sinks.
// Exit codes: 0 normal stop (SIGINT/SIGTERM, --help, --print-config),
// 1 the probe could not start, 2 bad configuration.
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
import type { SessionSink } from './sessions/session-sink';
import { startCounterMetrics, type CounterMetricsExporter } from './telemetry/counter-metrics';
import type { OtlpConnection } from './telemetry/export-config';
import { detectResource, k8sAttributes } from './telemetry/resource';
import { OtlpSpanExporter, type TlsMaterial } from './telemetry/span-exporter';
import type { SdkSpanSink as SdkSpanSinkType } from './telemetry/sdk-span-sink';
import { SpanSink } from './telemetry/span-sink';

const NAME = 'tcplife-otel';
// dist/src/cli.js -> the repository's package.json: one version, declared once.
// eslint-disable-next-line @typescript-eslint/no-require-imports
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
  const owners = partOn(info, 'owners-from-io')
    ? 'owners of accepted sockets from their first send/recv'
    : 'owners of accepted sockets from close()';
  log(`tracing TCP sessions via ${hook} (${owners}); attached in ${info.attachMs.toFixed(0)} ms`);
  const open = info.openAtStart;
  if (open.reason !== undefined) {
    // Off: said above. On, but the walk failed: say so here.
    if (partOn(info, 'open-sessions')) log(`the search for TCP sessions open at start failed (${open.reason}): they are reported when they close, as partial`);
    return;
  }
  const where = open.namespaces === 1 ? '' : ` in ${open.namespaces} network namespaces`;
  log(`found ${open.found} TCP sessions open at start${where} in ${open.ms.toFixed(0)} ms: each is reported when it closes, as partial, with its owner and role`);
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

/**
 * The span sink OTEL_TRACES_EXPORTER asks for, if any, and whether the
 * terminal output stays: unset (or OTEL_SDK_DISABLED) keeps tcplife's
 * output; 'otlp' exports spans; 'console' is the terminal output.
 */
function traceExporters(loaded: Loaded): { console: boolean; otlp?: SpanSink | SdkSpanSinkType } {
  const env = loaded.otelEnv;
  const config = loaded.otlp.traces;
  if (config.disabled || !config.exporters.includes('otlp')) return { console: true };
  const tls = readTlsFiles(config, 'TRACES');
  const resource = detectResource(env, k8sAttributes(loaded.settings.k8s));
  for (const w of resource.warnings) log(w);
  const serviceOf = compileServiceRules(loaded.settings.services);
  let otlp: SpanSink | SdkSpanSinkType;
  if (loaded.settings.export_pipeline === 'sdk') {
    // The stock SDK path, kept for comparison (README, Benchmark). It reads
    // its settings from process.env, so it gets the effective ones there.
    // Loaded only here, so the default path's startup does not grow.
    Object.assign(process.env, env);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SdkSpanSink } = require('./telemetry/sdk-span-sink') as typeof import('./telemetry/sdk-span-sink');
    otlp = new SdkSpanSink(resource.attributes, SCOPE, serviceOf);
  } else {
    otlp = new SpanSink(new OtlpSpanExporter(config, resource.attributes, SCOPE, tls, { log }), serviceOf);
  }
  return { console: config.exporters.includes('console'), otlp };
}

/**
 * Exporting the counters as OTel metrics, when OTEL_METRICS_EXPORTER (or,
 * unset, span export over OTLP) asks for it: prepared before the probe loads,
 * started once it runs.
 */
function counterMetrics(loaded: Loaded): ((read: () => Record<string, number>) => CounterMetricsExporter) | undefined {
  const env = loaded.otelEnv;
  const config = loaded.otlp.metrics;
  if (!config.enabled) return undefined;
  const tls = readTlsFiles(config, 'METRICS');
  const resource = detectResource(env, k8sAttributes(loaded.settings.k8s)).attributes;
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

/** What SIGHUP does; until the agent runs, nothing (its default would kill us). */
let onSighup = () => log('SIGHUP while starting: ignored');
process.on('SIGHUP', () => onSighup());

function main(argv: string[]): void {
  let loaded = orExit2(() => loadSettings(argv, process.env));
  if (loaded.help) {
    process.stdout.write(usage());
    return;
  }
  if (loaded.printConfig) {
    process.stdout.write(printConfig(loaded));
    return;
  }
  const s = loaded.settings;
  const filters = orExit2(() => filtersOf(loaded));

  let probe: SessionProbe;
  try {
    probe = new SessionProbe({ attach: s.attach, pidNamespace: ownPidNamespace(), rejectParts: rejectPartsFrom(process.env) });
  } catch (err) {
    fail((err as Error).message, 1); // the addon is missing or does not load
  }

  let stopping = false;
  let metrics: CounterMetricsExporter | undefined;
  let statsTimer: NodeJS.Timeout | undefined;
  let shutdownTimeoutMs = s.shutdown_timeout_ms;
  const counters = (c: CounterValues): CounterValues => (metrics ? { ...c, metric_export_failures: metrics.failures() } : c);
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(statsTimer);
    // One deadline for everything: spans first, then the final counters.
    const deadline = Date.now() + shutdownTimeoutMs;
    void agent
      .stop(shutdownTimeoutMs)
      .then(async (c) => {
        log(`stopped (${reason}): ${formatCounters(counters(c))}`);
        await metrics?.shutdown(Math.max(0, deadline - Date.now()));
      })
      .finally(() => process.exit(0));
  };
  const startStats = (seconds: number) => {
    clearInterval(statsTimer);
    statsTimer = undefined;
    if (seconds > 0) {
      statsTimer = setInterval(() => log(`counters: ${formatCounters(counters(agent.counters()))}`), seconds * 1000).unref();
    }
  };

  // stdout is written with write(2) on fd 1 (see FdWriter), never through
  // process.stdout. A closed pipe (`| head`) ends tracing quietly.
  const onWriteError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') setImmediate(() => stop('output closed'));
    else fail(`cannot write output: ${err.message}`, 1);
  };
  const sinks: SessionSink[] = [];
  const exporters = traceExporters(loaded);
  if (exporters.console) {
    const table = { wide: s.output.wide, csv: s.output.format === 'csv', time: s.output.time, timestamp: s.output.timestamp };
    sinks.push(new ConsoleSink(new FdWriter(1), { json: s.output.format === 'json', table }, onWriteError));
  }
  if (exporters.otlp) sinks.push(exporters.otlp);
  const startMetrics = counterMetrics(loaded);
  const agent = new Agent(probe, filters.kernel, sinks, filters.session, new OwnerCgroups());

  // SIGHUP: re-read, validate, and switch the filters in place. A bad
  // configuration changes nothing.
  const reload = () => {
    let next: Loaded;
    let nextFilters: ReturnType<typeof filtersOf>;
    try {
      next = loadSettings(argv, process.env);
      nextFilters = filtersOf(next);
      agent.setFilters(nextFilters.kernel, nextFilters.session);
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      for (const p of problems) log(`reload: ${p}`);
      log('reload refused: the running configuration stays');
      return;
    }
    if (exporters.otlp) exporters.otlp.serviceOf = compileServiceRules(next.settings.services);
    const pending = restartOnlyChanges(loaded, next);
    if (next.settings.stats_interval_s !== loaded.settings.stats_interval_s) startStats(next.settings.stats_interval_s);
    shutdownTimeoutMs = next.settings.shutdown_timeout_ms;
    loaded = next;
    log(`configuration reloaded${next.settings.config ? ` from ${next.settings.config}` : ''}; filters applied (${nextFilters.scope.reason})`);
    if (pending.length) log(`reload: needs a restart to apply: ${pending.join(', ')}`);
  };

  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  onSighup = () => {
    if (!stopping) reload();
  };

  try {
    reportStart(agent.start(), s.verbose);
    log(filters.scope.reason);
  } catch (err) {
    if (err instanceof ProbeError) {
      if (s.verbose && err.libbpfLog) process.stderr.write(err.libbpfLog);
      fail(err.message, 1);
    }
    throw err;
  }
  metrics = startMetrics?.(() => agent.counters());
  startStats(s.stats_interval_s);
}

try {
  main(process.argv.slice(2));
} catch (err) {
  // Anything unexpected still gets one line, not a stack (set DEBUG for it).
  if (process.env.DEBUG) throw err;
  fail(`internal error: ${(err as Error).message}`, 1);
}
