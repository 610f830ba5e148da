// The benchmark's comparison path (test/bench/sdk-agent.ts): the command
// line exporting real sessions through the stock OpenTelemetry SDK, checked
// by the receiver that decodes OTLP independently of both pipelines.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { SpanKind, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');
const SDK_AGENT = path.resolve(__dirname, '..', 'bench', 'sdk-agent.js');

/** Runs the CLI until it says it is attached. */
async function startAgent(env: Record<string, string>): Promise<{ child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, [SDK_AGENT], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  const deadline = Date.now() + 10_000;
  while (!stderr.includes('attached in')) {
    if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`agent did not attach: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, stderr: () => stderr };
}

/** One loopback session in a separate process: the client sends 321 bytes, the server 45, the client closes first. */
function conversation(): { port: number; pid: number } {
  const out = execFileSync(
    'python3',
    [
      '-c',
      `
import os, socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
c.sendall(b'x' * 321); n = 0
while n < 321: n += len(a.recv(65536))
a.sendall(b'y' * 45); n = 0
while n < 45: n += len(c.recv(65536))
c.close(); a.recv(1); a.close()
print(s.getsockname()[1], os.getpid())`,
    ],
    { timeout: 10_000 },
  )
    .toString()
    .trim()
    .split(' ');
  return { port: Number(out[0]), pid: Number(out[1]) };
}

describe('span export through the stock OpenTelemetry SDK (test/bench/sdk-agent.ts)', () => {
  let receiver: OtlpReceiver | undefined;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    child = undefined;
    await receiver?.close();
    receiver = undefined;
  });

  it('a real session arrives as a valid OTLP span with its name, kind and bytes', async () => {
    receiver = await startOtlpReceiver();
    const agent = await startAgent({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_SERVICE_NAME: 'tlo-export-sdk-test',
      OTEL_METRICS_EXPORTER: 'none', // this receiver serves traces only
    });
    child = agent.child;
    const c = conversation();
    const deadline = Date.now() + 5000;
    let client: ReceivedSpan | undefined;
    while (Date.now() < deadline && !client) {
      await new Promise((r) => setTimeout(r, 50));
      client = receiver.spans().find((s) => s.kind === SpanKind.CLIENT && Number(s.attributes['server.port']) === c.port);
    }
    assert.ok(client, `no client span for port ${c.port}; stderr: ${agent.stderr()}`);
    assert.ok(
      receiver.requests.every((r) => r.decodeError === undefined),
      'every request decodes',
    );

    assert.equal(client.name, `TCP connect :${c.port}`);
    assert.equal(client.attributes['tcplife.bytes_sent'], 321n, 'an OTLP int');
    assert.equal(client.attributes['tcplife.bytes_received'], 45n);
    assert.equal(client.attributes['process.pid'], BigInt(c.pid));
    assert.equal(client.attributes['tcplife.outcome'], 'closed_locally');
    assert.equal(client.status.code, 0);
    assert.ok(client.endTimeUnixNano > client.startTimeUnixNano);
    assert.match(client.traceId, /^[0-9a-f]{32}$/);
    // The connection's ids, through the SDK: the server end in the client's trace, its child.
    let server: ReceivedSpan | undefined;
    while (Date.now() < deadline && !server) {
      server = receiver.spans().find((s) => s.kind === SpanKind.SERVER && Number(s.attributes['server.port']) === c.port);
      if (!server) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(server, 'the server span');
    assert.equal(server.traceId, client.traceId);
    assert.equal(server.parentSpanId, client.spanId);
    assert.equal(client.parentSpanId, '');
    assert.equal(client.resource.attributes['service.name'], 'tlo-export-sdk-test');
    assert.equal(client.scope.name, 'tcplife-otel');

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0, agent.stderr());
    assert.match(agent.stderr(), /stopped .* spans_exported=\d+ spans_dropped_queue_full=0 .*spans_started=\d+/);
    assert.doesNotMatch(agent.stderr(), /OpenTelemetry SDK (error|warning)/);
  });

  it('the product does not load the stock trace SDK: its modules stay out of the command line', () => {
    // A fresh node: what requiring the command line (which then does not run) pulls in.
    const loaded = execFileSync(process.execPath, [
      '-e',
      `
      const Module = require('module'); const seen = [];
      const load = Module._load; Module._load = function (r, ...a) { seen.push(r); return load.call(this, r, ...a); };
      require(${JSON.stringify(CLI)});
      console.log(seen.join('\\n'));`,
    ]).toString();
    assert.doesNotMatch(loaded, /@opentelemetry\/(sdk-trace-base|sdk-node|exporter-trace-otlp-grpc)/);
  });
});
