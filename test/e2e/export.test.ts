// The command line exporting real sessions as spans to a real OTLP/gRPC
// receiver that decodes them independently of our encoder.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');

interface Agent {
  child: ChildProcess;
  stderr: () => string;
}

async function startAgent(env: Record<string, string>, args: string[] = []): Promise<Agent> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** One loopback conversation in a separate process: client sends 1234, server 567, client closes first. */
function conversation(): { port: number; pid: number; before: number; after: number } {
  const before = Date.now();
  const out = execFileSync('python3', ['-c', `
import os, socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
c = socket.create_connection(s.getsockname()); a, _ = s.accept()
c.sendall(b'x' * 1234); n = 0
while n < 1234: n += len(a.recv(65536))
a.sendall(b'y' * 567); n = 0
while n < 567: n += len(c.recv(65536))
c.close(); a.recv(1); a.close()
try: socket.create_connection(('127.0.0.1', 1))
except ConnectionRefusedError: pass
print(s.getsockname()[1], os.getpid())`], { timeout: 10_000 }).toString().trim().split(' ');
  return { port: Number(out[0]), pid: Number(out[1]), before, after: Date.now() };
}

const attr = (s: ReceivedSpan, key: string) => s.attributes[key];
const ms = (ns: bigint) => Number(ns / 1_000_000n);

describe('span export (OTEL_TRACES_EXPORTER=otlp)', () => {
  let receiver: OtlpReceiver | undefined;
  let agent: Agent | undefined;
  afterEach(async () => {
    if (agent && agent.child.exitCode === null) agent.child.kill('SIGKILL');
    agent = undefined;
    await receiver?.close();
    receiver = undefined;
  });

  it('real sessions arrive as spans with kinds, attributes, status and times', async () => {
    receiver = await startOtlpReceiver();
    agent = await startAgent({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      OTEL_BSP_SCHEDULE_DELAY: '50',
      OTEL_SERVICE_NAME: 'tlo-export-test',
    });
    const c = conversation();
    const deadline = Date.now() + 5000;
    let ours: ReceivedSpan[] = [];
    let refused: ReceivedSpan | undefined;
    while (Date.now() < deadline && (ours.length < 2 || !refused)) {
      await new Promise((r) => setTimeout(r, 50));
      ours = receiver.spans().filter((s) => Number(attr(s, 'server.port')) === c.port);
      refused = receiver.spans().find((s) => Number(attr(s, 'server.port')) === 1 && Number(attr(s, 'process.pid')) === c.pid);
    }
    const client = ours.find((s) => s.kind === 3);
    const server = ours.find((s) => s.kind === 2);
    assert.ok(client && server && refused, `spans: ${ours.length}, refused: ${!!refused}`);

    assert.equal(client.name, `TCP connect :${c.port}`);
    assert.equal(server.name, `TCP accept :${c.port}`);
    assert.equal(attr(client, 'network.transport'), 'tcp');
    assert.equal(attr(client, 'network.type'), 'ipv4');
    assert.equal(attr(client, 'network.peer.address'), '127.0.0.1');
    assert.equal(Number(attr(client, 'network.peer.port')), c.port);
    assert.equal(Number(attr(client, 'process.pid')), c.pid);
    assert.equal(attr(client, 'process.executable.name'), 'python3');
    assert.equal(Number(attr(client, 'tcplife.bytes_sent')), 1234);
    assert.equal(Number(attr(client, 'tcplife.bytes_received')), 567);
    assert.equal(Number(attr(server, 'tcplife.bytes_sent')), 567);
    assert.equal(Number(attr(server, 'tcplife.bytes_received')), 1234);
    assert.equal(attr(client, 'tcplife.outcome'), 'closed_locally');
    assert.equal(client.status.code, 0);
    assert.equal(refused.status.code, 2, 'a refused connect is an error');
    assert.equal(attr(refused, 'error.type'), 'ECONNREFUSED');
    assert.equal(client.resource.attributes['service.name'], 'tlo-export-test');
    for (const s of [client, server]) {
      assert.ok(ms(s.startTimeUnixNano) >= c.before - 5 && ms(s.endTimeUnixNano) <= c.after + 5, 'times within the conversation');
      assert.ok(s.endTimeUnixNano > s.startTimeUnixNano);
      assert.match(s.traceId, /^[0-9a-f]{32}$/);
    }

    agent.child.kill('SIGTERM');
    const [code] = await once(agent.child, 'exit');
    assert.equal(code, 0);
    assert.match(agent.stderr(), /spans_exported=\d+/);
  });

  it('SIGTERM flushes spans still waiting for their batch', async () => {
    receiver = await startOtlpReceiver();
    agent = await startAgent({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      OTEL_BSP_SCHEDULE_DELAY: '600000', // only the shutdown flush can send them
    });
    const c = conversation();
    await new Promise((r) => setTimeout(r, 300)); // the agent has them queued now
    assert.equal(receiver.spans().filter((s) => Number(attr(s, 'server.port')) === c.port).length, 0);
    agent.child.kill('SIGTERM');
    const [code] = await once(agent.child, 'exit');
    assert.equal(code, 0, agent.stderr());
    assert.equal(receiver.spans().filter((s) => Number(attr(s, 'server.port')) === c.port).length, 2);
    assert.match(agent.stderr(), /spans_dropped_shutdown=0/);
  });

  it('a bad OTEL_* value is a usage error naming the variable (exit 2)', async () => {
    const child = spawn(process.execPath, [CLI], {
      env: { ...process.env, OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const [code] = await once(child, 'exit');
    assert.equal(code, 2);
    assert.match(stderr, /OTEL_EXPORTER_OTLP_COMPRESSION: "brotli"/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });
});
