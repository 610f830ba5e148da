#!/usr/bin/env node
// tcplife-otel's command line: flags -> probe -> terminal. Exit codes:
// 0 normal stop (SIGINT/SIGTERM), 1 the probe could not start, 2 bad usage.
import { Agent, type AgentCounters } from './agent';
import { parseCliArgs, UsageError, USAGE, type CliOptions } from './cli/options';
import { ProbeError, SessionProbe } from './kernel/probe';
import { ConsoleSink } from './output/console-sink';
import { FdWriter } from './output/fd-writer';
import type { SessionSink } from './sessions/session-sink';
import { resolveOtlpTraceConfig } from './telemetry/otlp-config';
import { detectResource } from './telemetry/resource';
import { OtlpSpanExporter } from './telemetry/span-exporter';
import { SpanSink } from './telemetry/span-sink';
import { readFileSync } from 'node:fs';

const NAME = 'tcplife-otel';
// dist/src/cli.js -> the repository's package.json: one version, declared once.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const VERSION: string = require('../../package.json').version;

function fail(message: string, status: number): never {
  process.stderr.write(`${NAME}: ${message}\n`);
  process.exit(status);
}

function formatCounters(c: AgentCounters): string {
  return Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function describeAttach(mechanism: string, ownerFromIo: boolean, ms: number): string {
  const hook = mechanism === 'tp_btf' ? 'tp_btf/inet_sock_set_state' : 'tracepoint sock:inet_sock_set_state';
  const owners = ownerFromIo
    ? 'owners of accepted sockets from their first send/recv'
    : 'owners of accepted sockets from close()';
  return `${NAME}: tracing TCP sessions via ${hook} (${owners}); attached in ${ms.toFixed(0)} ms\n`;
}

/** How long pending spans may take to reach the collector at SIGINT/SIGTERM. */
const SHUTDOWN_FLUSH_MS = 5000;

/**
 * The outputs OTEL_TRACES_EXPORTER asks for: none set (or OTEL_SDK_DISABLED)
 * keeps tcplife's terminal output; 'otlp' exports spans; 'console' is the
 * terminal output. A bad OTEL_* value is a usage error (exit 2).
 */
function traceExporters(): { console: boolean; otlp?: OtlpSpanExporter } {
  const { config, errors } = resolveOtlpTraceConfig(process.env);
  if (errors.length) fail(errors.join('\n'), 2);
  if (config.disabled || !config.exporters.includes('otlp')) return { console: true };
  const read = (file: string | undefined, what: string) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      return fail(`cannot read the ${what} ${file}: ${(err as Error).message}`, 2);
    }
  };
  const tls = {
    ca: read(config.certificateFile, 'CA certificate (OTEL_EXPORTER_OTLP_CERTIFICATE)'),
    key: read(config.clientKeyFile, 'client key (OTEL_EXPORTER_OTLP_CLIENT_KEY)'),
    cert: read(config.clientCertificateFile, 'client certificate (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)'),
  };
  const resource = detectResource();
  for (const w of resource.warnings) process.stderr.write(`${NAME}: ${w}\n`);
  const scope = { name: NAME, version: VERSION };
  return {
    console: config.exporters.includes('console'),
    otlp: new OtlpSpanExporter(config, resource.attributes, scope, tls),
  };
}

function main(argv: string[]): void {
  let opts: CliOptions;
  try {
    opts = parseCliArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${NAME}: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw err;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }

  let probe: SessionProbe;
  try {
    probe = new SessionProbe({ attach: opts.attach });
  } catch (err) {
    fail((err as Error).message, 1); // the addon is missing or does not load
  }
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    void agent.stop(SHUTDOWN_FLUSH_MS).then((counters) => {
      process.stderr.write(`${NAME}: stopped (${reason}): ${formatCounters(counters)}\n`);
      process.exit(0);
    });
  };
  // stdout is written with write(2) on fd 1 (see FdWriter), never through
  // process.stdout. A closed pipe (`| head`) ends tracing quietly.
  const onWriteError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') setImmediate(() => stop('output closed'));
    else fail(`cannot write output: ${err.message}`, 1);
  };
  const sinks: SessionSink[] = [];
  const exporters = traceExporters();
  if (exporters.console) sinks.push(new ConsoleSink(new FdWriter(1), { json: opts.json, table: opts.table }, onWriteError));
  if (exporters.otlp) sinks.push(new SpanSink(exporters.otlp));
  const agent = new Agent(probe, opts.filters, sinks);
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  try {
    const info = agent.start();
    process.stderr.write(describeAttach(info.mechanism, info.ownerFromSocketIo, info.attachMs));
  } catch (err) {
    if (err instanceof ProbeError) {
      if (opts.verbose && err.libbpfLog) process.stderr.write(err.libbpfLog);
      fail(err.message, 1);
    }
    throw err;
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  // Anything unexpected still gets one line, not a stack (set DEBUG for it).
  if (process.env.DEBUG) throw err;
  fail(`internal error: ${(err as Error).message}`, 1);
}
