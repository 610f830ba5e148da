/**
 * The export path's own cost, with a core to spare: one loader process makes
 * loopback connections one after another (about one core's worth), the agent
 * (traced to the loader's pid only) exports every session over OTLP/gRPC to a
 * receiver in its own process, and its CPU per span is measured after a
 * warm-up. Unlike the storm (npm run bench), which saturates both vCPUs and
 * inflates every figure, this isolates what one span costs the agent.
 *
 *   npm run bench:export-path [-- --runs 3 --connections 50000]
 *
 * Alternates direct and sdk; writes test/bench/last-export-path.md.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { processCpuUs } from './procfs';
import type { ReceiverListening, ReceiverStat } from './storm-protocol';

const CLI = path.resolve(__dirname, '../../src/cli.js');
/** The same command line exporting through the stock OpenTelemetry SDK (the comparison path). */
const SDK_AGENT = path.resolve(__dirname, 'sdk-agent.js');
const RECEIVER = path.join(__dirname, 'export-receiver.js');
const OUT = path.resolve(__dirname, '../../../test/bench/last-export-path.md');
const WARMUP = 20_000;

const LOADER = `
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0)); s.listen(4096)
port = s.getsockname()[1]
print('ready', flush=True)
for line in sys.stdin:
    n = int(line); t = time.time(); done = 0
    while done < n and time.time() - t < 60:
        c = socket.create_connection(('127.0.0.1', port)); a, _ = s.accept()
        c.close(); a.close(); done += 1
    print('done', done, round(time.time() - t, 3), flush=True)
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function lines(child: ChildProcess, stream: 'stdout' | 'stderr'): { next(match: RegExp, timeoutMs: number): Promise<string>; all(): string } {
  let text = '';
  child[stream]!.on('data', (d) => (text += d));
  return {
    all: () => text,
    async next(match, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = text.split('\n').find((l) => match.test(l));
        if (m) {
          text = text.slice(text.indexOf(m) + m.length);
          return m;
        }
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${match}; got: ${text.slice(-500)}`);
        await sleep(20);
      }
    },
  };
}

interface Result {
  pipeline: string;
  spans: number;
  cpuUs: number;
  rate: number;
  counters: Record<string, number>;
}

async function run(pipeline: 'direct' | 'sdk', connections: number): Promise<Result> {
  const receiver = fork(RECEIVER, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const children: ChildProcess[] = [receiver];
  try {
    const port = await new Promise<number>((resolve) => {
      receiver.on('message', (m: ReceiverListening) => m.kind === 'listening' && resolve(m.port));
      receiver.send({ kind: 'listen', host: '127.0.0.1' });
    });
    const loader = spawn('python3', ['-c', LOADER], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(loader);
    const loaderOut = lines(loader, 'stdout');
    await loaderOut.next(/^ready/, 10_000);
    const agent = spawn(process.execPath, [pipeline === 'sdk' ? SDK_AGENT : CLI, '-p', String(loader.pid), '--stats-interval', '0'], {
      env: {
        ...process.env,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_BSP_MAX_QUEUE_SIZE: '8192',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_METRICS_EXPORTER: 'none',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(agent);
    const agentErr = lines(agent, 'stderr');
    await agentErr.next(/attached in/, 10_000);
    loader.stdin!.write(`${WARMUP}\n`);
    await loaderOut.next(/^done/, 90_000);
    await sleep(1000);
    const cpu0 = processCpuUs(agent.pid!);
    loader.stdin!.write(`${connections}\n`);
    const done = (await loaderOut.next(/^done/, 90_000)).split(' ');
    // Settled: no request arrived for a second.
    let last = -1;
    for (;;) {
      const stat = await new Promise<ReceiverStat>((resolve) => {
        receiver.once('message', (m: ReceiverStat) => resolve(m));
        receiver.send({ kind: 'stat' });
      });
      if (stat.requests === last) break;
      last = stat.requests;
      await sleep(1000);
    }
    const cpuUs = processCpuUs(agent.pid!) - cpu0; // the idle second(s) included: a few ms at most
    agent.kill('SIGINT');
    const stopped = await agentErr.next(/stopped \(SIGINT\)/, 15_000);
    const counters: Record<string, number> = {};
    for (const m of stopped.matchAll(/(\w+)=(\d+)/g)) counters[m[1]] = Number(m[2]);
    return { pipeline, spans: 2 * Number(done[1]), cpuUs, rate: Number(done[1]) / Number(done[2]), counters };
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number) => {
    const i = args.indexOf(`--${name}`);
    const v = i >= 0 ? Number(args[i + 1]) : dflt;
    if (!Number.isInteger(v) || v < 1 || v > 1_000_000) throw new Error(`--${name}: expected an integer from 1 to 1000000`);
    return v;
  };
  const runs = opt('runs', 3);
  const connections = opt('connections', 50_000);
  const results: Result[] = [];
  for (let i = 0; i < runs; i++) {
    for (const p of i % 2 ? (['sdk', 'direct'] as const) : (['direct', 'sdk'] as const)) {
      const r = await run(p, connections);
      const drops =
        (r.counters.spans_dropped_queue_full ?? 0) +
        (r.counters.spans_dropped_rejected ?? 0) +
        (r.counters.spans_dropped_export_failed ?? 0) +
        (r.counters.spans_dropped_shutdown ?? 0);
      process.stderr.write(
        `bench: ${p}: ${(r.cpuUs / r.spans).toFixed(2)} µs/span, ${r.spans} sessions at ${Math.round(r.rate * 2)}/s, exported ${r.counters.spans_exported}, dropped ${drops}\n`,
      );
      results.push(r);
    }
  }
  const row = (p: string) => {
    const rs = results.filter((r) => r.pipeline === p);
    const per = rs.map((r) => r.cpuUs / r.spans);
    const spans = rs.reduce((a, r) => a + r.spans, 0);
    // The counters cover the whole life of each agent: warm-up included.
    const all = rs.length * 2 * WARMUP + spans;
    const exported = rs.reduce((a, r) => a + (r.counters.spans_exported ?? 0), 0);
    const rate = rs.reduce((a, r) => a + r.rate * 2, 0) / rs.length;
    const mean = rs.reduce((a, r) => a + r.cpuUs, 0) / spans;
    return `| ${p} | ${mean.toFixed(2)} µs (${per.map((x) => x.toFixed(2)).join(', ')}) | ${Math.round(rate).toLocaleString('en')}/s | ${all.toLocaleString('en')} | ${exported.toLocaleString('en')} | ${(all - exported).toLocaleString('en')} (${((100 * (all - exported)) / all).toFixed(2)}%) |`;
  };
  const cpu = os.cpus();
  const report = `# tcplife-otel export-path benchmark

Run ${new Date().toISOString()} with \`npm run bench:export-path -- --runs ${runs} --connections ${connections}\`; ${cpu.length} vCPUs (${cpu[0]?.model.trim()}), Linux ${os.release()}, Node ${process.version}.

One python loader makes loopback connections one after another (${WARMUP.toLocaleString('en')} to warm up, then ${connections.toLocaleString('en')} measured, 2 sessions each); the agent traces the loader's pid only and exports to a receiver in its own process (queue 8192, batch 512, delay 200 ms). Agent CPU (utime+stime) from before the measured connections until the receiver got nothing for a second, over the sessions made.

| pipeline | agent CPU per span (per run) | sessions/s | sessions (warm-up included) | spans exported | dropped (counted by the agent) |
|---|---|---|---|---|---|
${row('direct')}
${row('sdk')}
`;
  writeFileSync(OUT, report);
  process.stdout.write(report);
}

main().catch((err) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
