// The command line exporting real sessions as spans to a real OTLP/gRPC
// receiver that decodes them independently of our encoder.
//
// Every agent here traces only the sessions of one session-driver process
// (python3, see session-driver.ts) with `-p PID`: the agent's own connections
// to the collector (it traces itself), other tests' sessions and whatever
// else runs on the machine (benchmarks included) are filtered out in the
// kernel, so span and counter values can be exact. (-L and -D would not do:
// filters of different kinds combine with AND, so `-L P -D P` never matches
// a session to or from P, and either alone keeps only one end of it.)
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { startH2Sniffer, type H2Sniffer } from '../support/h2-sniffer';
import {
  makeSelfSignedCert,
  SpanKind,
  startOtlpReceiver,
  StatusCode,
  type OtlpReceiver,
  type OtlpReceiverOptions,
  type ReceivedSpan,
  type SelfSignedCert,
} from '../support/otlp-receiver';
import { startSessionDriver, type SessionDriver, type TalkedSession, type TalkSpec } from '../support/session-driver';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');

/** How far a span's times may stray outside what the session driver observed. */
const CLOCK_SLACK_MS = 5;
const SLACK_NS = BigInt(CLOCK_SLACK_MS) * 1_000_000n;

interface Agent {
  child: ChildProcess;
  stderr: () => string;
  /** Lines of stdout (JSON lines when run with -j and OTEL_TRACES_EXPORTER=otlp,console). */
  stdoutLines: () => string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const agents: Agent[] = [];

async function startAgent(env: Record<string, string>, args: string[] = []): Promise<Agent> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const agent: Agent = {
    child,
    stderr: () => stderr,
    stdoutLines: () => stdout.split('\n').filter((l) => l !== ''),
    exited,
  };
  agents.push(agent);
  const deadline = Date.now() + 10_000;
  while (!stderr.includes('attached in')) {
    if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`agent did not attach: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return agent;
}

/** The counters of the agent's final stderr line (`stopped (SIGTERM): k=v ...`). */
function finalCounters(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => /: stopped \(/.test(l));
  assert.ok(line, `no final counters line in stderr: ${stderr}`);
  const counters: Record<string, number> = {};
  for (const [, k, v] of line.matchAll(/(\w+)=(\d+)/g)) counters[k] = Number(v);
  return counters;
}

/** SIGTERM, then the exit (bounded) and the final counters. */
async function stopAgent(agent: Agent, timeoutMs = 15_000): Promise<{ code: number | null; counters: Record<string, number> }> {
  agent.child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`agent did not exit within ${timeoutMs} ms of SIGTERM: ${agent.stderr()}`)), timeoutMs);
  });
  try {
    const { code } = await Promise.race([agent.exited, timeout]);
    return { code, counters: finalCounters(agent.stderr()) };
  } finally {
    clearTimeout(timer);
  }
}

/** Asserts that the agent printed no error or warning (its attach and counters lines aside). */
function assertNoComplaints(agent: Agent): void {
  const lines = agent
    .stderr()
    .split('\n')
    .filter((l) => l && !/attached in \d+ ms$|: stopped \(|: counters: /.test(l));
  assert.deepEqual(
    lines.filter((l) => /error|warn|fail/i.test(l)),
    [],
    `stderr: ${agent.stderr()}`,
  );
}

/** Polls check() every 20 ms until it returns something other than undefined/false; fails after timeoutMs. */
async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = check();
    if (result !== undefined && result !== false) return result;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A port nothing listens on, outside the ephemeral range (so no client
 * socket, such as the agent's own connection attempts, can be given it as a
 * local port while the test waits to start the receiver there).
 */
async function unusedPort(): Promise<number> {
  const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const lowest = 10_000;
  const highest = Math.max(lowest + 100, Math.min(low, 65536) - 1);
  for (let i = 0; i < 50; i++) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest));
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no unused port found');
}

const attr = (s: ReceivedSpan, key: string) => s.attributes[key];
const ms = (ns: bigint) => Number(ns / 1_000_000n);

/** The environment for span export to `endpoint`, batches sent 50 ms after their first span. */
function otlpEnv(endpoint: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '50',
    ...extra,
  };
}

/**
 * The client and server spans of one made session (exactly one each), found
 * by the client's port.
 */
function spansOf(spans: ReceivedSpan[], s: TalkedSession): { client: ReceivedSpan; server: ReceivedSpan } {
  const clientPort = BigInt(s.client.localPort);
  const clients = spans.filter((x) => x.kind === SpanKind.CLIENT && attr(x, 'network.local.port') === clientPort);
  const servers = spans.filter((x) => x.kind === SpanKind.SERVER && attr(x, 'network.peer.port') === clientPort);
  assert.equal(clients.length, 1, `one client span for :${s.client.localPort}, got ${clients.length}`);
  assert.equal(servers.length, 1, `one server span for :${s.client.localPort}, got ${servers.length}`);
  return { client: clients[0], server: servers[0] };
}

/** What a span of `end` must carry whatever happened, by role. */
function addressAttributes(role: 'client' | 'server', s: TalkedSession, type: 'ipv4' | 'ipv6'): Record<string, unknown> {
  const mine = role === 'client' ? s.client : s.server;
  // The client's server.* is what the client connected to; the server's
  // client.* is the peer the server accepted: both as the sockets saw them.
  const server = role === 'client' ? { address: s.client.peerAddress, port: s.client.peerPort } : { address: s.server.localAddress, port: s.server.localPort };
  const client = role === 'client' ? { address: s.client.localAddress, port: s.client.localPort } : { address: s.server.peerAddress, port: s.server.peerPort };
  return {
    'network.transport': 'tcp',
    'network.type': type,
    'network.local.address': mine.localAddress,
    'network.local.port': BigInt(mine.localPort),
    'network.peer.address': mine.peerAddress,
    'network.peer.port': BigInt(mine.peerPort),
    'server.address': server.address,
    'server.port': BigInt(server.port),
    'client.address': client.address,
    'client.port': BigInt(client.port),
  };
}

/** The span's attributes without the ones whose value the test cannot know exactly. */
/** The attributes a test can know exactly: timing and segment counts left out (checked apart). */
function stableAttributes(s: ReceivedSpan): Record<string, unknown> {
  const {
    'tcplife.handshake_ms': _h,
    'tcplife.state_before_close': _st,
    'tcplife.rtt_ms': rtt,
    'tcplife.rttvar_ms': rttvar,
    'tcplife.segments_in': segsIn,
    'tcplife.segments_out': segsOut,
    ...rest
  } = s.attributes;
  assert.ok(typeof rtt === 'number' && rtt > 0 && typeof rttvar === 'number', `an RTT: ${rtt}/${rttvar}`);
  assert.ok(Number(segsIn) > 0 && Number(segsOut) > 0, `segments counted: ${segsIn}/${segsOut}`);
  return rest;
}

/** `t` within [from - slack, to + slack]. */
function assertWithin(what: string, t: bigint, from: bigint, to: bigint): void {
  assert.ok(
    t >= from - SLACK_NS && t <= to + SLACK_NS,
    `${what} ${t} not within ${CLOCK_SLACK_MS} ms of [${from}, ${to}] (off by ${t < from ? ms(from - t) : ms(t - to)} ms)`,
  );
}

/** Birth within connect(), close within the closing step; handshake time consistent. */
function assertTimes(what: string, span: ReceivedSpan, s: TalkedSession): void {
  assertWithin(`${what} start`, span.startTimeUnixNano, s.times.connectStart, s.times.connectEnd);
  assertWithin(`${what} end`, span.endTimeUnixNano, s.times.closeStart, s.times.closeEnd);
  const handshakeMs = attr(span, 'tcplife.handshake_ms');
  assert.equal(typeof handshakeMs, 'number', `${what}: tcplife.handshake_ms is a double`);
  const durationMs = Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6;
  assert.ok((handshakeMs as number) >= 0 && (handshakeMs as number) <= durationMs, `${what}: 0 <= handshake ${handshakeMs} <= duration ${durationMs} ms`);
}

/** Every span once: no span id twice among the spans of accepted (OK) requests. */
function acceptedSpans(receiver: OtlpReceiver): ReceivedSpan[] {
  const spans = receiver.spans().filter((s) => receiver.requests[s.requestIndex].responseCode === grpc.status.OK);
  const ids = new Set(spans.map((s) => s.spanId));
  assert.equal(ids.size, spans.length, 'no span accepted twice');
  return spans;
}

const NO_DROPS = { spans_dropped_queue_full: 0, spans_dropped_rejected: 0, spans_dropped_shutdown: 0 };
const pick = (c: Record<string, number>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, c[k]]));
/** A conversation with the maker's listener. */
type Conversation = Required<Pick<TalkSpec, 'clientSends' | 'serverSends' | 'close'>>;
const ORDERLY: Conversation = { clientSends: 3000, serverSends: 700, close: 'client-first' };

/**
 * A session driver named python3 (the process.executable.name its spans
 * carry) listening on `host`, an ephemeral port: the server end of every
 * session it makes.
 */
interface SessionMaker {
  driver: SessionDriver;
  pid: number;
  host: '127.0.0.1' | '::1';
  port: number;
  /** Makes the conversations one after the other, each complete (both ends closed) before the next connects. */
  run(specs: Conversation[]): Promise<TalkedSession[]>;
}

describe('span export (OTEL_TRACES_EXPORTER=otlp)', function () {
  this.timeout(40_000);
  const receivers: OtlpReceiver[] = [];
  const makers: SessionDriver[] = [];
  const cleanups: Array<() => void | Promise<void>> = [];

  const receiver = async (options: OtlpReceiverOptions = {}): Promise<OtlpReceiver> => {
    const r = await startOtlpReceiver(options);
    receivers.push(r);
    return r;
  };
  const maker = async (host: '127.0.0.1' | '::1' = '127.0.0.1'): Promise<SessionMaker> => {
    const driver = await startSessionDriver('python3');
    makers.push(driver);
    const port = await driver.listen(host);
    const run = async (specs: Conversation[]): Promise<TalkedSession[]> => {
      const made: TalkedSession[] = [];
      for (const spec of specs) made.push(await driver.talk({ host, port, ...spec }));
      return made;
    };
    return { driver, pid: driver.pid, host, port, run };
  };
  const cert = (commonName?: string): SelfSignedCert => {
    const c = makeSelfSignedCert({ commonName });
    cleanups.push(() => c.cleanup());
    return c;
  };

  afterEach(async () => {
    // SIGTERM first (a clean detach), SIGKILL if it does not go within 1 s.
    for (const a of agents.splice(0)) {
      if (a.child.exitCode !== null || a.child.signalCode !== null) continue;
      a.child.kill('SIGTERM');
      const killer = setTimeout(() => a.child.kill('SIGKILL'), 1000);
      await a.exited;
      clearTimeout(killer);
    }
    for (const m of makers.splice(0)) m.kill();
    for (const r of receivers.splice(0)) await r.close();
    for (const c of cleanups.splice(0)) await c();
  });

  it('real sessions arrive as spans with kinds, attributes, status and times', async () => {
    const r = await receiver();
    const m = await maker();
    const dead = await unusedPort();
    const agent = await startAgent(otlpEnv(`http://127.0.0.1:${r.port}`, { OTEL_SERVICE_NAME: 'tlo-export-test' }), ['-p', String(m.pid)]);
    const [c0] = await m.run([{ clientSends: 1234, serverSends: 567, close: 'client-first' }]);
    const refusal = await m.driver.refuse(m.host, dead);
    await r.waitForSpans(3, 10_000);
    const { client, server } = spansOf(r.spans(), c0);
    const refused = r.spans().find((s) => s.kind === SpanKind.CLIENT && attr(s, 'network.peer.port') === BigInt(dead));
    assert.ok(refused, 'the refused connect has its span');

    assert.equal(client.name, `TCP connect :${m.port}`);
    assert.equal(server.name, `TCP accept :${m.port}`);
    assert.equal(attr(client, 'network.transport'), 'tcp');
    assert.equal(attr(client, 'network.type'), 'ipv4');
    assert.equal(attr(client, 'network.peer.address'), '127.0.0.1');
    assert.equal(Number(attr(client, 'network.peer.port')), m.port);
    assert.equal(Number(attr(client, 'process.pid')), m.pid);
    assert.equal(attr(client, 'process.executable.name'), 'python3');
    assert.equal(Number(attr(client, 'tcplife.bytes_sent')), 1234);
    assert.equal(Number(attr(client, 'tcplife.bytes_received')), 567);
    assert.equal(Number(attr(server, 'tcplife.bytes_sent')), 567);
    assert.equal(Number(attr(server, 'tcplife.bytes_received')), 1234);
    assert.equal(attr(client, 'tcplife.outcome'), 'closed_locally');
    assert.equal(attr(server, 'tcplife.outcome'), 'closed_by_peer');
    assert.equal(client.status.code, StatusCode.UNSET);
    assert.equal(refused.name, `TCP connect :${dead}`);
    assert.deepEqual(refused.status, { code: StatusCode.ERROR, message: 'connection refused' }, 'a refused connect is an error');
    assert.equal(attr(refused, 'error.type'), 'ECONNREFUSED');
    assert.equal(attr(refused, 'tcplife.outcome'), 'refused');
    assert.equal(attr(refused, 'tcplife.state_before_close'), 'SYN_SENT');
    assert.equal(attr(refused, 'tcplife.handshake_ms'), undefined, 'never established: no handshake time');
    assertWithin('refused start', refused.startTimeUnixNano, refusal.times.connectStart, refusal.times.connectEnd);
    assertWithin('refused end', refused.endTimeUnixNano, refusal.times.connectStart, refusal.times.connectEnd);
    assert.equal(client.resource.attributes['service.name'], 'tlo-export-test');
    for (const s of [client, server]) {
      assertTimes(s === client ? 'client' : 'server', s, c0);
      assert.ok(s.endTimeUnixNano > s.startTimeUnixNano);
      assert.match(s.traceId, /^[0-9a-f]{32}$/);
      assert.match(s.spanId, /^[0-9a-f]{16}$/);
    }
    assert.equal(server.traceId, client.traceId, 'both ends of the connection in one trace');
    assert.equal(server.parentSpanId, client.spanId, "the server's span a child of the client's");
    assert.notEqual(refused.traceId, client.traceId, 'the refused connect has a trace of its own');

    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());
    assert.equal(r.spans().length, 3, 'exactly the three sessions of the -p process');
    assertNoComplaints(agent);
    assert.deepEqual(pick(counters, ['sessions_seen', 'spans_exported', ...Object.keys(NO_DROPS)]), {
      sessions_seen: 3,
      spans_exported: 3,
      ...NO_DROPS,
    });
  });

  it('SIGTERM flushes spans still waiting for their batch', async () => {
    const r = await receiver();
    const m = await maker();
    const agent = await startAgent(
      // Only the shutdown flush can send them; -j shows when the agent has them.
      otlpEnv(`http://127.0.0.1:${r.port}`, { OTEL_TRACES_EXPORTER: 'otlp,console', OTEL_BSP_SCHEDULE_DELAY: '600000' }),
      ['-j', '-p', String(m.pid)],
    );
    const [s] = await m.run([ORDERLY]);
    await until('the agent to see both ends', () => agent.stdoutLines().length >= 2);
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(r.spans().length, 0, 'nothing sent before the schedule delay');
    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());
    assert.equal(r.spans().length, 2);
    spansOf(r.spans(), s);
    assert.deepEqual(pick(counters, ['spans_exported', ...Object.keys(NO_DROPS)]), { spans_exported: 2, ...NO_DROPS });
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

  it('IPv6 (::1): client and server spans with exact attributes, bytes, outcome, status and times', async () => {
    const r = await receiver();
    const m = await maker('::1');
    const agent = await startAgent(otlpEnv(`http://127.0.0.1:${r.port}`), ['-p', String(m.pid)]);
    const [s] = await m.run([ORDERLY]);
    await r.waitForSpans(2, 10_000);
    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());
    assert.equal(r.spans().length, 2, 'only the two ends of the session: -p leaves everything else out');
    assertNoComplaints(agent);

    const { client, server } = spansOf(r.spans(), s);
    assert.equal(s.client.localAddress, '::1', 'the session really is IPv6 on ::1');

    assert.equal(client.name, `TCP connect :${m.port}`);
    assert.equal(server.name, `TCP accept :${m.port}`);
    assert.deepEqual(stableAttributes(client), {
      ...addressAttributes('client', s, 'ipv6'),
      'process.pid': BigInt(m.pid),
      'process.executable.name': 'python3',
      'tcplife.bytes_sent': 3000n,
      'tcplife.bytes_received': 700n,
      'tcplife.outcome': 'closed_locally',
      'tcplife.owner_source': 'connect',
      'tcplife.retrans_segments': 0n,
      'tcplife.retrans_bytes': 0n,
      'tcplife.closed_by': 'local',
    });
    assert.deepEqual(stableAttributes(server), {
      ...addressAttributes('server', s, 'ipv6'),
      'process.pid': BigInt(m.pid),
      'process.executable.name': 'python3',
      'tcplife.bytes_sent': 700n,
      'tcplife.bytes_received': 3000n,
      'tcplife.outcome': 'closed_by_peer',
      'tcplife.owner_source': 'socket_io',
      'tcplife.retrans_segments': 0n,
      'tcplife.retrans_bytes': 0n,
      'tcplife.closed_by': 'peer',
    });
    // The server span's client.* is the client's own end, and the client span's server.* the listener.
    assert.deepEqual([attr(server, 'client.address'), attr(server, 'client.port')], [s.client.localAddress, BigInt(s.client.localPort)]);
    assert.deepEqual([attr(client, 'server.address'), attr(client, 'server.port')], [m.host, BigInt(m.port)]);
    assert.ok(['FIN_WAIT2', 'CLOSING'].includes(attr(client, 'tcplife.state_before_close') as string));
    assert.equal(attr(server, 'tcplife.state_before_close'), 'LAST_ACK');
    for (const span of [client, server]) {
      assert.deepEqual(span.status, { code: StatusCode.UNSET, message: '' });
      assert.equal(span.parentSpanId, span === client ? '' : client.spanId, 'the client span is the root, the server span its child');
      assert.equal(span.scope.name, 'tcplife-otel');
    }
    assertTimes('client', client, s);
    assertTimes('server', server, s);
    assert.ok(client.startTimeUnixNano < server.startTimeUnixNano, 'the SYN (client birth) precedes the accepted socket');
    assert.ok(client.endTimeUnixNano <= server.endTimeUnixNano, 'the server closes at the ACK of its FIN, after the client');
    assert.deepEqual(pick(counters, ['sessions_seen', 'spans_exported', 'span_export_failures', ...Object.keys(NO_DROPS)]), {
      sessions_seen: 2,
      spans_exported: 2,
      span_export_failures: 0,
      ...NO_DROPS,
    });
  });

  it('resets (SO_LINGER 0): reset_locally on the resetting end, reset_by_peer on the other, both ERROR with error.type', async () => {
    const r = await receiver();
    const m = await maker('127.0.0.1');
    const agent = await startAgent(otlpEnv(`http://127.0.0.1:${r.port}`), ['-p', String(m.pid)]);
    const made = await m.run([
      { clientSends: 1000, serverSends: 2000, close: 'client-reset' },
      { clientSends: 1500, serverSends: 2500, close: 'server-reset' },
    ]);
    await r.waitForSpans(4, 10_000);
    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());
    assert.equal(r.spans().length, 4);
    assertNoComplaints(agent);

    const resetter = (bytesSent: number, bytesReceived: number) => ({
      'tcplife.bytes_sent': BigInt(bytesSent),
      'tcplife.bytes_received': BigInt(bytesReceived),
      'tcplife.outcome': 'reset_locally',
      'tcplife.state_before_close': 'ESTABLISHED',
      'error.type': 'reset_locally', // no socket error on the resetting end: the outcome (README)
      status: { code: StatusCode.ERROR, message: 'connection reset locally' },
    });
    const resetPeer = (bytesSent: number, bytesReceived: number) => ({
      'tcplife.bytes_sent': BigInt(bytesSent),
      'tcplife.bytes_received': BigInt(bytesReceived),
      'tcplife.outcome': 'reset_by_peer',
      'tcplife.state_before_close': 'ESTABLISHED',
      'error.type': 'ECONNRESET',
      status: { code: StatusCode.ERROR, message: 'connection reset by peer' },
    });
    const summary = (span: ReceivedSpan) => ({
      'tcplife.bytes_sent': attr(span, 'tcplife.bytes_sent'),
      'tcplife.bytes_received': attr(span, 'tcplife.bytes_received'),
      'tcplife.outcome': attr(span, 'tcplife.outcome'),
      'tcplife.state_before_close': attr(span, 'tcplife.state_before_close'),
      'error.type': attr(span, 'error.type'),
      status: span.status,
    });

    const [byClient, byServer] = made;
    const a = spansOf(r.spans(), byClient);
    assert.deepEqual(summary(a.client), resetter(1000, 2000), 'the client reset');
    assert.deepEqual(summary(a.server), resetPeer(2000, 1000), 'its peer');
    const b = spansOf(r.spans(), byServer);
    assert.deepEqual(summary(b.server), resetter(2500, 1500), 'the server reset');
    assert.deepEqual(summary(b.client), resetPeer(1500, 2500), 'its peer');

    for (const [s, ends] of [
      [byClient, a],
      [byServer, b],
    ] as const) {
      assert.deepEqual([ends.client.kind, ends.server.kind], [SpanKind.CLIENT, SpanKind.SERVER]);
      assert.deepEqual([ends.client.name, ends.server.name], [`TCP connect :${m.port}`, `TCP accept :${m.port}`]);
      for (const [role, span] of [
        ['client', ends.client],
        ['server', ends.server],
      ] as const) {
        const expected = addressAttributes(role, s, 'ipv4');
        assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, attr(span, k)])), expected);
        assert.equal(attr(span, 'process.pid'), BigInt(m.pid));
        assertTimes(`${role} of ${s.close}`, span, s);
      }
    }
    assert.deepEqual(pick(counters, ['spans_exported', ...Object.keys(NO_DROPS)]), { spans_exported: 4, ...NO_DROPS });
  });

  it('collector down at start: the spans wait, then all arrive once it listens; exit 0 with no drops', async () => {
    const port = await unusedPort();
    const m = await maker();
    // otlp,console with -j: stdout shows each session as the agent gets it.
    const agent = await startAgent(otlpEnv(`http://127.0.0.1:${port}`, { OTEL_TRACES_EXPORTER: 'otlp,console' }), ['-j', '-p', String(m.pid)]);
    const made = await m.run([ORDERLY, ORDERLY, ORDERLY]);
    await until('the agent to see the 6 sessions', () => agent.stdoutLines().length >= 6);
    await new Promise((res) => setTimeout(res, 500)); // export attempts fail meanwhile (counted below)

    const r = await receiver({ port });
    await r.waitForSpans(6, 20_000);
    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());
    assert.equal(agent.stdoutLines().length, 6);
    const spans = acceptedSpans(r);
    assert.equal(spans.length, 6);
    for (const s of made) spansOf(spans, s);
    assert.deepEqual(pick(counters, ['sessions_seen', 'spans_exported', ...Object.keys(NO_DROPS)]), {
      sessions_seen: 6,
      spans_exported: 6,
      ...NO_DROPS,
    });
    assert.ok(counters.span_export_failures > 0, `the collector was down at first: span_export_failures=${counters.span_export_failures}`);
  });

  it('collector answering UNAVAILABLE mid-run: the spans sent meanwhile arrive after it recovers; failures counted, no drops', async () => {
    let unavailable = false;
    const r = await receiver({ respond: () => (unavailable ? grpc.status.UNAVAILABLE : grpc.status.OK) });
    const m = await maker();
    const agent = await startAgent(otlpEnv(`http://127.0.0.1:${r.port}`), ['-p', String(m.pid)]);

    const [before] = await m.run([ORDERLY]);
    await r.waitForSpans(2, 10_000);
    unavailable = true;
    const during = await m.run([ORDERLY, ORDERLY]);
    const refusedTwice = () => r.requests.filter((q) => q.responseCode === grpc.status.UNAVAILABLE).length >= 2;
    await until('two requests answered UNAVAILABLE (a retry)', refusedTwice);
    unavailable = false;
    await until('the spans made meanwhile to be accepted', () => acceptedSpans(r).length >= 6);
    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());

    const spans = acceptedSpans(r);
    assert.equal(spans.length, 6);
    for (const s of [before, ...during]) spansOf(spans, s);
    const refused = r.requests.filter((q) => q.responseCode === grpc.status.UNAVAILABLE);
    // A retry sends the same spans again.
    const idsOf = (index: number) =>
      r
        .spans()
        .filter((s) => s.requestIndex === index)
        .map((s) => s.spanId)
        .sort();
    for (const q of refused) assert.deepEqual(idsOf(q.index), idsOf(refused[0].index));
    assert.deepEqual(
      idsOf(refused[0].index),
      during.flatMap((s) => Object.values(spansOf(spans, s)).map((x) => x.spanId)).sort(),
      'the refused batch is exactly the spans made while the collector refused',
    );
    assert.deepEqual(pick(counters, ['spans_exported', 'span_export_failures', ...Object.keys(NO_DROPS)]), {
      spans_exported: 6,
      span_export_failures: refused.length, // every failed attempt reached the receiver
      ...NO_DROPS,
    });
    assert.ok(counters.span_export_failures > 0);
  });

  it('buffer bound: with the collector down, OTEL_BSP_MAX_QUEUE_SIZE spans wait and the rest are dropped and counted', async () => {
    const BOUND = 8;
    const SESSIONS = 20; // 40 spans
    const port = await unusedPort();
    const m = await maker();
    const agent = await startAgent(otlpEnv(`http://127.0.0.1:${port}`, { OTEL_TRACES_EXPORTER: 'otlp,console', OTEL_BSP_MAX_QUEUE_SIZE: String(BOUND) }), [
      '-j',
      '-p',
      String(m.pid),
    ]);
    const made = await m.run(Array.from({ length: SESSIONS }, () => ({ clientSends: 10, serverSends: 10, close: 'client-first' as const })));
    await until(`the agent to see the ${2 * SESSIONS} sessions`, () => agent.stdoutLines().length >= 2 * SESSIONS);
    await new Promise((res) => setTimeout(res, 300));

    const r = await receiver({ port });
    await r.waitForSpans(BOUND, 20_000);
    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());
    assert.equal(agent.stdoutLines().length, 2 * SESSIONS, 'the agent saw exactly the sessions made');

    const spans = acceptedSpans(r);
    assert.equal(spans.length, BOUND, 'exactly the bound reached the collector');
    // The queue keeps the oldest: the first BOUND/2 sessions, both ends each.
    for (const s of made.slice(0, BOUND / 2)) spansOf(spans, s);
    assert.deepEqual(pick(counters, ['sessions_seen', 'spans_exported', ...Object.keys(NO_DROPS)]), {
      sessions_seen: 2 * SESSIONS,
      spans_exported: BOUND,
      spans_dropped_queue_full: 2 * SESSIONS - BOUND,
      spans_dropped_rejected: 0,
      spans_dropped_shutdown: 0,
    });
  });

  it('TLS with a self-signed CA (OTEL_EXPORTER_OTLP_CERTIFICATE), headers as gRPC metadata, gzip', async () => {
    const server = cert();
    const r = await receiver({ tls: { cert: server.cert, key: server.key } });
    const m = await maker();
    const agent = await startAgent(
      otlpEnv(`https://localhost:${r.port}`, {
        OTEL_EXPORTER_OTLP_CERTIFICATE: server.certPath,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=acme, Authorization=Bearer%20s3cr%3Dt',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      }),
      ['-p', String(m.pid)],
    );
    const [s] = await m.run([ORDERLY]);
    await r.waitForSpans(2, 10_000);
    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());
    const { client, server: serverSpan } = spansOf(r.spans(), s);
    assert.deepEqual([attr(client, 'tcplife.bytes_sent'), attr(serverSpan, 'tcplife.bytes_sent')], [3000n, 700n]);
    for (const q of r.requests) {
      assert.equal(q.metadata['x-tenant'], 'acme');
      assert.equal(q.metadata.authorization, 'Bearer s3cr=t', 'keys lower-cased, values percent-decoded');
      assert.equal(q.peerCertificate, undefined, 'no client certificate configured');
    }
    assert.doesNotMatch(agent.stderr(), /s3cr/, 'header values never printed');
    assertNoComplaints(agent);
    assert.deepEqual(pick(counters, ['spans_exported', 'span_export_failures', ...Object.keys(NO_DROPS)]), {
      spans_exported: 2,
      span_export_failures: 0,
      ...NO_DROPS,
    });
  });

  for (const compression of ['gzip', 'none'] as const) {
    it(`OTEL_EXPORTER_OTLP_COMPRESSION=${compression}: the gRPC messages on the wire are ${compression === 'gzip' ? '' : 'not '}compressed`, async () => {
      const r = await receiver();
      const sniffer: H2Sniffer = await startH2Sniffer({ host: '127.0.0.1', port: r.port });
      cleanups.push(() => sniffer.close());
      const m = await maker();
      const agent = await startAgent(otlpEnv(`http://127.0.0.1:${sniffer.port}`, { OTEL_EXPORTER_OTLP_COMPRESSION: compression }), ['-p', String(m.pid)]);
      const [s] = await m.run([ORDERLY]);
      await r.waitForSpans(2, 10_000);
      const { code } = await stopAgent(agent);
      assert.equal(code, 0, agent.stderr());
      spansOf(r.spans(), s);
      assert.deepEqual(sniffer.errors, []);
      assertNoComplaints(agent);
      assert.ok(r.requests.length > 0);
      // Each trace request the receiver decoded went over the wire as one
      // message, compressed or not, whose bytes (inflated) are the request.
      for (const q of r.requests) {
        const sent = sniffer.messages.find((msg) => (msg.compressed ? gunzipSync(msg.message) : msg.message).equals(q.body));
        assert.ok(sent, `request ${q.index} seen on the wire`);
        assert.equal(sent.compressed, compression === 'gzip');
        if (sent.compressed) assert.notDeepEqual(sent.message, q.body);
      }
    });
  }

  it('mutual TLS: OTEL_EXPORTER_OTLP_CLIENT_KEY and _CLIENT_CERTIFICATE present the client certificate', async () => {
    const server = cert();
    const client = cert('tlo-agent');
    const r = await receiver({ tls: { cert: server.cert, key: server.key, clientCa: client.cert } });
    const m = await maker();
    const agent = await startAgent(
      otlpEnv(`https://localhost:${r.port}`, {
        OTEL_EXPORTER_OTLP_CERTIFICATE: server.certPath,
        OTEL_EXPORTER_OTLP_CLIENT_KEY: client.keyPath,
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: client.certPath,
      }),
      ['-p', String(m.pid)],
    );
    const [s] = await m.run([ORDERLY]);
    await r.waitForSpans(2, 10_000);
    const { code, counters } = await stopAgent(agent);
    assert.equal(code, 0, agent.stderr());
    spansOf(r.spans(), s);
    assertNoComplaints(agent);
    const fingerprint = new X509Certificate(client.cert).fingerprint256;
    for (const q of r.requests) {
      assert.deepEqual(q.peerCertificate, { subjectCN: 'tlo-agent', issuerCN: 'tlo-agent', fingerprint256: fingerprint });
    }
    assert.deepEqual(pick(counters, ['spans_exported', ...Object.keys(NO_DROPS)]), { spans_exported: 2, ...NO_DROPS });
  });

  it('a failing TLS handshake (CA not configured; mTLS without a client certificate) loses no span silently', async () => {
    const server = cert();
    const client = cert('tlo-agent');
    const cases: Array<{ what: string; tls: OtlpReceiverOptions['tls']; env: Record<string, string> }> = [
      { what: 'https without OTEL_EXPORTER_OTLP_CERTIFICATE', tls: { cert: server.cert, key: server.key }, env: {} },
      {
        what: 'mutual TLS required, no client certificate',
        tls: { cert: server.cert, key: server.key, clientCa: client.cert },
        env: { OTEL_EXPORTER_OTLP_CERTIFICATE: server.certPath },
      },
    ];
    // Both at once: each takes the whole shutdown deadline to give up.
    await Promise.all(
      cases.map(async (c) => {
        const r = await receiver({ tls: c.tls });
        const m = await maker();
        const agent = await startAgent(otlpEnv(`https://localhost:${r.port}`, { OTEL_TRACES_EXPORTER: 'otlp,console', ...c.env }), ['-j', '-p', String(m.pid)]);
        await m.run([ORDERLY]);
        await until(`${c.what}: the agent to see the 2 sessions`, () => agent.stdoutLines().length >= 2);
        await new Promise((res) => setTimeout(res, 1500)); // attempts fail meanwhile
        const { code, counters } = await stopAgent(agent);
        assert.equal(code, 0, `${c.what}: ${agent.stderr()}`);
        assert.equal(r.requests.length, 0, `${c.what}: no request got through`);
        assert.deepEqual(
          pick(counters, ['spans_exported', 'spans_dropped_queue_full', 'spans_dropped_rejected', 'spans_dropped_shutdown']),
          { spans_exported: 0, spans_dropped_queue_full: 0, spans_dropped_rejected: 0, spans_dropped_shutdown: 2 },
          `${c.what}: the spans are counted as dropped at shutdown`,
        );
        assert.ok(counters.span_export_failures > 0, `${c.what}: failed attempts counted (${counters.span_export_failures})`);
      }),
    );
  });
});
