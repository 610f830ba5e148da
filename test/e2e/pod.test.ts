// The agent in a pod, made here with unshare: its own network and PID
// namespaces, as a Kubernetes pod (with a shared PID namespace) gives it.
// Scope auto traces the pod's sessions only, decided in the kernel; owners
// carry the pod's PIDs; PID filters take the pod's PIDs; and a session's
// container id comes from its owner's cgroup.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { AgentProcess } from '../support/agent-process';
import { createCgroup, type TestCgroup } from '../support/cgroups';
import { driverName, killAllDrivers, startSessionDriver, type SessionDriver } from '../support/session-driver';

type Json = Record<string, unknown>;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The children of a process (its host pids), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Waits (bounded) until stdout holds `n` sessions matching `match`. */
async function waitForSessions(agent: AgentProcess, match: (s: Json) => boolean, n: number, timeoutMs = 5000): Promise<Json[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = agent.jsonLines().filter(match);
    if (got.length >= n || Date.now() > deadline) return got;
    await sleep(20);
  }
}

describe('in a pod (network and PID namespaces of its own)', function () {
  this.timeout(40_000);
  let pod: AgentProcess | undefined;
  let podPid = 0; // the host pid of the agent: PID 1 of the pod
  const agents: AgentProcess[] = [];
  let inPod: SessionDriver;
  let onHost: SessionDriver;
  const inName = driverName('pin');
  const hostName = driverName('pout');
  const comms = ['--comm', `${inName},${hostName}`];

  /** An agent that joins the pod's namespaces (and its /proc) with nsenter. */
  const joinPod = (args: string[]) => {
    const a = new AgentProcess(['-j', ...args], {}, ['nsenter', '--target', String(podPid), '--net', '--pid', '--mount', '--']);
    agents.push(a);
    return a;
  };

  before(async () => {
    // The pod: unshare makes the namespaces and a /proc of the pod's own;
    // the agent becomes its PID 1 once loopback is up.
    pod = new AgentProcess(['-j', ...comms], {}, [
      'unshare',
      '--net',
      '--pid',
      '--fork',
      '--mount-proc',
      '--kill-child',
      'sh',
      '-c',
      'ip link set lo up && exec "$0" "$@"',
    ]);
    await pod.ready();
    const deadline = Date.now() + 5000;
    while (!podPid && Date.now() < deadline) {
      podPid = childrenOf(pod.pid)[0] ?? 0;
      if (!podPid) await sleep(20);
    }
    assert.ok(podPid > 0, 'the agent process inside unshare');
    inPod = await startSessionDriver(inName, { enter: podPid });
    onHost = await startSessionDriver(hostName);
  });

  after(async () => {
    killAllDrivers();
    for (const a of agents) a.kill();
    if (podPid) process.kill(podPid, 'SIGKILL'); // the pod's PID 1: the kernel ends the rest of the pod
    pod?.kill();
  });

  it("scope auto: says it is in a pod, traces only the pod's sessions, with the pod's PIDs", async () => {
    assert.match(pod!.stderr, /scope auto: pod \(the agent runs in its own namespaces: network \d+\)/);
    const hostAll = joinPod(['--scope', 'host', ...comms]);
    const onlyPid = joinPod(['--scope', 'host', '-p', String(inPod.pid)]);
    await Promise.all([hostAll.ready(), onlyPid.ready()]);

    const inPort = await inPod.listen('127.0.0.1');
    const inTalk = await inPod.talk({ host: '127.0.0.1', port: inPort, clientSends: 100, serverSends: 200 });
    const hostPort = await onHost.listen('127.0.0.1');
    const hostTalk = await onHost.talk({ host: '127.0.0.1', port: hostPort, clientSends: 300, serverSends: 400 });
    assert.ok(inPod.pid < 100 && inPod.pid !== inPod.hostPid, `the driver has a pod PID (${inPod.pid}) and a host PID (${inPod.hostPid})`);

    const ofIn = (s: Json) => s.lport === inTalk.serverPort || s.rport === inTalk.serverPort;
    const ofHost = (s: Json) => s.lport === hostTalk.serverPort || s.rport === hostTalk.serverPort;

    // scope auto (pod): the pod's two sockets, none of the host's.
    const podSeen = await waitForSessions(pod!, ofIn, 2);
    await sleep(300); // the host's sessions would have arrived by now
    assert.equal(podSeen.length, 2, pod!.describe());
    assert.equal(pod!.jsonLines().filter(ofHost).length, 0, 'the host session is not in the pod');
    for (const s of podSeen) {
      assert.equal(s.pid, inPod.pid, 'the pid as the pod sees it');
      assert.equal(s.host_pid, inPod.hostPid);
      assert.equal(s.comm, inName);
    }

    // scope host, in the same pod: the host's session too; its owner is
    // outside the pod's PID namespace: pid 0, host_pid set.
    const all = await waitForSessions(hostAll, (s) => ofIn(s) || ofHost(s), 4);
    assert.equal(all.length, 4, hostAll.describe());
    for (const s of all.filter(ofHost)) {
      assert.equal(s.pid, 0);
      assert.equal(s.host_pid, onHost.hostPid);
      assert.equal(s.comm, hostName, 'the command name is known even when the pid is not');
    }
    assert.match(hostAll.stderr, /scope: host/);

    // -p takes the pod's PIDs, decided in the kernel.
    const byPid = await waitForSessions(onlyPid, ofIn, 2);
    assert.deepEqual(
      onlyPid.jsonLines().map((s) => s.pid),
      [inPod.pid, inPod.pid],
      onlyPid.describe(),
    );
    assert.equal(byPid.length, 2);
  });

  it("sessions open in the pod before an agent started are found with the pod's PIDs", async () => {
    const port = await inPod.listen('127.0.0.1');
    const open = await inPod.open('127.0.0.1', port);
    const late = joinPod(['--comm', inName]); // its /proc is the pod's: NSpid shows one level only
    await late.ready();
    assert.match(await late.waitForStderr(/found \d+ TCP sessions open at start/, 'the found line'), /found [1-9]/);
    await inPod.closeOpen(open.handle);
    const ends = await waitForSessions(late, (s) => s.lport === port || s.rport === port, 2);
    assert.equal(ends.length, 2, late.describe());
    for (const s of ends) {
      assert.notEqual(s.found_at, null);
      assert.equal(s.pid, inPod.pid, "the pod's PID, found by walking the owner's pid numbers");
      assert.equal(s.host_pid, inPod.hostPid);
    }
  });

  it('scope pod contradicts an explicit netns list: exit 2, named', async () => {
    const a = joinPod(['--scope', 'pod', '--netns', '4026531833']);
    const exit = await a.exited;
    assert.equal(exit.code, 2, a.describe());
    assert.match(exit.stderr, /scope: pod traces only the agent's own network namespace, and filters.netns names others/);
  });
});

describe("container ids from the owner's cgroup", function () {
  this.timeout(30_000);
  const ID = '4f3e2d1c0b0a09080706050403020100ffeeddccbbaa99887766554433221100';
  let cg: TestCgroup | undefined;
  let agent: AgentProcess | undefined;

  after(() => {
    killAllDrivers();
    agent?.kill();
    cg?.destroy();
  });

  it("sets container.id for sessions whose owner's cgroup names a container, and only those", async () => {
    cg = createCgroup();
    const container = cg.child(`libpod-${ID}`); // as podman names a container's cgroup
    const inside = await startSessionDriver(driverName('ctr'), { cgroup: container });
    const outside = await startSessionDriver(driverName('noc'));
    agent = new AgentProcess(['-j', '--comm', `${inside.name},${outside.name}`]);
    await agent.ready();
    const p1 = await inside.listen('127.0.0.1');
    const t1 = await inside.talk({ host: '127.0.0.1', port: p1, clientSends: 10 });
    const p2 = await outside.listen('127.0.0.1');
    const t2 = await outside.talk({ host: '127.0.0.1', port: p2, clientSends: 10 });
    const of = (t: { serverPort: number }) => (s: Json) => s.lport === t.serverPort || s.rport === t.serverPort;
    const inSessions = await waitForSessions(agent, of(t1), 2);
    const outSessions = await waitForSessions(agent, of(t2), 2);
    assert.deepEqual(
      inSessions.map((s) => s.container_id),
      [ID, ID],
      agent.describe(),
    );
    assert.deepEqual(
      outSessions.map((s) => s.container_id),
      [null, null],
    );
    const exit = await agent.stop('SIGINT');
    assert.match(exit.stderr, /container_lookups_failed=0/);
  });
});
