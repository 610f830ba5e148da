#!/usr/bin/env node
/**
 * `npm run bench`: the agent's cost under a loopback connection storm.
 *
 *   node dist/test/bench/storm.js [--seconds N] [--pairs N] [--concurrency N]
 *        [--clients N] [--max-conns N] [--warmup N] [--port N] [--out FILE]
 *        [--only json|export|outage] [--export-pairs N] [--export-conns N]
 *        [--outage SEC]
 *
 * A warm-up storm, then `pairs` pairs of runs: the storm alone (baseline)
 * and the storm while the real agent (`node dist/src/cli.js -j`) traces the
 * machine. The order alternates (B A, A B, B A ...) so that drift hits both
 * sides alike. Then `export-pairs` pairs of export runs: the agent sends
 * spans over OTLP/gRPC to a receiver process, once through our direct
 * pipeline and once through the stock OpenTelemetry SDK
 * (test/bench/sdk-agent.ts), alternating too: each a storm of `export-conns`
 * connections (80,000 sessions by default). Then, unless `--outage 0`, one
 * outage run: the direct pipeline with default settings while the receiver
 * answers UNAVAILABLE for `outage` seconds from just before the storm.
 * `--only` runs one kind.
 * Figures are compared within this one invocation only.
 *
 * Needs root (BPF, the kernel.bpf_stats_enabled sysctl, which is set to 1
 * for the invocation and restored on any exit) and a built tree
 * (`make build`). Prints a Markdown report and writes it to
 * test/bench/last-result.md. Traffic stays on 127.0.0.1.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo, readBpfStatsEnabled, sysctl, treeState, writeBpfStatsEnabled } from './procfs';
import { renderReport, type BenchConfig } from './report';
import { killAllChildren, runStorm, type RunResult, type StormConfig } from './run-storm';

const REPO = path.resolve(__dirname, '../../..');
/** Machine busy % under which a run may start (an idle agent of ours plus noise is ~1-3%). */
const QUIET_BUSY_PCT = 10;
const DEFAULT_OUT = path.join(REPO, 'test/bench/last-result.md');

/**
 * What each export pipeline gets beside the endpoint (each reads OTEL_BSP_*
 * itself). direct: its defaults (a queue bounded by 64 MiB, 4 requests in
 * flight, batches of 512), except the delay: 200 ms instead of 5 s, which
 * under a storm only decides how long the tail waits (full batches go at
 * once), and lets "the receiver went quiet" mean "every span arrived". sdk:
 * the same, and a queue of 100,000 spans: its default 2,048 drops most of a
 * storm (the ring reader hands over up to 4,096 sessions at once), and CPU
 * per span is compared on spans that are all delivered.
 */
const EXPORT_ENV: Record<'direct' | 'sdk', Record<string, string>> = {
  direct: {
    OTEL_BSP_SCHEDULE_DELAY: '200',
    // Spans only: the agent's counters-as-metrics export stays off (the receiver serves traces only).
    OTEL_METRICS_EXPORTER: 'none',
  },
  sdk: { OTEL_BSP_SCHEDULE_DELAY: '200', OTEL_METRICS_EXPORTER: 'none', OTEL_BSP_MAX_QUEUE_SIZE: '100000' },
};

function numOption(name: string, value: string | undefined, def: number, min: number, max: number): number {
  if (value === undefined) return def;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new Error(`--${name}: ${JSON.stringify(value)} is not a number from ${min} to ${max}`);
  }
  return n;
}

function options(
  argv: string[],
): BenchConfig & { out: string; only?: 'json' | 'export' | 'outage'; exportPairs: number; exportConnections: number; outageSeconds: number } {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string' },
      pairs: { type: 'string' },
      concurrency: { type: 'string' },
      clients: { type: 'string' },
      'max-conns': { type: 'string' },
      warmup: { type: 'string' },
      port: { type: 'string' },
      'quiet-wait': { type: 'string' },
      out: { type: 'string' },
      only: { type: 'string' },
      'export-pairs': { type: 'string' },
      'export-conns': { type: 'string' },
      outage: { type: 'string' },
    },
    strict: true,
  });
  if (values.only !== undefined && values.only !== 'json' && values.only !== 'export' && values.only !== 'outage') {
    throw new Error(`--only: ${JSON.stringify(values.only)} is not json, export or outage`);
  }
  return {
    seconds: numOption('seconds', values.seconds, 10, 1, 120),
    pairs: Math.trunc(numOption('pairs', values.pairs, 2, 1, 10)),
    concurrency: Math.trunc(numOption('concurrency', values.concurrency, 64, 1, 1024)),
    clients: Math.trunc(numOption('clients', values.clients, 2, 1, 8)),
    maxConnections: Math.trunc(numOption('max-conns', values['max-conns'], 3_000_000, 1, 50_000_000)),
    warmupSeconds: numOption('warmup', values.warmup, 5, 0, 120),
    portBase: Math.trunc(numOption('port', values.port, 24100, 1024, 65000)),
    quietMaxWaitSeconds: numOption('quiet-wait', values['quiet-wait'], 180, 0, 3600),
    out: values.out ? path.resolve(values.out) : DEFAULT_OUT,
    only: values.only as 'json' | 'export' | 'outage' | undefined,
    exportPairs: Math.trunc(numOption('export-pairs', values['export-pairs'], 1, 1, 10)),
    exportConnections: Math.trunc(numOption('export-conns', values['export-conns'], 40_000, 1, 5_000_000)),
    outageSeconds: numOption('outage', values.outage, 20, 0, 600),
  };
}

let statsBefore: string | undefined;
let tmpDir: string | undefined;

function cleanup(): void {
  killAllChildren();
  if (statsBefore !== undefined) {
    try {
      writeBpfStatsEnabled(statsBefore);
    } catch (err) {
      process.stderr.write(`bench: could not restore kernel.bpf_stats_enabled=${statsBefore}: ${(err as Error).message}\n`);
    }
    statsBefore = undefined;
  }
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}

process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    process.stderr.write(`bench: ${sig}, cleaning up\n`);
    process.exit(130);
  });
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

function describe(r: RunResult): string {
  let s = `${r.label}: ${r.quietWaitMs > 1500 ? `(waited ${(r.quietWaitMs / 1000).toFixed(0)} s for a quiet machine) ` : ''}${Math.round(r.rate)} conn/s (${r.completedInWindow} in ${(r.windowMs / 1000).toFixed(2)} s), busy ${r.machineBusyPct.toFixed(0)}% (storm ${r.stormCpuPctOfMachine.toFixed(0)}% [server ${r.serverCpuPctOfCore.toFixed(0)}% of a core], agent ${r.agentCpuPctOfMachine.toFixed(0)}%, other ${r.otherCpuPctOfMachine.toFixed(0)}%)`;
  if (r.agent) {
    const a = r.agent;
    const delivered = a.stormServerSessions + a.stormClientSessions;
    s += `; made ${r.accepted + r.attempts}, delivered ${delivered}, agent ${a.cpuPctOfCore.toFixed(1)}% of a core, attach ${a.spawnToAttachedMs.toFixed(0)} ms`;
    if (a.receiver) s += `, ${(a.cpuUs / a.linesInCpuInterval).toFixed(2)} µs/span, settled after ${(a.receiver.settleMs / 1000).toFixed(1)} s`;
  }
  return s;
}

async function main(): Promise<void> {
  const cfg = options(process.argv.slice(2));
  if (process.getuid && process.getuid() !== 0) throw new Error('needs root (BPF and kernel.bpf_stats_enabled)');
  const machine = machineInfo();
  const sysctls = {
    'net.ipv4.ip_local_port_range': sysctl('net.ipv4.ip_local_port_range'),
    'net.ipv4.tcp_max_tw_buckets': sysctl('net.ipv4.tcp_max_tw_buckets'),
    'net.ipv4.tcp_tw_reuse': sysctl('net.ipv4.tcp_tw_reuse'),
    'net.core.somaxconn': sysctl('net.core.somaxconn'),
  };

  tmpDir = mkdtempSync('/dev/shm/tlo-bench-');
  statsBefore = readBpfStatsEnabled();
  writeBpfStatsEnabled('1');
  log(`kernel.bpf_stats_enabled=1 (was ${statsBefore}); ${machine.nproc} CPUs, ${machine.kernel}, Node ${machine.node}`);

  const storm = (seconds: number, port: number, maxConnections = cfg.maxConnections): StormConfig => ({
    seconds,
    clients: cfg.clients,
    concurrency: cfg.concurrency,
    maxConnections,
    port,
    backlog: 4096,
    drainTimeoutMs: 5000,
    outDir: tmpDir!,
    quietBusyPct: QUIET_BUSY_PCT,
    quietMaxWaitMs: cfg.quietMaxWaitSeconds * 1000,
  });

  let port = cfg.portBase;
  if (cfg.warmupSeconds > 0) {
    const w = await runStorm(storm(cfg.warmupSeconds, port++), 'warm-up', false);
    log(describe(w));
  }
  const runs: RunResult[] = [];
  for (let p = 1; p <= (cfg.only === 'export' || cfg.only === 'outage' ? 0 : cfg.pairs); p++) {
    const order = p % 2 === 1 ? [false, true] : [true, false];
    for (const withAgent of order) {
      const label = `pair ${p} ${withAgent ? 'agent' : 'baseline'}`;
      const r = await runStorm(storm(cfg.seconds, port++), label, withAgent);
      runs.push(r);
      log(describe(r));
    }
  }

  const exportRuns: RunResult[] = [];
  for (let p = 1; p <= (cfg.only === 'json' || cfg.only === 'outage' ? 0 : cfg.exportPairs); p++) {
    const order: Array<'direct' | 'sdk'> = p % 2 === 1 ? ['direct', 'sdk'] : ['sdk', 'direct'];
    for (const pipeline of order) {
      const mode = { kind: 'export', pipeline, env: EXPORT_ENV[pipeline] } as const;
      const r = await runStorm(storm(cfg.seconds, port++, cfg.exportConnections), `export pair ${p} ${pipeline}`, true, mode);
      exportRuns.push(r);
      log(describe(r));
    }
  }
  const outageRuns: RunResult[] = [];
  if (cfg.outageSeconds > 0 && (cfg.only === undefined || cfg.only === 'outage')) {
    const mode = { kind: 'export', pipeline: 'direct', env: EXPORT_ENV.direct, outageMs: cfg.outageSeconds * 1000 } as const;
    const r = await runStorm(storm(cfg.seconds, port++, cfg.exportConnections), `outage ${cfg.outageSeconds} s direct`, true, mode);
    outageRuns.push(r);
    log(describe(r));
  }

  const report = renderReport({
    ...cfg,
    machine,
    sysctls,
    runs,
    exportRuns,
    outageRuns,
    exportEnv: EXPORT_ENV,
    argv: process.argv.slice(2),
    tree: treeState(REPO),
  });
  process.stdout.write(report);
  writeFileSync(cfg.out, report);
  log(`written to ${path.relative(process.cwd(), cfg.out) || cfg.out}`);
}

main()
  .then(() => process.exit(0))
  .catch((err: Error) => {
    process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
