// What no other tool does, against the real kernel and a real OTLP receiver:
// both ends of a connection in one trace (one agent, or two agents in two
// network namespaces with NAT between them), sessions that were open before
// the agent started, and TCP health at close compared with `ss -ti`.
import { strict as assert } from 'node:assert';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AgentProcess } from '../support/agent-process';
import { createCgroup, type TestCgroup } from '../support/cgroups';
import { useNetnsPair } from '../support/netns';
import { SpanKind, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { driverName, killAllDrivers, startSessionDriver } from '../support/session-driver';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function otlpEnv(r: OtlpReceiver, service: string): Record<string, string> {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${r.port}`,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_SERVICE_NAME: service,
  };
}

const num = (v: unknown) => Number(v);
const byKind = (spans: ReceivedSpan[], kind: number) => spans.filter((s) => s.kind === kind);

/** A python program in a network namespace (killed after 30 s at the latest), its stdout collected. */
class NsProgram {
  readonly child: ChildProcess;
  out = '';
  err = '';
  constructor(netns: string, script: string, args: string[] = []) {
    // `ip netns exec` execs: the child is python itself, and kill() reaches it.
    this.child = spawn('ip', ['netns', 'exec', netns, 'python3', '-c', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    setTimeout(() => this.kill(), 30_000).unref();
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.out += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.err += d));
  }
  async line(re: RegExp, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = this.out.split('\n').find((x) => re.test(x));
      if (l) return l;
      if (Date.now() > deadline || this.child.exitCode !== null) throw new Error(`no line ${re} (stdout ${this.out}, stderr ${this.err})`);
      await sleep(10);
    }
  }
  exited(): Promise<void> {
    return new Promise((resolve) => (this.child.exitCode !== null ? resolve() : this.child.once('close', () => resolve())));
  }
  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Accepts connections forever; each: read until EOF, answer `reply` bytes after `expect` bytes, close. */
const SERVER = `
import socket, sys, threading
expect, reply = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 0)); s.listen(64)
print('port', s.getsockname()[1], flush=True)
def serve(c):
    got = 0
    while got < expect:
        b = c.recv(65536)
        if not b: break
        got += len(b)
    c.sendall(b's' * reply)
    while c.recv(65536): pass
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

describe('one trace per connection', function () {
  this.timeout(60_000);
  const pair = useNetnsPair();
  let receiver: OtlpReceiver;
  const agents: AgentProcess[] = [];
  const programs: NsProgram[] = [];

  before(async () => (receiver = await startOtlpReceiver()));
  afterEach(() => {
    killAllDrivers();
    for (const p of programs.splice(0)) p.kill();
    for (const a of agents.splice(0)) a.kill();
    receiver.requests.length = 0;
  });
  after(async () => {
    try {
      execFileSync('ip', ['netns', 'exec', pair().a.netns, 'nft', 'delete', 'table', 'ip', 'tlo_nat'], { stdio: 'ignore' });
    } catch {
      /* gone with the namespace anyway */
    }
    await receiver.close();
  });

  it('one agent seeing both ends: one trace, the server span a child of the client span', async () => {
    const driver = await startSessionDriver(driverName('tr1'));
    const agent = new AgentProcess(['-p', String(driver.pid)], otlpEnv(receiver, 'tlo-one'));
    agents.push(agent);
    await agent.ready();
    const port = await driver.listen('127.0.0.1');
    await driver.talk({ host: '127.0.0.1', port, clientSends: 10, serverSends: 20 });
    await driver.talk({ host: '127.0.0.1', port, clientSends: 30, serverSends: 40 });
    const spans = await receiver.waitForSpans(4);
    const traces = new Map<string, ReceivedSpan[]>();
    for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s]);
    assert.equal(traces.size, 2, 'two connections, two traces');
    for (const [, t] of traces) {
      const [client] = byKind(t, SpanKind.CLIENT);
      const [server] = byKind(t, SpanKind.SERVER);
      assert.ok(client && server, 'a client and a server span in each trace');
      assert.equal(client.parentSpanId, '', 'the client span is the root');
      assert.equal(server.parentSpanId, client.spanId, 'the server span is its child');
      assert.equal(num(client.attributes['network.local.port']), num(server.attributes['network.peer.port']));
    }
  });

  it('two agents, each scoped to one network namespace of a veth pair, with NAT between: one trace per connection', async () => {
    const { a, b } = pair();
    const server = new NsProgram(b.netns, SERVER, ['100', '200']);
    programs.push(server);
    const serverPort = Number((await server.line(/^port \d+/)).split(' ')[1]);
    // In a: 198.51.100.10:80 is a virtual address, rewritten to b's
    // address and port (DNAT), and the client's address to a second one
    // of a's (SNAT): no address or port is the same at both ends.
    const nft = `table ip tlo_nat {
      chain out { type nat hook output priority -100; ip daddr 198.51.100.10 tcp dport 80 dnat to ${b.ipv4}:${serverPort}; }
      chain post { type nat hook postrouting priority 100; ip daddr ${b.ipv4} tcp dport ${serverPort} snat to 192.0.2.11; }
    }`;
    execFileSync('ip', ['netns', 'exec', a.netns, 'ip', 'addr', 'add', '192.0.2.11/24', 'dev', a.ifname]);
    execFileSync('ip', ['netns', 'exec', a.netns, 'ip', 'route', 'add', '198.51.100.0/24', 'dev', a.ifname]);
    execFileSync('ip', ['netns', 'exec', a.netns, 'nft', '-f', '-'], { input: nft });

    const agentA = new AgentProcess(['--netns', `/var/run/netns/${a.netns}`], otlpEnv(receiver, 'tlo-agent-a'));
    const agentB = new AgentProcess(['--netns', `/var/run/netns/${b.netns}`], otlpEnv(receiver, 'tlo-agent-b'));
    agents.push(agentA, agentB);
    await Promise.all([agentA.ready(), agentB.ready()]);

    const client = new NsProgram(
      a.netns,
      `
import socket
for i in range(3):
    c = socket.create_connection(('198.51.100.10', 80), timeout=10)
    c.sendall(b'c' * 100)
    got = 0
    while got < 200:
        got += len(c.recv(65536))
    c.close()
print('done', flush=True)
`,
    );
    programs.push(client);
    await client.line(/^done/);
    const spans = await receiver.waitForSpans(6, 10_000);
    await sleep(300);
    assert.equal(receiver.spans().length, 6, 'three connections, two ends each');
    const traces = new Map<string, ReceivedSpan[]>();
    for (const s of spans) traces.set(s.traceId, [...(traces.get(s.traceId) ?? []), s]);
    assert.equal(traces.size, 3);
    for (const [, t] of traces) {
      const [c] = byKind(t, SpanKind.CLIENT);
      const [s] = byKind(t, SpanKind.SERVER);
      assert.ok(c && s, 'both ends of the connection');
      assert.equal(c.resource.attributes['service.name'], 'tlo-agent-a');
      assert.equal(s.resource.attributes['service.name'], 'tlo-agent-b');
      assert.equal(s.parentSpanId, c.spanId);
      // NAT was in the way: the ends disagree on every address and port but the server's own.
      assert.equal(c.attributes['network.peer.address'], '198.51.100.10');
      assert.equal(num(c.attributes['network.peer.port']), 80);
      assert.equal(s.attributes['network.peer.address'], '192.0.2.11');
      assert.equal(num(s.attributes['network.local.port']), serverPort);
      assert.equal(num(c.attributes['tcplife.bytes_sent']), 100);
      assert.equal(num(s.attributes['tcplife.bytes_received']), 100);
    }
  });
});

describe('sessions open before the agent started', function () {
  this.timeout(30_000);
  let receiver: OtlpReceiver;
  let agent: AgentProcess | undefined;
  before(async () => (receiver = await startOtlpReceiver()));
  after(async () => {
    killAllDrivers();
    agent?.kill();
    await receiver.close();
  });

  it('are found at start, then reported at close: partial, from when they were found, with owner, role and one trace', async () => {
    const driver = await startSessionDriver(driverName('old'));
    const port = await driver.listen('127.0.0.1');
    const open = await driver.open('127.0.0.1', port); // one byte each way
    const before = BigInt(Date.now()) * 1_000_000n;
    agent = new AgentProcess(['-p', String(driver.pid)], otlpEnv(receiver, 'tlo-old'));
    await agent.ready();
    const found = await agent.waitForStderr(/found \d+ TCP sessions open at start/, 'the found line');
    assert.ok(Number(/found (\d+)/.exec(found)![1]) >= 2, found);
    const ready = BigInt(Date.now()) * 1_000_000n;
    await driver.closeOpen(open.handle);
    const spans = await receiver.waitForSpans(2);
    const [client] = byKind(spans, SpanKind.CLIENT);
    const [server] = byKind(spans, SpanKind.SERVER);
    assert.ok(client && server, `roles told at start: ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(num(client.attributes['network.local.port']), open.clientPort);
    assert.equal(client.name, `TCP connect :${port}`);
    assert.equal(server.name, `TCP accept :${port}`);
    for (const s of [client, server]) {
      assert.equal(s.attributes['tcplife.partial'], true);
      assert.equal(s.attributes['tcplife.found_at_start'], true);
      assert.equal(s.attributes['tcplife.owner_source'], 'found');
      assert.equal(num(s.attributes['process.pid']), driver.pid);
      assert.equal(s.attributes['process.executable.name'], driver.name);
      assert.equal(num(s.attributes['tcplife.bytes_sent']), 1, 'payload bytes exact: the SYN is not counted');
      assert.equal(num(s.attributes['tcplife.bytes_received']), 1);
      assert.ok(s.startTimeUnixNano >= before && s.startTimeUnixNano <= ready, 'starts when it was found');
    }
    assert.equal(server.traceId, client.traceId);
    assert.equal(server.parentSpanId, client.spanId);
  });
});

describe('TCP health at close, against ss -ti', function () {
  this.timeout(60_000);
  const pair = useNetnsPair();
  let agent: AgentProcess | undefined;
  const programs: NsProgram[] = [];
  after(() => {
    agent?.kill();
    for (const p of programs) p.kill();
  });

  it('RTT, segments in and out, and retransmissions (every 7th segment dropped) match what ss showed just before the close', async () => {
    const { a, b } = pair();
    const server = new NsProgram(b.netns, SERVER, ['300000', '1000']);
    programs.push(server);
    const port = Number((await server.line(/^port \d+/)).split(' ')[1]);
    agent = new AgentProcess(['-j', '--netns', `/var/run/netns/${a.netns}`]);
    await agent.ready();
    // The server's side drops every 7th segment from a, after the wire: a
    // retransmits (a drop in a's own output would only delay the send).
    execFileSync('ip', ['netns', 'exec', b.netns, 'nft', '-f', '-'], {
      input: `table inet tlo_loss {
        chain in { type filter hook input priority 0; ip saddr ${a.ipv4} tcp dport ${port} numgen inc mod 7 == 3 drop; }
      }`,
    });
    const client = new NsProgram(
      a.netns,
      `
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
c.sendall(b'c' * 300000)
got = 0
while got < 1000:
    got += len(c.recv(65536))
print('sent', c.getsockname()[1], flush=True)
sys.stdin.readline()
c.close()
print('closed', flush=True)
`,
      [b.ipv4, String(port)],
    );
    programs.push(client);
    const clientPort = Number((await client.line(/^sent \d+/)).split(' ')[1]);
    execFileSync('ip', ['netns', 'exec', b.netns, 'nft', 'delete', 'table', 'inet', 'tlo_loss']); // no loss while closing
    await sleep(300); // let the last ACKs settle
    const ss = execFileSync('ip', ['netns', 'exec', a.netns, 'ss', '-tinH', 'sport', `= :${clientPort}`], { encoding: 'utf8' });
    const field = (re: RegExp) => {
      const m = re.exec(ss);
      assert.ok(m, `${re} in: ${ss}`);
      return m.slice(1).map(Number);
    };
    const [rtt] = field(/\brtt:([\d.]+)\//);
    const [segsOut] = field(/\bsegs_out:(\d+)/);
    const [segsIn] = field(/\bsegs_in:(\d+)/);
    const retransTotal = /\bretrans:\d+\/(\d+)/.exec(ss) ? field(/\bretrans:\d+\/(\d+)/)[0] : 0;
    const [bytesRetrans] = /\bbytes_retrans:(\d+)/.exec(ss) ? field(/\bbytes_retrans:(\d+)/) : [0];
    client.child.stdin!.end('\n');
    await client.line(/^closed/);

    let session: Record<string, unknown> | undefined;
    for (let i = 0; i < 200 && !session; i++) {
      session = agent.jsonLines().find((s) => s.lport === clientPort);
      if (!session) await sleep(20);
    }
    assert.ok(session, agent.describe());
    assert.ok(retransTotal > 0, `the drops caused retransmissions: ${ss}`);
    assert.equal(session.retrans_segments, retransTotal, 'no retransmission after ss looked (the loss was removed first)');
    assert.equal(session.retrans_bytes, bytesRetrans);
    // Closing adds a few segments: our FIN, the last ACK; their FIN and ACK.
    const out = session.segs_out as number;
    const inn = session.segs_in as number;
    assert.ok(out >= segsOut && out <= segsOut + 3, `segs_out ${out} vs ss ${segsOut}`);
    assert.ok(inn >= segsIn && inn <= segsIn + 3, `segs_in ${inn} vs ss ${segsIn}`);
    // The close adds an RTT sample (our FIN's ACK, which waits for the
    // server program to close too): the smoothed RTT moves by 1/8 of its
    // difference. Sub-millisecond here, so within 1 ms.
    const r = session.rtt_ms as number;
    assert.ok(r > 0 && Math.abs(r - rtt) <= 1, `rtt ${r} ms vs ss ${rtt} ms`);
  });
});

describe('service attribution', function () {
  this.timeout(30_000);
  let receiver: OtlpReceiver;
  let agent: AgentProcess | undefined;
  let cg: TestCgroup | undefined;
  before(async () => (receiver = await startOtlpReceiver()));
  after(async () => {
    killAllDrivers();
    agent?.kill();
    cg?.destroy();
    await receiver.close();
  });

  it("rules by process name, local port and cgroup put each session under its service; the rest keep the agent's", async () => {
    cg = createCgroup();
    const web = await startSessionDriver(driverName('web'));
    const db = await startSessionDriver(driverName('dbs'), { cgroup: cg.child('db.service') });
    const other = await startSessionDriver(driverName('oth'));
    const webPort = await web.listen('127.0.0.1');
    const dbPort = await db.listen('127.0.0.1');
    const otherPort = await other.listen('127.0.0.1');
    const cgroupPath = `/${cg.path.split('/').pop()}`; // relative to the cgroup2 mount
    agent = new AgentProcess(
      [
        '--comm',
        `${web.name},${db.name},${other.name}`,
        '--service',
        `web-front=comm:${web.name};port:${webPort}`,
        '--service',
        `web-client=comm:${web.name}`,
        '--service',
        `database=cgroup:${cgroupPath}`,
      ],
      otlpEnv(receiver, 'tlo-default'),
    );
    await agent.ready();
    await web.talk({ host: '127.0.0.1', port: webPort, clientSends: 5 });
    await db.talk({ host: '127.0.0.1', port: dbPort, clientSends: 5 });
    await other.talk({ host: '127.0.0.1', port: otherPort, clientSends: 5 });
    const spans = await receiver.waitForSpans(6);
    const serviceOf = (port: number, kind: number) =>
      spans.find((s) => s.kind === kind && num(s.attributes[kind === SpanKind.SERVER ? 'network.local.port' : 'network.peer.port']) === port)?.resource
        .attributes['service.name'];
    assert.equal(serviceOf(webPort, SpanKind.SERVER), 'web-front', 'its listening port and name');
    assert.equal(serviceOf(webPort, SpanKind.CLIENT), 'web-client', 'the name alone: its port is ephemeral');
    assert.equal(serviceOf(dbPort, SpanKind.SERVER), 'database', "a process in a cgroup below the rule's");
    assert.equal(serviceOf(dbPort, SpanKind.CLIENT), 'database');
    assert.equal(serviceOf(otherPort, SpanKind.SERVER), 'tlo-default', "no rule: the agent's own service.name");
    assert.equal(serviceOf(otherPort, SpanKind.CLIENT), 'tlo-default');
  });

  it('SIGHUP applies changed rules to the sessions that close from then on', async () => {
    agent?.kill(); // the previous test's
    const dir = mkdtempSync(path.join(tmpdir(), 'tlo-services-'));
    try {
      const driver = await startSessionDriver(driverName('svc'));
      const port = await driver.listen('127.0.0.1');
      const file = path.join(dir, 'services.yaml');
      writeFileSync(file, `services:\n  - name: before\n    comms: [${driver.name}]\n`);
      receiver.requests.length = 0;
      agent = new AgentProcess(['--config', file, '-p', String(driver.pid)], otlpEnv(receiver, 'tlo-default'));
      await agent.ready();
      await driver.talk({ host: '127.0.0.1', port, clientSends: 1 });
      await receiver.waitForSpans(2);
      writeFileSync(file, `services:\n  - name: after\n    comms: [${driver.name}]\n`);
      const mark = agent.stderr.length;
      agent.signal('SIGHUP');
      await agent.waitForStderr(/configuration reloaded/, 'the reload', 10_000, mark);
      await driver.talk({ host: '127.0.0.1', port, clientSends: 1 });
      const spans = await receiver.waitForSpans(4);
      assert.deepEqual(
        spans.map((x) => x.resource.attributes['service.name']),
        ['before', 'before', 'after', 'after'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
