// Sessions that opened before the probe started: found at start (owner and
// role from then), reported at close, marked partial. Without the search at
// start, still reported at close, with the owner taken at close(). No
// tcplife version reports them.
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { once } from 'node:events';
import { SessionProbe } from '../../src/kernel/probe';
import { NO_KERNEL_FILTERS } from '../../src/kernel/probe-types';
import type { TcpSession } from '../../src/sessions/tcp-session';
import { jsonLine } from '../../src/output/json-lines';
import { useNetnsPair } from '../support/netns';
import { driverName, killAllDrivers, startSessionDriver } from '../support/session-driver';

const ANY = NO_KERNEL_FILTERS;

async function waitFor(probe: SessionProbe, seen: TcpSession[], pred: (s: TcpSession) => boolean, n: number) {
  const deadline = Date.now() + 5000;
  for (;;) {
    probe.drain();
    const hits = seen.filter(pred);
    if (hits.length >= n) return hits;
    if (Date.now() > deadline) throw new Error(`expected ${n} sessions, saw ${hits.length}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sessions older than the probe', () => {
  let probe: SessionProbe | undefined;
  let server: net.Server | undefined;
  afterEach(() => {
    probe?.stop();
    server?.close();
  });

  /** A loopback connection opened now, before any probe; then `trace` runs and the client closes first. */
  async function openedBefore(trace: () => SessionProbe, seen: TcpSession[]): Promise<{ ends: TcpSession[]; port: number; before: number }> {
    server = net.createServer({ allowHalfOpen: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const accepted = once(server, 'connection');
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    await once(client, 'connect');
    const [serverEnd] = (await accepted) as [net.Socket];

    probe = trace();
    const before = probe.counters().sessions_partial;
    serverEnd.on('data', () => {});
    client.on('data', () => {});
    client.end('x'.repeat(300));
    await once(serverEnd, 'end');
    serverEnd.end();
    await once(client, 'close');
    return { ends: await waitFor(probe, seen, (s) => s.localPort === port || s.remotePort === port, 2), port, before };
  }

  it('are found at start: reported at close, marked partial, with owner and role from then, bytes exact', async () => {
    const seen: TcpSession[] = [];
    const started = Date.now();
    const { ends, port } = await openedBefore(() => {
      const p = new SessionProbe();
      const info = p.start(ANY, (b) => seen.push(...b));
      assert.ok(info.openAtStart.found >= 2, `found ${info.openAtStart.found}`);
      return p;
    }, seen);
    for (const s of ends) {
      assert.equal(s.startTime, undefined, 'start not observed');
      assert.ok(s.foundAt && s.foundAt[0] * 1000 >= started - 1000, 'found when the probe started');
      assert.equal(s.pid, process.pid);
      assert.equal(s.ownerSource, 'found');
      const json = JSON.parse(jsonLine(s));
      assert.equal(json.partial, true);
      assert.equal(json.start, null);
    }
    const clientEnd = ends.find((s) => s.remotePort === port)!;
    const serverEnd = ends.find((s) => s.localPort === port)!;
    assert.equal(clientEnd.role, 'client');
    assert.equal(serverEnd.role, 'server');
    assert.equal(clientEnd.bytesSent, 300, 'the role is known: the SYN is not counted as payload');
    assert.equal(serverEnd.bytesReceived, 300);
  });

  it('without the search at start: reported at close, marked partial, with the owner of close()', async () => {
    const seen: TcpSession[] = [];
    const { ends, port, before } = await openedBefore(() => {
      const p = new SessionProbe({ findOpenSessions: false });
      assert.deepEqual(p.start(ANY, (b) => seen.push(...b)).openAtStart, { found: -1, reason: 'turned off by the configuration' });
      return p;
    }, seen);
    for (const s of ends) {
      assert.equal(s.startTime, undefined, 'start not observed');
      assert.equal(s.durationNs, undefined);
      assert.equal(s.role, 'unknown');
      assert.equal(s.pid, process.pid, 'owner from close() in this process');
      assert.equal(s.ownerSource, 'close');
      const json = JSON.parse(jsonLine(s));
      assert.equal(json.partial, true);
      assert.equal(json.start, null);
      assert.equal(json.duration_ms, null);
    }
    const clientEnd = ends.find((s) => s.remotePort === port)!;
    assert.equal(clientEnd.outcome, 'closed_locally');
    // The client's FIN was acked (FIN_WAIT2): only its SYN could remain in the count.
    assert.ok(clientEnd.bytesSent === 300 || clientEnd.bytesSent === 301, `bytesSent ${clientEnd.bytesSent}`);
    assert.equal(probe!.counters().sessions_partial - before, 2);
  });

  describe('in another network namespace', function () {
    const pair = useNetnsPair();
    afterEach(() => killAllDrivers());

    it('are found there too (the tcp iterator runs inside each namespace that holds one): owner and role, veth addresses', async function () {
      const a = pair().a;
      const driver = await startSessionDriver(driverName('pns'), { netns: a.netns });
      const listener = await driver.listen(a.ipv6);
      const old = await driver.open(a.ipv6, listener);
      const seen: TcpSession[] = [];
      probe = new SessionProbe();
      const open = probe.start(ANY, (b) => seen.push(...b)).openAtStart;
      if (open.reason !== undefined) assert.fail(`not looked for: ${open.reason}`);
      // Other namespaces on the machine may come and go meanwhile: only ours counts (its ends below).
      assert.ok(open.found >= 2 && open.namespaces >= 2, JSON.stringify(open));
      await driver.closeOpen(old.handle);
      const ends = await waitFor(probe, seen, (s) => s.localPort === old.clientPort || s.remotePort === old.clientPort, 2);
      assert.deepEqual(ends.map((s) => [s.localPort === listener ? 'server' : 'client', s.role, s.pid, s.ownerSource, s.localAddress, s.family]).sort(), [
        ['client', 'client', driver.hostPid, 'found', a.ipv6, 6],
        ['server', 'server', driver.hostPid, 'found', a.ipv6, 6],
      ]);
    });
  });
});
