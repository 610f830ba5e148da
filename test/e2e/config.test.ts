/**
 * The configuration, end to end, through the real command line
 * (`node dist/src/cli.js`): every filter with real sessions on both sides of
 * it, the sources and their precedence (file < environment < flag),
 * --print-config, refusals of bad configurations, SIGHUP reload changing the
 * filters mid-run, and a CLI-level fuzz of hostile values.
 *
 * Sessions come from python processes of known pid and name (see
 * ../support/session-driver.ts), started before the agent, and every agent
 * is restricted to them with `-p` (or, where the agent's own sessions are
 * the subject, to ports nothing else uses): other traffic on the machine
 * never reaches the output, so lines and counters are checked exactly.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { AgentProcess, exitCounters, killAllAgents, runAgentToExit, type AgentExit } from '../support/agent-process';
import { cgroup2Mount, createCgroup, type TestCgroup } from '../support/cgroups';
import { createNetnsPair, type NetnsPair } from '../support/netns';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver';
import { driverName, killAllDrivers, startSessionDriver, type SessionDriver, type Talked } from '../support/session-driver';
import { rng } from '../support/rng';

const V4 = '127.0.0.1';
const V6 = '::1';
/** After the wanted lines arrived: time for an unwanted line to show up before the agent is stopped. */
const SETTLE_MS = 250;

interface Line {
  pid: number;
  comm: string;
  family: number;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  found_at: string | null;
  tx_bytes: number;
  rx_bytes: number;
  duration_ms: number | null;
  role: string;
  outcome: string;
  error: string | null;
  partial: boolean;
}

/** One expected JSON line, told apart from every other by its ports (and outcome for a refusal). */
interface End {
  what: string;
  match: (l: Line) => boolean;
}

const clientEnd = (t: Talked, what: string): End => ({
  what: `${what} (client end :${t.clientPort}->:${t.serverPort})`,
  match: (l) => l.lport === t.clientPort && l.rport === t.serverPort,
});
const serverEnd = (t: Talked, what: string): End => ({
  what: `${what} (server end :${t.serverPort}->:${t.clientPort})`,
  match: (l) => l.lport === t.serverPort && l.rport === t.clientPort,
});
const bothEnds = (t: Talked, what: string): End[] => [clientEnd(t, what), serverEnd(t, what)];
const refusedEnd = (port: number, what: string): End => ({
  what: `${what} (refused connect to :${port})`,
  match: (l) => l.rport === port && l.outcome === 'refused',
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function show(lines: Line[]): string {
  return (
    lines.map((l) => `${l.pid}/${l.comm} :${l.lport}->:${l.rport} ${l.role} ${l.outcome} ${l.tx_bytes}+${l.rx_bytes}B ${l.duration_ms}ms`).join(' | ') ||
    '(none)'
  );
}

function linesOf(agent: AgentProcess, from = 0): Line[] {
  return agent.jsonLines().slice(from) as unknown as Line[];
}

/** Waits (bounded) until every wanted end has a line among the lines from `from` on. */
async function waitForEnds(agent: AgentProcess, wanted: End[], from = 0, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = linesOf(agent, from);
    const missing = wanted.filter((e) => !lines.some(e.match));
    if (missing.length === 0) return;
    if (!agent.isRunning) throw new Error(`the agent exited while waiting for ${missing.map((e) => e.what).join(', ')}; ${agent.describe()}`);
    if (Date.now() > deadline) {
      throw new Error(`no line within ${timeoutMs} ms for ${missing.map((e) => e.what).join(', ')}; lines: ${show(lines)}; ${agent.describe()}`);
    }
    await sleep(10);
  }
}

/** The lines from `from` on are exactly the wanted ends, one each (in the order of `wanted`). */
function assertExactly(lines: Line[], wanted: End[], context: string): Line[] {
  const got: Line[] = [];
  for (const e of wanted) {
    const found = lines.filter(e.match);
    assert.equal(found.length, 1, `${context}: exactly one line for ${e.what}; lines: ${show(lines)}`);
    got.push(found[0]);
  }
  const extra = lines.filter((l) => !wanted.some((e) => e.match(l)));
  assert.deepEqual(show(extra), '(none)', `${context}: lines the filter should have excluded`);
  return got;
}

function assertClean(exit: AgentExit, what: string): void {
  assert.deepEqual([exit.code, exit.signal], [0, null], `${what}: exit status; stderr: ${exit.stderr}`);
  assert.ok(!exit.stderr.includes('\n    at '), `${what}: a stack trace on stderr: ${exit.stderr}`);
}

async function startAgent(args: string[], env: Record<string, string> = {}): Promise<AgentProcess> {
  const agent = new AgentProcess(args, env);
  await agent.ready();
  return agent;
}

/**
 * Waits for the wanted ends, lets an unwanted line show up, stops the agent
 * (SIGINT: pending sessions are printed first), then checks that stdout
 * holds exactly the wanted lines. Returns them and the exit counters.
 */
async function finish(agent: AgentProcess, wanted: End[], context: string): Promise<{ lines: Line[]; counters: Record<string, number>; exit: AgentExit }> {
  await waitForEnds(agent, wanted);
  await sleep(SETTLE_MS);
  const exit = await agent.stop('SIGINT');
  assertClean(exit, context);
  const lines = assertExactly(linesOf(agent), wanted, context);
  return { lines, counters: exitCounters(exit.stderr), exit };
}

let tmp: string;

function writeConfig(name: string, text: string): string {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
}

describe('configuration through the command line (e2e)', function () {
  this.timeout(20_000);
  before(function () {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'tlo-config-e2e-'));
  });
  afterEach(function () {
    killAllAgents();
  });
  after(function () {
    killAllDrivers();
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('user-space filters, each with sessions on both sides', function () {
    let a: SessionDriver;
    let b: SessionDriver;
    let c: SessionDriver;
    let portA: number;
    let portB: number;
    let portC: number;
    let closedA: number;
    before(async function () {
      [a, b, c] = await Promise.all([startSessionDriver(driverName('cfa')), startSessionDriver(driverName('cfb')), startSessionDriver(driverName('cfc'))]);
      [portA, portB, portC, closedA] = await Promise.all([a.listen(V4), b.listen(V4), c.listen(V4), a.closedPort(V4)]);
    });
    after(async function () {
      await Promise.all([a, b, c].map((d) => d?.stop()));
    });
    const pids = () => `${a.pid},${b.pid},${c.pid}`;
    const talkEach = async () => ({
      a: await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20 }),
      b: await b.talk({ host: V4, port: portB, clientSends: 10, serverSends: 20 }),
      c: await c.talk({ host: V4, port: portC, clientSends: 10, serverSends: 20 }),
    });

    /** Exact counts: every session reaching user space is one of ours (-p). */
    function assertUserspaceCounts(counters: Record<string, number>, shown: number, excluded: number, context: string): void {
      assert.deepEqual(
        { sessions_seen: counters.sessions_seen, sessions_filtered_userspace: counters.sessions_filtered_userspace, printed: counters.printed },
        { sessions_seen: shown + excluded, sessions_filtered_userspace: excluded, printed: shown },
        `${context}: counters`,
      );
    }

    it('--comm NAME (exact): only the process so named; the other two are excluded', async function () {
      const agent = await startAgent(['-j', '-p', pids(), '--comm', a.name]);
      const t = await talkEach();
      const r = await finish(agent, bothEnds(t.a, 'a'), '--comm exact');
      for (const l of r.lines) assert.deepEqual([l.pid, l.comm], [a.pid, a.name]);
      assertUserspaceCounts(r.counters, 2, 4, '--comm exact');
    });

    it('--comm GLOB: tlo-c?b-* matches only b', async function () {
      const agent = await startAgent(['-j', '-p', pids(), '--comm', 'tlo-c?b-*']);
      const t = await talkEach();
      const r = await finish(agent, bothEnds(t.b, 'b'), '--comm glob');
      for (const l of r.lines) assert.deepEqual([l.pid, l.comm], [b.pid, b.name]);
      assertUserspaceCounts(r.counters, 2, 4, '--comm glob');
    });

    it('--comm NAME,NAME --comm GLOB (a list is OR; the flag repeats): a by name and c by tlo-cf[c]-*, not b', async function () {
      const agent = await startAgent(['-j', '-p', pids(), '--comm', `${a.name},tlo-nomatch`, '--comm', 'tlo-cf[c]-*']);
      const t = await talkEach();
      const r = await finish(agent, [...bothEnds(t.a, 'a'), ...bothEnds(t.c, 'c')], '--comm list');
      assert.deepEqual(
        r.lines.map((l) => l.comm),
        [a.name, a.name, c.name, c.name],
      );
      assertUserspaceCounts(r.counters, 4, 2, '--comm list');
    });

    for (const role of ['client', 'server'] as const) {
      it(`--role ${role}: only the ${role} end of a session`, async function () {
        const agent = await startAgent(['-j', '-p', String(a.pid), '--role', role]);
        const t = await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20 });
        const r = await finish(agent, [role === 'client' ? clientEnd(t, 'session') : serverEnd(t, 'session')], `--role ${role}`);
        assert.equal(r.lines[0].role, role);
        assertUserspaceCounts(r.counters, 1, 1, `--role ${role}`);
      });
    }

    it('--outcome refused: a refused connect is shown, a clean session is not', async function () {
      const agent = await startAgent(['-j', '-p', String(a.pid), '--outcome', 'refused']);
      const refusal = await a.refuse(V4, closedA);
      assert.equal(refusal.error, 'ECONNREFUSED');
      await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20 });
      const r = await finish(agent, [refusedEnd(closedA, 'refusal')], '--outcome refused');
      assert.deepEqual([r.lines[0].role, r.lines[0].error, r.lines[0].pid], ['client', 'ECONNREFUSED', a.pid]);
      assertUserspaceCounts(r.counters, 1, 2, '--outcome refused');
    });

    it('--outcome failed (a group): a refusal and both ends of a reset are shown, a clean close is not', async function () {
      const agent = await startAgent(['-j', '-p', String(a.pid), '--outcome', 'failed']);
      await a.refuse(V4, closedA);
      const reset = await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20, close: 'client-reset' });
      assert.equal(reset.peerSaw, 'ECONNRESET');
      await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20 });
      const r = await finish(agent, [refusedEnd(closedA, 'refusal'), ...bothEnds(reset, 'reset')], '--outcome failed');
      assert.deepEqual(
        r.lines.map((l) => l.outcome),
        ['refused', 'reset_locally', 'reset_by_peer'],
      );
      assertUserspaceCounts(r.counters, 3, 2, '--outcome failed');
    });

    it('--outcome reset: resets by either end (SO_LINGER 0) are shown; a clean close and a refusal are not', async function () {
      const agent = await startAgent(['-j', '-p', String(a.pid), '--outcome', 'reset']);
      const byClient = await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20, close: 'client-reset' });
      const byServer = await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20, close: 'server-reset' });
      await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20 });
      await a.refuse(V4, closedA);
      const r = await finish(agent, [...bothEnds(byClient, 'client reset'), ...bothEnds(byServer, 'server reset')], '--outcome reset');
      assert.deepEqual(
        r.lines.map((l) => l.outcome),
        ['reset_locally', 'reset_by_peer', 'reset_by_peer', 'reset_locally'],
      );
      assertUserspaceCounts(r.counters, 4, 3, '--outcome reset');
    });

    it('--min-duration 250: a session held open 600 ms is shown, a short one is not', async function () {
      const agent = await startAgent(['-j', '-p', String(a.pid), '--min-duration', '250']);
      await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20 });
      const held = await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20, holdMs: 600 });
      const r = await finish(agent, bothEnds(held, 'held'), '--min-duration');
      for (const l of r.lines) assert.ok(l.duration_ms !== null && l.duration_ms >= 600, `duration of the held session: ${show([l])}`);
      assertUserspaceCounts(r.counters, 2, 2, '--min-duration');
    });

    it('--min-bytes 1000 counts both directions: 500+500 bytes is shown, 900+99 is not', async function () {
      const agent = await startAgent(['-j', '-p', String(a.pid), '--min-bytes', '1000']);
      const enough = await a.talk({ host: V4, port: portA, clientSends: 500, serverSends: 500 });
      await a.talk({ host: V4, port: portA, clientSends: 900, serverSends: 99 });
      const r = await finish(agent, bothEnds(enough, '500+500'), '--min-bytes');
      for (const l of r.lines) assert.deepEqual([l.tx_bytes, l.rx_bytes], [500, 500]);
      assertUserspaceCounts(r.counters, 2, 2, '--min-bytes');
    });

    it('partial sessions (open before the agent): --min-duration lets them pass; --role judges them by the role found at start', async function () {
      // Opened before the agent starts: their birth is not seen; the agent
      // finds them at start, with owner and role.
      let open = await a.open(V4, portA);
      let agent = await startAgent(['-j', '-p', String(a.pid), '--min-duration', '100000']);
      await a.closeOpen(open.handle);
      await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20 });
      const partial = { clientPort: open.clientPort, serverPort: portA, peerSaw: null };
      let r = await finish(agent, bothEnds(partial, 'partial'), '--min-duration, partial');
      for (const l of r.lines) {
        const role = l.lport === open.clientPort ? 'client' : 'server';
        assert.deepEqual([l.partial, l.duration_ms, l.role, l.pid, l.found_at !== null], [true, null, role, a.pid, true], show([l]));
      }
      assertUserspaceCounts(r.counters, 2, 2, '--min-duration, partial');

      open = await a.open(V4, portA);
      agent = await startAgent(['-j', '-p', String(a.pid), '--role', 'server']);
      await a.closeOpen(open.handle);
      const fresh = await a.talk({ host: V4, port: portA, clientSends: 10, serverSends: 20 });
      const found = { clientPort: open.clientPort, serverPort: portA, peerSaw: null };
      r = await finish(agent, [serverEnd(found, 'found'), serverEnd(fresh, 'fresh')], '--role, partial');
      assertUserspaceCounts(r.counters, 2, 2, '--role, partial');
    });

    it('--role client --min-bytes 1000 (AND): only the client end of the big session', async function () {
      const agent = await startAgent(['-j', '-p', String(a.pid), '--role', 'client', '--min-bytes', '1000']);
      // big: its server end fails only the role; small: its client end fails only the bytes.
      const big = await a.talk({ host: V4, port: portA, clientSends: 700, serverSends: 300 });
      await a.talk({ host: V4, port: portA, clientSends: 900, serverSends: 99 });
      const r = await finish(agent, [clientEnd(big, 'big')], 'combination');
      assert.deepEqual([r.lines[0].role, r.lines[0].tx_bytes, r.lines[0].rx_bytes], ['client', 700, 300]);
      assertUserspaceCounts(r.counters, 1, 3, 'combination');
    });
  });

  describe('kernel filters, from the flags to the kernel', function () {
    /** Kernel-filtered sessions never reach user space: seen counts only what passed. */
    function assertKernelCounts(counters: Record<string, number>, shown: number, excluded: number, context: string): void {
      assert.deepEqual(
        [counters.sessions_seen, counters.sessions_filtered_userspace, counters.printed],
        [shown, 0, shown],
        `${context}: sessions_seen, sessions_filtered_userspace, printed`,
      );
      assert.ok(counters.sessions_filtered >= excluded, `${context}: sessions_filtered ${counters.sessions_filtered} >= ${excluded}`);
    }

    describe('CIDRs', function () {
      let d: SessionDriver;
      let port4: number;
      let port6: number;
      before(async function () {
        d = await startSessionDriver(driverName('cid'));
        [port4, port6] = [await d.listen(V4), await d.listen(V6)];
      });
      after(async function () {
        await d?.stop();
      });

      it('--local-cidr 127.0.0.0/8: the IPv4 loopback session passes, the ::1 session does not', async function () {
        const agent = await startAgent(['-j', '-p', String(d.pid), '--local-cidr', '127.0.0.0/8']);
        const t4 = await d.talk({ host: V4, port: port4, clientSends: 1, serverSends: 1 });
        await d.talk({ host: V6, port: port6, clientSends: 1, serverSends: 1 });
        const r = await finish(agent, bothEnds(t4, 'IPv4'), '--local-cidr');
        assert.deepEqual(
          r.lines.map((l) => [l.family, l.laddr]),
          [
            [4, V4],
            [4, V4],
          ],
        );
        assertKernelCounts(r.counters, 2, 2, '--local-cidr');
      });

      it('--remote-cidr ::1/128: the ::1 session passes, the IPv4 one does not', async function () {
        const agent = await startAgent(['-j', '-p', String(d.pid), '--remote-cidr', '::1/128']);
        await d.talk({ host: V4, port: port4, clientSends: 1, serverSends: 1 });
        const t6 = await d.talk({ host: V6, port: port6, clientSends: 1, serverSends: 1 });
        const r = await finish(agent, bothEnds(t6, 'IPv6'), '--remote-cidr');
        assert.deepEqual(
          r.lines.map((l) => [l.family, l.raddr]),
          [
            [6, V6],
            [6, V6],
          ],
        );
        assertKernelCounts(r.counters, 2, 2, '--remote-cidr');
      });
    });

    describe('CIDRs from the file and the environment', function () {
      let d: SessionDriver;
      let port4: number;
      let port6: number;
      before(async function () {
        d = await startSessionDriver(driverName('cie'));
        [port4, port6] = [await d.listen(V4), await d.listen(V6)];
      });
      after(async function () {
        await d?.stop();
      });

      it("TCPLIFE_LOCAL_CIDRS overrides the file's filters.local_cidrs on its way to the kernel", async function () {
        const file = writeConfig('cidrs.yaml', 'filters:\n  local_cidrs: ["::1/128"]\n');
        const agent = await startAgent(['-j', '-p', String(d.pid), '--config', file], { TCPLIFE_LOCAL_CIDRS: '10.0.0.0/8,127.0.0.0/8' });
        const t4 = await d.talk({ host: V4, port: port4, clientSends: 1, serverSends: 1 });
        await d.talk({ host: V6, port: port6, clientSends: 1, serverSends: 1 });
        const r = await finish(agent, bothEnds(t4, 'IPv4'), 'env over file, CIDRs');
        assertKernelCounts(r.counters, 2, 2, 'env over file, CIDRs');
      });
    });

    describe('network namespaces', function () {
      let pair: NetnsPair;
      let host: SessionDriver;
      let inNs: SessionDriver;
      let hostPort: number;
      let nsPort: number;
      before(async function () {
        pair = createNetnsPair();
        host = await startSessionDriver(driverName('nsh'));
        inNs = await startSessionDriver(driverName('nsn'), { netns: pair.a.netns });
        [hostPort, nsPort] = [await host.listen(V4), await inNs.listen(V4)];
      });
      after(async function () {
        await Promise.all([host?.stop(), inNs?.stop()]);
        pair?.destroy();
      });
      const talk = async () => ({
        host: await host.talk({ host: V4, port: hostPort, clientSends: 1, serverSends: 1 }),
        ns: await inNs.talk({ host: V4, port: nsPort, clientSends: 1, serverSends: 1 }),
      });

      it("--netns own: the host's session passes, a session inside another namespace does not", async function () {
        const agent = await startAgent(['-j', '-p', `${host.pid},${inNs.pid}`, '--netns', 'own']);
        const t = await talk();
        const r = await finish(agent, bothEnds(t.host, 'host'), '--netns own');
        for (const l of r.lines) assert.equal(l.pid, host.pid);
        assertKernelCounts(r.counters, 2, 2, '--netns own');
      });

      it('--netns /var/run/netns/NAME: only the session inside that namespace', async function () {
        const agent = await startAgent(['-j', '-p', `${host.pid},${inNs.pid}`, '--netns', `/var/run/netns/${pair.a.netns}`]);
        const t = await talk();
        const r = await finish(agent, bothEnds(t.ns, 'in the namespace'), '--netns PATH');
        for (const l of r.lines) assert.equal(l.pid, inNs.pid);
        assertKernelCounts(r.counters, 2, 2, '--netns PATH');
      });
    });

    describe('cgroups', function () {
      let cg: TestCgroup;
      let inside: SessionDriver;
      let outside: SessionDriver;
      let inPort: number;
      let outPort: number;
      before(async function () {
        cg = createCgroup();
        inside = await startSessionDriver(driverName('cgi'), { cgroup: cg });
        outside = await startSessionDriver(driverName('cgo'));
        [inPort, outPort] = [await inside.listen(V4), await outside.listen(V4)];
      });
      after(async function () {
        await outside?.stop();
        cg?.destroy(); // kills the driver inside
      });

      it('--cgroup PATH (relative to the cgroup2 mount): sessions of a process in it pass, others do not', async function () {
        const rel = `/${path.relative(cgroup2Mount(), cg.path)}`;
        const agent = await startAgent(['-j', '-p', `${inside.pid},${outside.pid}`, '--cgroup', rel]);
        const tin = await inside.talk({ host: V4, port: inPort, clientSends: 1, serverSends: 1 });
        await outside.talk({ host: V4, port: outPort, clientSends: 1, serverSends: 1 });
        const r = await finish(agent, bothEnds(tin, 'in the cgroup'), '--cgroup');
        for (const l of r.lines) assert.equal(l.pid, inside.pid);
        assertKernelCounts(r.counters, 2, 2, '--cgroup');
      });
    });

    describe("the agent's own sessions (exclude_self)", function () {
      let receiver: OtlpReceiver | undefined;
      let d: SessionDriver;
      let port: number;
      before(async function () {
        d = await startSessionDriver(driverName('slf'));
        port = await d.listen(V4);
      });
      after(async function () {
        await d?.stop();
      });
      afterEach(async function () {
        await receiver?.close();
        receiver = undefined;
      });

      /** Sockets (not in TIME_WAIT or LISTEN) whose remote port is `port`, from /proc/net/tcp{,6}. */
      function socketsTo(remotePort: number): number {
        let n = 0;
        for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
          for (const row of readFileSync(file, 'utf8').split('\n').slice(1)) {
            const f = row.trim().split(/\s+/);
            if (f.length < 4) continue;
            const rport = parseInt(f[2].split(':')[1], 16);
            if (rport === remotePort && f[3] !== '06' && f[3] !== '0A') n++;
          }
        }
        return n;
      }

      /**
       * An agent exporting spans to a receiver (so it opens a gRPC
       * connection), restricted to the receiver's port and the driver's
       * listener (-D): a session of the driver makes a span, the span opens
       * the connection; closing the receiver closes it; a second session of
       * the driver marks the point by which the connection's close was seen.
       */
      async function run(extra: string[]): Promise<{ agent: AgentProcess; lines: Line[]; counters: Record<string, number> }> {
        receiver = await startOtlpReceiver();
        const agent = await startAgent(['-j', '-D', `${receiver.port},${port}`, '--shutdown-timeout', '500', ...extra], {
          OTEL_TRACES_EXPORTER: 'otlp,console',
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.address}`,
          OTEL_BSP_SCHEDULE_DELAY: '50',
          OTEL_METRICS_EXPORTER: 'none',
        });
        const first = await d.talk({ host: V4, port, clientSends: 1, serverSends: 1 });
        await receiver.waitForSpans(1, 5_000);
        assert.ok(socketsTo(receiver.port) >= 1, "the agent's connection to the receiver is open");
        await receiver.close();
        const deadline = Date.now() + 5_000;
        while (socketsTo(receiver.port) > 0) {
          assert.ok(Date.now() < deadline, "the agent's connection to the receiver did not close within 5 s");
          await sleep(20);
        }
        const marker = await d.talk({ host: V4, port, clientSends: 1, serverSends: 1 });
        await waitForEnds(agent, [clientEnd(first, 'first'), clientEnd(marker, 'marker')]);
        await sleep(SETTLE_MS);
        const exit = await agent.stop('SIGINT');
        assertClean(exit, 'exclude_self');
        return { agent, lines: linesOf(agent), counters: exitCounters(exit.stderr) };
      }

      it("by default, the agent's own connection to the collector is not reported", async function () {
        const { agent, lines, counters } = await run([]);
        const own = lines.filter((l) => l.pid === agent.pid);
        assert.deepEqual(show(own), '(none)', "no session of the agent's pid");
        assert.equal(lines.length, 2, `only the driver's two client ends: ${show(lines)}`);
        assert.ok(counters.sessions_filtered >= 3, `sessions_filtered ${counters.sessions_filtered}: the agent's connection and the driver's server ends`);
      });

      it("--trace-self: the agent's own connection to the collector is reported, owned by the agent's pid", async function () {
        const { agent, lines } = await run(['--trace-self']);
        const own = lines.filter((l) => l.pid === agent.pid);
        assert.ok(own.length >= 1, `a session of the agent's pid ${agent.pid}: ${show(lines)}`);
        // The connection (and any refused reconnect after the receiver closed): all the agent's, to the receiver.
        for (const l of own) assert.deepEqual([l.role, l.rport, l.comm], ['client', receiver!.port, 'node'], show([l]));
        const connection = own.filter((l) => l.outcome !== 'refused');
        assert.equal(connection.length, 1, `the agent's gRPC connection, closed when the receiver closed: ${show(own)}`);
      });
    });
  });

  describe('sources and precedence (flags > environment > file > defaults)', function () {
    let x: SessionDriver;
    let y: SessionDriver;
    let z: SessionDriver;
    const ports: number[] = [];
    let file: string;
    let jsonFile: string;
    before(async function () {
      [x, y, z] = await Promise.all([startSessionDriver(driverName('prx')), startSessionDriver(driverName('pry')), startSessionDriver(driverName('prz'))]);
      for (const d of [x, y, z]) ports.push(await d.listen(V4));
      // The file also sets JSON output: no -j on these command lines.
      file = writeConfig('precedence.yaml', `output:\n  format: json\nfilters:\n  comms: [${x.name}]\n`);
      jsonFile = writeConfig('precedence.json', JSON.stringify({ output: { format: 'json' }, filters: { comms: [x.name] } }));
    });
    after(async function () {
      await Promise.all([x, y, z].map((d) => d?.stop()));
    });

    /** Each driver makes one session; exactly `only`'s two ends are shown. */
    async function onlyOne(args: string[], env: Record<string, string>, only: SessionDriver, context: string): Promise<void> {
      const agent = await startAgent(['-p', `${x.pid},${y.pid},${z.pid}`, ...args], env);
      const talked = new Map<SessionDriver, Talked>();
      for (const [i, d] of [x, y, z].entries()) talked.set(d, await d.talk({ host: V4, port: ports[i], clientSends: 3, serverSends: 4 }));
      const r = await finish(agent, bothEnds(talked.get(only)!, only.name), context);
      for (const l of r.lines) assert.equal(l.comm, only.name);
      assert.deepEqual([r.counters.sessions_seen, r.counters.sessions_filtered_userspace], [6, 4], `${context}: seen, filtered in user space`);
    }

    it('--config FILE (YAML): its filter applies (and its output format)', async function () {
      await onlyOne(['--config', file], {}, x, 'file');
    });

    it('TCPLIFE_CONFIG names the file (JSON this time)', async function () {
      await onlyOne([], { TCPLIFE_CONFIG: jsonFile }, x, 'TCPLIFE_CONFIG');
    });

    it('an empty variable counts as unset: the file still applies', async function () {
      await onlyOne(['--config', file], { TCPLIFE_COMMS: '', TCPLIFE_OUTPUT_FORMAT: ' ' }, x, 'empty env');
    });

    it('an environment variable (TCPLIFE_COMMS) overrides the file', async function () {
      await onlyOne(['--config', file], { TCPLIFE_COMMS: y.name }, y, 'env over file');
    });

    it('a flag (--comm) overrides both', async function () {
      await onlyOne(['--config', file, '--comm', z.name], { TCPLIFE_COMMS: y.name }, z, 'flag over env and file');
    });

    it('--print-config: YAML with each origin, header values as ***, exit 0, nothing loaded; the output is a valid file', async function () {
      const cfg = writeConfig(
        'print.yaml',
        ['filters:', '  comms: [from-file]', '  min_bytes: 5', 'otel:', '  exporter_otlp:', '    headers:', '      x-tenant: file-secret-7q', ''].join('\n'),
      );
      const exit = await runAgentToExit(['--print-config', '--config', cfg, '--comm', 'from-flag', '-L', '8000-8001'], {
        TCPLIFE_COMMS: 'from-env',
        TCPLIFE_MIN_BYTES: '7',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer env-secret-9z',
      });
      assert.deepEqual([exit.code, exit.timedOut], [0, false], `exit; stderr: ${exit.stderr}`);
      assert.equal(exit.stderr, '', 'nothing on stderr (no "attached" line: nothing loaded)');
      for (const secret of ['file-secret-7q', 'env-secret-9z', 'Bearer']) assert.ok(!exit.stdout.includes(secret), `${secret} printed`);
      const line = (key: string) => {
        const l = exit.stdout.split('\n').find((t) => t.trimStart().startsWith(`${key}:`));
        assert.ok(l, `a line for ${key} in: ${exit.stdout}`);
        return l.trim();
      };
      assert.equal(line('comms'), 'comms: from-flag  # flag --comm');
      assert.equal(line('min_bytes'), 'min_bytes: "7"  # environment TCPLIFE_MIN_BYTES');
      assert.equal(line('local_ports'), 'local_ports: 8000-8001  # flag -L');
      assert.equal(line('roles'), 'roles: []  # default');
      assert.match(exit.stdout, /^# config: .*print\.yaml.*# flag --config$/m);
      const headerLines = exit.stdout.split('\n').filter((l) => /^\s+(# )?headers:/.test(l));
      assert.deepEqual(
        headerLines.map((l) => l.trim()),
        [`# headers: ***  # file ${cfg} (redacted)`, '# headers: ***  # environment OTEL_EXPORTER_OTLP_TRACES_HEADERS (redacted)', 'headers: ""  # default'],
      );
      const doc = YAML.parse(exit.stdout) as { filters: Record<string, unknown> };
      assert.equal(doc.filters.comms, 'from-flag', 'valid YAML');
    });

    /** --print-config's output, written to a file, loaded again with --print-config. */
    async function reprint(
      args: string[],
      env: Record<string, string>,
      name: string,
    ): Promise<{ file: string; second: Awaited<ReturnType<typeof runAgentToExit>> }> {
      const first = await runAgentToExit(['--print-config', ...args], env);
      assert.deepEqual([first.code, first.stderr], [0, ''], `first --print-config; stderr: ${first.stderr}`);
      const file = writeConfig(name, first.stdout);
      const second = await runAgentToExit(['--config', file, '--print-config']);
      return { file, second };
    }

    it('--print-config output is itself a valid configuration file giving the same settings', async function () {
      const { file, second } = await reprint(['--comm', 'from-flag', '-L', '8000-8001', '--min-duration', '30'], { TCPLIFE_ROLES: 'server' }, 'printed.yaml');
      assert.deepEqual([second.code, second.stderr], [0, ''], `the printed configuration loads; stderr: ${second.stderr}`);
      const from = `# file ${file}`;
      for (const expected of ['comms: from-flag', 'local_ports: 8000-8001', 'min_duration_ms: "30"', 'roles: server']) {
        assert.ok(
          second.stdout.split('\n').some((l) => l.trim() === `${expected}  ${from}`),
          `${expected} ${from} in: ${second.stdout}`,
        );
      }
    });

    // README (Configuration) and src/config/print.ts: "the output is itself a
    // valid configuration file", also with a secret set (printed as a comment).
    it('--print-config output with a header set (printed as ***) is still a valid configuration file', async function () {
      const { second } = await reprint([], { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer x' }, 'printed-headers.yaml');
      assert.deepEqual([second.code, second.stderr], [0, ''], `the printed configuration loads; stderr: ${second.stderr}`);
      assert.ok(!second.stdout.includes('Bearer'), 'the secret is not in the printed file');
    });
  });

  describe('bad configurations: exit 2 before anything is loaded', function () {
    /** Exit 2, one line per problem (each matching one pattern, in any order), the --help pointer, nothing else. */
    async function refused(args: string[], env: Record<string, string>, problems: RegExp[]): Promise<void> {
      const exit = await runAgentToExit(args, env);
      assert.deepEqual([exit.code, exit.timedOut], [2, false], `exit code; stderr: ${exit.stderr}`);
      assert.equal(exit.stdout, '', 'nothing on stdout');
      assert.ok(!exit.stderr.includes('attached in'), `something was attached: ${exit.stderr}`);
      assert.ok(!exit.stderr.includes('\n    at '), `a stack trace: ${exit.stderr}`);
      const lines = exit.stderr.split('\n').filter((l) => l !== '');
      for (const l of lines) assert.match(l, /^tcplife-otel: /);
      assert.equal(lines.pop(), 'tcplife-otel: (see --help for the settings and what they allow)');
      assert.equal(lines.length, problems.length, `one line per problem: ${exit.stderr}`);
      for (const re of problems) assert.equal(lines.filter((l) => re.test(l)).length, 1, `one line matching ${re}: ${exit.stderr}`);
    }
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

    it('an unknown key in the file: names the key and the file', async function () {
      const f = writeConfig('unknown.yaml', 'filters:\n  prots: [80]\n');
      await refused(['--config', f], {}, [new RegExp(`^tcplife-otel: filters\\.prots in ${esc(f)}: unknown key in filters: expected one of pids, `)]);
    });

    it('a bad value in the file: names the key, the file, the value and what is allowed', async function () {
      const f = writeConfig('badvalue.yaml', 'filters:\n  min_bytes: -5\n');
      await refused(['--config', f], {}, [
        new RegExp(`^tcplife-otel: filters\\.min_bytes in ${esc(f)}: "-5" is not allowed: expected a byte count from 0 to `),
      ]);
    });

    it('a bad environment value: names the variable', async function () {
      await refused([], { TCPLIFE_ROLES: 'client,boss' }, [
        /^tcplife-otel: TCPLIFE_ROLES: "client,boss" is not allowed: item 2 \("boss"\): expected client, server$/,
      ]);
    });

    it('all three at once (file via TCPLIFE_CONFIG): one line each', async function () {
      const f = writeConfig('three-problems.yml', 'attach: kprobe\nfilters:\n  prots: [80]\n  local_ports: [80]\n');
      await refused([], { TCPLIFE_CONFIG: f, TCPLIFE_MIN_DURATION_MS: '1.5' }, [
        new RegExp(`^tcplife-otel: filters\\.prots in ${esc(f)} \\(TCPLIFE_CONFIG\\): unknown key`),
        new RegExp(`^tcplife-otel: attach in ${esc(f)} \\(TCPLIFE_CONFIG\\): "kprobe" is not allowed: expected auto, tp_btf, tracepoint$`),
        /^tcplife-otel: TCPLIFE_MIN_DURATION_MS: "1\.5" is not allowed: expected milliseconds from 0 to 2147483647$/,
      ]);
    });

    it('a header value that is refused is never printed', async function () {
      await refused([], { OTEL_EXPORTER_OTLP_HEADERS: 'sup3r-secret-token' }, [/^tcplife-otel: OTEL_EXPORTER_OTLP_HEADERS: .*not shown/]);
      const exit = await runAgentToExit([], { OTEL_EXPORTER_OTLP_HEADERS: 'sup3r-secret-token' });
      assert.ok(!exit.stderr.includes('sup3r'), exit.stderr);
    });

    it('a missing file, a cgroup or a namespace that does not exist', async function () {
      await refused(['--config', path.join(tmp, 'missing.yaml')], {}, [/^tcplife-otel: configuration file .*missing\.yaml: cannot be read: ENOENT$/]);
      await refused(['--cgroup', '/tlo-no-such-cgroup'], {}, [/^tcplife-otel: filters\.cgroups: "\/tlo-no-such-cgroup" is not a cgroup: .* ENOENT$/]);
      await refused(['--netns', '/var/run/netns/tlo-no-such-ns'], {}, [
        /^tcplife-otel: filters\.netns: "\/var\/run\/netns\/tlo-no-such-ns" cannot be read: ENOENT/,
      ]);
    });
  });

  describe('SIGHUP reload', function () {
    let d: SessionDriver;
    let portA: number;
    let portB: number;
    before(async function () {
      d = await startSessionDriver(driverName('hup'));
      [portA, portB] = [await d.listen(V4), await d.listen(V4)];
    });
    after(async function () {
      await d?.stop();
    });

    it('switches the filters mid-run, judges open sessions at close, refuses a broken file, reports restart-only changes', async function () {
      this.timeout(40_000);
      // Every version of the file also names a pid and a process name that
      // match nothing: the flag (-p) and the variable (TCPLIFE_COMMS) win
      // over them at start and must still win after each reload.
      const losers = '  pids: [1]\n  comms: [tlo-nomatch]\n';
      const file = path.join(tmp, 'reload.yaml');
      const write = (text: string) => writeFileSync(file, text.replace('filters:\n', `filters:\n${losers}`));
      write(`filters:\n  remote_ports: [${portA}]\n`);
      const agent = await startAgent(['-j', '-p', String(d.pid), '--config', file], { TCPLIFE_COMMS: d.name });
      let mark = 0;
      let kernelExcluded = 0;
      let userExcluded = 0;
      let shown = 0;
      const talk = (port: number, bytes = 1) => d.talk({ host: V4, port, clientSends: bytes, serverSends: bytes });
      /** The lines since the last round are exactly `wanted`. */
      const round = async (wanted: End[], context: string) => {
        await waitForEnds(agent, wanted, mark);
        await sleep(SETTLE_MS);
        const lines = linesOf(agent, mark);
        assertExactly(lines, wanted, context);
        mark += lines.length;
        shown += wanted.length;
      };
      const hup = async (expect: RegExp, context: string): Promise<string> => {
        const from = agent.stderr.length;
        agent.signal('SIGHUP');
        await agent.waitForStderr(expect, `${context}: ${expect}`, 5_000, from);
        await sleep(50); // the rest of the reload's lines
        return agent.stderr.slice(from);
      };

      // 1. The file admits port A only (the client end, whose remote port is A).
      const openA = await d.open(V4, portA);
      const openB = await d.open(V4, portB);
      let ta = await talk(portA);
      let tb = await talk(portB);
      await round([clientEnd(ta, 'round 1, to A')], 'round 1 (A only)');
      kernelExcluded += 3;

      // 2. B only, by SIGHUP.
      write(`filters:\n  remote_ports: [${portB}]\n`);
      let said = await hup(/configuration reloaded/, 'reload to B');
      assert.ok(said.includes(`configuration reloaded from ${file}; filters applied`), said);
      assert.ok(!said.includes('restart'), `nothing needs a restart: ${said}`);
      // Opened before the reload, closed after: judged at close.
      await d.closeOpen(openA.handle);
      await d.closeOpen(openB.handle);
      ta = await talk(portA);
      tb = await talk(portB);
      await round(
        [
          { what: 'the connection to B opened before the reload', match: (l) => l.lport === openB.clientPort && l.rport === portB },
          clientEnd(tb, 'round 2, to B'),
        ],
        'round 2 (B only)',
      );
      kernelExcluded += 6;

      // 3. A broken file is refused as a whole; B only stays.
      write(`filters:\n  remote_ports: [${portA}]\n  prots: [1]\n  min_bytes: -1\n`);
      said = await hup(/reload refused/, 'broken file');
      assert.match(said, new RegExp(`^tcplife-otel: reload: filters\\.prots in ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: unknown key`, 'm'));
      assert.match(said, /^tcplife-otel: reload: filters\.min_bytes in .*: "-1" is not allowed/m);
      assert.match(said, /^tcplife-otel: reload refused: the running configuration stays$/m);
      assert.ok(!said.includes('configuration reloaded') && !said.includes('\n    at '), said);
      assert.ok(agent.isRunning, 'still running');
      ta = await talk(portA);
      tb = await talk(portB);
      await round([clientEnd(tb, 'round 3, to B')], 'round 3 (still B only)');
      kernelExcluded += 3;

      // 3b. So is a file that is gone.
      rmSync(file);
      said = await hup(/reload refused/, 'file removed');
      assert.match(said, /^tcplife-otel: reload: configuration file .*reload\.yaml: cannot be read: ENOENT$/m);
      ta = await talk(portA);
      tb = await talk(portB);
      await round([clientEnd(tb, 'round 3b, to B')], 'round 3b (still B only)');
      kernelExcluded += 3;

      // 4. A user-space filter is reloaded too.
      write(`filters:\n  remote_ports: [${portB}]\n  min_bytes: 1000\n`);
      await hup(/configuration reloaded/, 'reload with min_bytes');
      await talk(portB, 10);
      const big = await talk(portB, 600);
      await round([clientEnd(big, 'round 4, 600+600 bytes to B')], 'round 4 (B, at least 1000 bytes)');
      kernelExcluded += 2;
      userExcluded += 1;

      // 5. A restart-only setting changes: logged; the reloadable ones still apply.
      write(`attach: tracepoint\nfilters:\n  remote_ports: [${portA}]\n`);
      said = await hup(/needs a restart/, 'attach changed');
      assert.match(said, /configuration reloaded/);
      assert.match(said, /^tcplife-otel: reload: needs a restart to apply: attach$/m);
      ta = await talk(portA);
      tb = await talk(portB);
      await round([clientEnd(ta, 'round 5, to A')], 'round 5 (A again)');
      kernelExcluded += 3;

      const exit = await agent.stop('SIGINT');
      assertClean(exit, 'reload');
      assert.equal(linesOf(agent).length, mark, `no line after the last round: ${show(linesOf(agent, mark))}`);
      const c = exitCounters(exit.stderr);
      assert.deepEqual(
        [c.sessions_seen, c.sessions_filtered_userspace, c.printed],
        [shown + userExcluded, userExcluded, shown],
        'sessions_seen, sessions_filtered_userspace, printed',
      );
      assert.ok(c.sessions_filtered >= kernelExcluded, `sessions_filtered ${c.sessions_filtered} >= ${kernelExcluded}`);
    });
  });

  describe('SIGHUP reload and sessions closed just before it', function () {
    let d: SessionDriver;
    let port: number;
    before(async function () {
      d = await startSessionDriver(driverName('hup2'));
      port = await d.listen(V4);
    });
    after(async function () {
      await d?.stop();
    });

    // README, Reload: "sessions open during the change are judged by the
    // filters in force when they close". A session that closed before the
    // SIGHUP, still waiting in the ring buffer (drained every 50 ms) when the
    // reload runs, must be judged by the filters before it: here a user-space
    // filter (roles) flips between client and server at every reload.
    it('a session closed before the SIGHUP is judged by the filters in force before it (user-space filter)', async function () {
      const file = writeConfig('flip.yaml', 'filters:\n  roles: [client]\n');
      const agent = await startAgent(['-j', '-p', String(d.pid), '--config', file]);
      const wrong: string[] = [];
      let role: 'client' | 'server' = 'client';
      const expected: End[] = [];
      for (let i = 0; i < 6; i++) {
        const next: 'client' | 'server' = role === 'client' ? 'server' : 'client';
        writeFileSync(file, `filters:\n  roles: [${next}]\n`); // read only at the SIGHUP
        const t = await d.talk({ host: V4, port, clientSends: 1, serverSends: 1 });
        const from = agent.stderr.length;
        agent.signal('SIGHUP'); // a few ms after both ends closed
        await agent.waitForStderr(/configuration reloaded/, `reload ${i}`, 5_000, from);
        const keep =
          role === 'client' ? clientEnd(t, `session ${i} (closed under roles: [${role}])`) : serverEnd(t, `session ${i} (closed under roles: [${role}])`);
        const drop = role === 'client' ? serverEnd(t, `session ${i}`) : clientEnd(t, `session ${i}`);
        expected.push(keep);
        await sleep(120);
        const lines = linesOf(agent);
        if (!lines.some(keep.match) || lines.some(drop.match)) wrong.push(`${keep.what}: shown ${show(lines.filter((l) => keep.match(l) || drop.match(l)))}`);
        role = next;
      }
      const exit = await agent.stop('SIGINT');
      assertClean(exit, 'flip');
      assert.deepEqual(wrong, [], `sessions judged by the filters of a reload that came after they closed`);
      assertExactly(linesOf(agent), expected, 'flip');
    });
  });

  describe('CLI-level fuzz: hostile values through flags, variables and files', function () {
    interface Case {
      what: string;
      args: string[];
      env: Record<string, string>;
      /** Text the message must contain: where the value came from. */
      names: string;
      file?: { name: string; text: string };
    }

    const LONG = 'x'.repeat(20_000);
    /** Refused by every setting below, whatever its format. */
    const ANY_BAD = [
      '$(reboot)',
      '; rm -rf /',
      '`id`',
      '|| true',
      "'; DROP TABLE x;--",
      '%n',
      '%s%s%n',
      'ünïcødé',
      '名前',
      '🙂',
      '\u202e',
      '80,abc',
      '10.0.0.0/33',
      LONG,
    ];
    const NUMBER_BAD = ['-1', '-80', '99999999999999999999999999', '1e3', '0x10', 'NaN', '1.5', '+1', '80--90', 'Infinity'];
    const CIDR_BAD = ['10.0.0.0/33', '::/129', ':::1', '10.0.0.256/8', '10.0.0.1/8', 'fe80::1%eth0', '1.2.3.4/32/1', 'localhost'];
    /** flag -> setting key, environment variable, values refused in particular. */
    const SETTINGS: Array<{ flag?: string; key: string; env: string; bad: string[]; empty?: boolean }> = [
      { flag: '--pid', key: 'filters.pids', env: 'TCPLIFE_PIDS', bad: [...NUMBER_BAD, '4194305', '0'] },
      { flag: '--localport', key: 'filters.local_ports', env: 'TCPLIFE_LOCAL_PORTS', bad: [...NUMBER_BAD, '65536', '0', '90-80', '80-'] },
      { flag: '--remoteport', key: 'filters.remote_ports', env: 'TCPLIFE_REMOTE_PORTS', bad: [...NUMBER_BAD, '70000', '1-65536'] },
      { flag: '--local-cidr', key: 'filters.local_cidrs', env: 'TCPLIFE_LOCAL_CIDRS', bad: CIDR_BAD },
      { flag: '--remote-cidr', key: 'filters.remote_cidrs', env: 'TCPLIFE_REMOTE_CIDRS', bad: CIDR_BAD },
      { flag: '--role', key: 'filters.roles', env: 'TCPLIFE_ROLES', bad: ['clients', 'client,boss'] },
      { flag: '--outcome', key: 'filters.outcomes', env: 'TCPLIFE_OUTCOMES', bad: ['failure', 'reset,oops'] },
      { flag: '--min-duration', key: 'filters.min_duration_ms', env: 'TCPLIFE_MIN_DURATION_MS', bad: [...NUMBER_BAD, '2147483648'], empty: true },
      { flag: '--min-bytes', key: 'filters.min_bytes', env: 'TCPLIFE_MIN_BYTES', bad: [...NUMBER_BAD, '9007199254740993'], empty: true },
      { flag: '--netns', key: 'filters.netns', env: 'TCPLIFE_NETNS', bad: ['0', '4294967296', 'relative/path', '-1'] },
      { flag: '--cgroup', key: 'filters.cgroups', env: 'TCPLIFE_CGROUPS', bad: ['relative', '/a/../b', '/./x'] },
      { flag: '--attach', key: 'attach', env: 'TCPLIFE_ATTACH', bad: ['kprobe', 'fentry'], empty: true },
      { flag: '--output', key: 'output.format', env: 'TCPLIFE_OUTPUT_FORMAT', bad: ['yaml', 'xml'], empty: true },
      { flag: '--stats-interval', key: 'stats_interval_s', env: 'TCPLIFE_STATS_INTERVAL', bad: [...NUMBER_BAD, '86401'], empty: true },
      { flag: '--shutdown-timeout', key: 'shutdown_timeout_ms', env: 'TCPLIFE_SHUTDOWN_TIMEOUT', bad: [...NUMBER_BAD, '600001'], empty: true },
      { flag: '--traces-exporter', key: 'otel.traces_exporter', env: 'OTEL_TRACES_EXPORTER', bad: ['zipkin', 'otlp,jaeger'] },
      { flag: '--otlp-endpoint', key: 'otel.exporter_otlp.endpoint', env: 'OTEL_EXPORTER_OTLP_ENDPOINT', bad: ['ftp://x:1', 'http://h:0', 'http://h:65536'] },
      { key: 'filters.family', env: 'TCPLIFE_FAMILY', bad: ['ipv5', '4'], empty: true },
      { key: 'filters.exclude_self', env: 'TCPLIFE_EXCLUDE_SELF', bad: ['yes', '1'], empty: true },
      { key: 'verbose', env: 'TCPLIFE_VERBOSE', bad: ['on'], empty: true },
      { key: 'otel.bsp.max_queue_size', env: 'OTEL_BSP_MAX_QUEUE_SIZE', bad: [...NUMBER_BAD, '0'] },
      { key: 'otel.exporter_otlp.compression', env: 'OTEL_EXPORTER_OTLP_COMPRESSION', bad: ['lz4', 'gzip,none'] },
      { key: 'otel.exporter_otlp.timeout', env: 'OTEL_EXPORTER_OTLP_TIMEOUT', bad: NUMBER_BAD },
    ];
    /** Shapes only a file can hold, refused by every setting above except where noted. */
    const FILE_SHAPES: unknown[] = [-1, 1.5, 2 ** 53, -(2 ** 53), null, [[1]], [null], { a: 1 }, true];

    function yamlFor(key: string, value: unknown): string {
      const parts = key.split('.');
      return `${parts.map((p, i) => `${'  '.repeat(i)}${p}:`).join('\n')} ${JSON.stringify(value)}\n`;
    }

    function allCases(): { flags: Case[]; env: Case[]; files: Case[] } {
      const flags: Case[] = [];
      const env: Case[] = [];
      const files: Case[] = [];
      let n = 0;
      for (const s of SETTINGS) {
        const values = [...ANY_BAD, ...s.bad, ...(s.empty ? [''] : [])];
        for (const v of values) {
          const short = JSON.stringify(v.length > 30 ? `${v.slice(0, 30)}...(${v.length})` : v);
          if (s.flag) {
            // Both spellings: `--flag VALUE` and `--flag=VALUE` (a value starting with '-' needs the second).
            const eq = v.startsWith('-') || n++ % 2 === 0;
            flags.push({ what: `${s.flag} ${short}`, args: eq ? [`${s.flag}=${v}`] : [s.flag, v], env: {}, names: s.flag });
          }
          if (v !== '') env.push({ what: `${s.env}=${short}`, args: [], env: { [s.env]: v }, names: s.env });
          const ext = n++ % 2 ? 'yaml' : 'json';
          const text = ext === 'json' ? JSON.stringify(setAt(s.key, v)) : yamlFor(s.key, v);
          files.push({ what: `${s.key}: ${short} (.${ext})`, args: [], env: {}, names: s.key, file: { name: `f.${ext}`, text } });
        }
        for (const v of FILE_SHAPES) {
          // A number is a valid port, pid, netns inode... only where the format forbids it.
          if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 53) continue;
          if (v === true && ['filters.exclude_self', 'verbose'].includes(s.key)) continue; // a valid boolean
          const text = yamlFor(s.key, v);
          files.push({ what: `${s.key}: ${JSON.stringify(v)} (.yaml)`, args: [], env: {}, names: s.key, file: { name: 'f.yaml', text } });
        }
      }
      // Hostile keys and whole files.
      for (const [name, text, names] of [
        ['k.yaml', 'filters:\n  "$(reboot)": 1\n', 'filters.$(reboot)'],
        ['k.yaml', '"; rm -rf /": true\n', '; rm -rf /'],
        ['k.json', '{"__proto__": {"attach": "kprobe"}}', '__proto__'],
        ['k.yaml', 'config: /etc/passwd\n', 'config in'],
        ['k.yaml', 'filters: {{{', 'not valid YAML'],
        ['k.json', '{"filters": ', 'not valid JSON'],
        ['k.yaml', '- 1\n- 2\n', 'expected a mapping'],
        ['k.txt', 'attach: auto\n', 'expected a name ending in'],
      ] as const) {
        files.push({ what: `file ${name}: ${JSON.stringify(text)}`, args: [], env: {}, names, file: { name, text } });
      }
      for (const v of ['$(reboot)', '; rm -rf /', '/nonexistent/ünïcødé.yaml', LONG]) {
        env.push({ what: `TCPLIFE_CONFIG=${JSON.stringify(v.slice(0, 30))}`, args: [], env: { TCPLIFE_CONFIG: v }, names: 'configuration file' });
        flags.push({ what: `--config ${JSON.stringify(v.slice(0, 30))}`, args: [`--config=${v}`], env: {}, names: 'configuration file' });
      }
      return { flags, env, files };
    }

    function setAt(key: string, value: unknown): Record<string, unknown> {
      const obj: Record<string, unknown> = {};
      let o = obj;
      const parts = key.split('.');
      for (const p of parts.slice(0, -1)) o = (o[p] = {}) as Record<string, unknown>;
      o[parts[parts.length - 1]] = value;
      return obj;
    }

    /** The brief's named hostile values, always in the sample. */
    const MUST: Case[] = [
      { what: '-L 80,abc', args: ['-L', '80,abc'], env: {}, names: '-L' },
      { what: '--remoteport=-443', args: ['--remoteport=-443'], env: {}, names: '--remoteport' },
      { what: '--min-bytes huge', args: ['--min-bytes', '99999999999999999999999999'], env: {}, names: '--min-bytes' },
      { what: '--local-cidr 10.0.0.0/33', args: ['--local-cidr', '10.0.0.0/33'], env: {}, names: '--local-cidr' },
      { what: '--pid $(reboot)', args: ['--pid', '$(reboot)'], env: {}, names: '--pid' },
      { what: 'TCPLIFE_REMOTE_PORTS=; rm -rf /', args: [], env: { TCPLIFE_REMOTE_PORTS: '; rm -rf /' }, names: 'TCPLIFE_REMOTE_PORTS' },
      { what: 'TCPLIFE_ROLES=%n', args: [], env: { TCPLIFE_ROLES: '%n' }, names: 'TCPLIFE_ROLES' },
      { what: '--attach ""', args: ['--attach', ''], env: {}, names: '--attach' },
      { what: 'TCPLIFE_OUTCOMES=unicode', args: [], env: { TCPLIFE_OUTCOMES: 'ünïcødé,🙂' }, names: 'TCPLIFE_OUTCOMES' },
      { what: '--comm very long literal', args: ['--comm', 'n'.repeat(16)], env: {}, names: '--comm' },
      { what: '--comm unclosed [', args: ['--comm', 'nginx[0-9'], env: {}, names: '--comm' },
      {
        what: 'file: min_duration_ms long',
        args: [],
        env: {},
        names: 'filters.min_duration_ms',
        file: { name: 'm.yaml', text: yamlFor('filters.min_duration_ms', LONG) },
      },
      {
        what: 'file: local_ports -80',
        args: [],
        env: {},
        names: 'filters.local_ports',
        file: { name: 'm.json', text: JSON.stringify(setAt('filters.local_ports', [-80])) },
      },
      {
        what: 'file: headers not a map',
        args: [],
        env: {},
        names: 'otel.exporter_otlp.headers',
        file: { name: 'm.yaml', text: yamlFor('otel.exporter_otlp.headers', [1, 2]) },
      },
    ];

    it('60 seeded hostile cases: exit 2, one clean line per problem, nothing loaded, within seconds', async function () {
      this.timeout(90_000);
      const r = rng(0x5eed);
      const { flags, env, files } = allCases();
      const pick = (from: Case[], n: number): Case[] => {
        const pool = [...from];
        const out: Case[] = [];
        while (out.length < n && pool.length) out.push(pool.splice(Math.floor(r() * pool.length), 1)[0]);
        return out;
      };
      const per = Math.floor((60 - MUST.length) / 3);
      const cases = [...MUST, ...pick(flags, per), ...pick(env, per), ...pick(files, 60 - MUST.length - 2 * per)];
      assert.equal(cases.length, 60);

      const failures: string[] = [];
      const dir = mkdtempSync(path.join(tmp, 'fuzz-'));
      let next = 0;
      const worker = async (w: number) => {
        for (let i = next++; i < cases.length; i = next++) {
          const c = cases[i];
          let args = c.args;
          if (c.file) {
            const f = path.join(dir, `${w}-${i}-${c.file.name}`);
            writeFileSync(f, c.file.text);
            args = ['--config', f, ...args];
          }
          const exit = await runAgentToExit(args, c.env, 8_000);
          const problems: string[] = [];
          if (exit.timedOut) problems.push('did not exit within 8 s (killed)');
          if (exit.code !== 2) problems.push(`exit code ${exit.code} (signal ${exit.signal})`);
          if (exit.ms > 5_000) problems.push(`took ${exit.ms} ms`);
          if (exit.stdout !== '') problems.push(`stdout: ${JSON.stringify(exit.stdout.slice(0, 200))}`);
          if (exit.stderr.includes('attached in')) problems.push('loaded into the kernel');
          if (exit.stderr.includes('\n    at ') || /\bat .*\.js:\d+/.test(exit.stderr)) problems.push('a stack trace');
          const lines = exit.stderr.split('\n').filter((l) => l !== '');
          if (lines.length < 2) problems.push('no problem line');
          const bad = lines.filter((l) => !l.startsWith('tcplife-otel: '));
          if (bad.length) problems.push(`lines without the prefix: ${JSON.stringify(bad.slice(0, 3))}`);
          const long = lines.filter((l) => l.length > 1000);
          if (long.length) problems.push(`a line of ${long[0].length} characters`);
          if (!exit.stderr.includes(c.names)) problems.push(`does not name ${JSON.stringify(c.names)}`);
          if (problems.length) failures.push(`${c.what}: ${problems.join('; ')}; stderr: ${JSON.stringify(exit.stderr.slice(0, 400))}`);
        }
      };
      const started = Date.now();
      await Promise.all([0, 1, 2, 3].map(worker));
      const took = Date.now() - started;
      assert.deepEqual(failures, [], `${failures.length} of ${cases.length} cases misbehaved`);
      assert.ok(took < 60_000, `the 60 cases took ${took} ms`);
    });
  });
});
