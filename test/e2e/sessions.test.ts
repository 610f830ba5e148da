/**
 * SessionProbe against the real kernel: real TCP sessions between two
 * separate, separately named processes, on loopback and across a veth pair
 * between two network namespaces, checked field by field.
 */
import { strict as assert } from 'node:assert';
import { statSync } from 'node:fs';
import * as net from 'node:net';
import { COUNTERS, type CounterSpec } from '../../src/sessions/counters';
import type { TcpSession } from '../../src/sessions/tcp-session';
import { useNetnsPair } from '../support/netns';
import { converse, killPeersAfterEachTest, peerName, spawnPeer, within, type Conversation } from '../support/peers';
import { ANY, SessionCollector, byPorts, sessionSummary, wallMs } from '../support/session-collector';

/** How far a session's wall-clock times may stray outside what the test observed. */
const CLOCK_SLACK_MS = 300;

const CLIENT_SENDS = 100_000;
const SERVER_SENDS = 54_321;

function netnsInode(name?: string): number {
  return statSync(name ? `/var/run/netns/${name}` : '/proc/self/ns/net').ino;
}

/** A port nothing listens on (just released by us) on this loopback address. */
async function deadPort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Ends {
  client: TcpSession;
  server: TcpSession;
}

/** The two sessions of a conversation (exactly one each), waited for with a bound. */
async function endsOf(probe: SessionCollector, c: Conversation): Promise<Ends> {
  const clientPort = c.clientDone.localPort;
  const [clients, servers] = await Promise.all([
    probe.waitFor(byPorts(clientPort, c.serverPort), 1, `client end :${clientPort}->:${c.serverPort}`),
    probe.waitFor(byPorts(c.serverPort, clientPort), 1, `server end :${c.serverPort}->:${clientPort}`),
  ]);
  assert.equal(clients.length, 1, `one client session, got ${clients.map(sessionSummary).join(' | ')}`);
  assert.equal(servers.length, 1, `one server session, got ${servers.map(sessionSummary).join(' | ')}`);
  return { client: clients[0], server: servers[0] };
}

/** Birth, handshake, close and wall-clock times consistent with what the test saw. */
function assertTiming(s: TcpSession, c: Conversation, established: boolean): void {
  const what = sessionSummary(s);
  assert.ok(s.startTime, `startTime observed: ${what}`);
  assert.ok(s.durationNs !== undefined && s.durationNs > 0, `durationNs > 0, got ${s.durationNs}`);
  if (established) {
    assert.ok(s.handshakeNs !== undefined, `handshakeNs set for an established session: ${what}`);
    assert.ok(s.handshakeNs >= 0 && s.handshakeNs <= s.durationNs, `0 <= handshakeNs ${s.handshakeNs} <= durationNs ${s.durationNs}`);
  } else {
    assert.equal(s.handshakeNs, undefined, 'no handshake time for a session never established');
  }
  const start = wallMs(s.startTime);
  const end = wallMs(s.endTime);
  assert.ok(
    start >= c.startedMs - CLOCK_SLACK_MS,
    `start ${new Date(start).toISOString()} not before the client started (${new Date(c.startedMs).toISOString()})`,
  );
  assert.ok(end <= c.endedMs + CLOCK_SLACK_MS, `end ${new Date(end).toISOString()} not after both peers finished (${new Date(c.endedMs).toISOString()})`);
  assert.ok(start <= end, 'start <= end');
  assert.ok(Math.abs(end - start - s.durationNs / 1e6) < 1, `endTime - startTime (${end - start} ms) equals durationNs (${s.durationNs / 1e6} ms)`);
}

interface Expected {
  family: 4 | 6;
  clientAddress: string;
  serverAddress: string;
  clientNetns?: string;
  serverNetns?: string;
}

/** Everything about both ends of an orderly client-closes-first conversation. */
function assertOrderlyConversation(e: Ends, c: Conversation, x: Expected): void {
  const clientPort = c.clientDone.localPort;
  assert.deepEqual(
    pick(e.client),
    {
      family: x.family,
      localAddress: x.clientAddress,
      localPort: clientPort,
      remoteAddress: x.serverAddress,
      remotePort: c.serverPort,
      role: 'client',
      pid: c.client.pid,
      comm: c.client.name,
      bytesSent: CLIENT_SENDS,
      bytesReceived: SERVER_SENDS,
      outcome: 'closed_locally',
      error: undefined,
      netns: netnsInode(x.clientNetns),
    },
    `client session: ${sessionSummary(e.client)}`,
  );
  assert.deepEqual(
    pick(e.server),
    {
      family: x.family,
      localAddress: x.serverAddress,
      localPort: c.serverPort,
      remoteAddress: x.clientAddress,
      remotePort: clientPort,
      role: 'server',
      pid: c.server.pid,
      comm: c.server.name,
      bytesSent: SERVER_SENDS,
      bytesReceived: CLIENT_SENDS,
      outcome: 'closed_by_peer',
      error: undefined,
      netns: netnsInode(x.serverNetns),
    },
    `server session: ${sessionSummary(e.server)}`,
  );
  assert.equal(e.server.stateBeforeClose, 'LAST_ACK');
  assertTiming(e.client, c, true);
  assertTiming(e.server, c, true);
}

function pick(s: TcpSession) {
  return {
    family: s.family,
    localAddress: s.localAddress,
    localPort: s.localPort,
    remoteAddress: s.remoteAddress,
    remotePort: s.remotePort,
    role: s.role,
    pid: s.pid,
    comm: s.comm,
    bytesSent: s.bytesSent,
    bytesReceived: s.bytesReceived,
    outcome: s.outcome,
    error: s.error,
    netns: s.netns,
  };
}

describe('SessionProbe on the real kernel', function () {
  const probe = new SessionCollector();
  before(function () {
    probe.start();
  });
  after(function () {
    probe.stop();
  });
  killPeersAfterEachTest();

  it("reports the counters table's kernel and reader counters by name, each program's statistics, and nothing else", function () {
    probe.assertStarted();
    const { programs, ...counters } = probe.counters();
    const expected = (COUNTERS as readonly CounterSpec[]).filter((c) => c.source === 'kernel' || c.source === 'reader').map((c) => c.name);
    assert.deepEqual(Object.keys(counters).sort(), expected.sort());
    for (const [name, value] of Object.entries(counters)) assert.ok(Number.isInteger(value) && value >= 0, `${name}: ${value}`);
    assert.ok(
      programs.some((p) => p.name === 'set_state_btf' || p.name === 'set_state_tp'),
      JSON.stringify(programs.map((p) => p.name)),
    );
  });

  describe('on loopback', function () {
    it('IPv4: addresses, ports, owners, payload bytes, outcomes and times of both ends', async function () {
      probe.assertStarted();
      const c = await converse({ host: '127.0.0.1', clientSends: CLIENT_SENDS, serverSends: SERVER_SENDS, clientClose: 'first', serverClose: 'second' });
      assertOrderlyConversation(await endsOf(probe, c), c, { family: 4, clientAddress: '127.0.0.1', serverAddress: '127.0.0.1' });
    });

    it('IPv6: addresses, ports, owners, payload bytes, outcomes and times of both ends', async function () {
      probe.assertStarted();
      const c = await converse({ host: '::1', clientSends: CLIENT_SENDS, serverSends: SERVER_SENDS, clientClose: 'first', serverClose: 'second' });
      assertOrderlyConversation(await endsOf(probe, c), c, { family: 6, clientAddress: '::1', serverAddress: '::1' });
    });

    it('counts payload bytes exactly in both directions (client 100000, server 54321)', async function () {
      probe.assertStarted();
      const c = await converse({ host: '127.0.0.1', clientSends: CLIENT_SENDS, serverSends: SERVER_SENDS, clientClose: 'first', serverClose: 'second' });
      const { client, server } = await endsOf(probe, c);
      assert.deepEqual([client.bytesSent, client.bytesReceived], [CLIENT_SENDS, SERVER_SENDS], sessionSummary(client));
      assert.deepEqual([server.bytesSent, server.bytesReceived], [SERVER_SENDS, CLIENT_SENDS], sessionSummary(server));
    });

    it('counts zero payload bytes as 0 (no SYN or FIN in the count)', async function () {
      probe.assertStarted();
      const c = await converse({ host: '127.0.0.1', clientSends: 0, serverSends: 0, clientClose: 'first', serverClose: 'second' });
      const { client, server } = await endsOf(probe, c);
      assert.deepEqual([client.bytesSent, client.bytesReceived], [0, 0], sessionSummary(client));
      assert.deepEqual([server.bytesSent, server.bytesReceived], [0, 0], sessionSummary(server));
    });

    it('client closes first: client closed_locally, server closed_by_peer', async function () {
      probe.assertStarted();
      const c = await converse({ host: '127.0.0.1', clientSends: 10, serverSends: 20, clientClose: 'first', serverClose: 'second' });
      const { client, server } = await endsOf(probe, c);
      assert.deepEqual([client.role, client.outcome, client.error], ['client', 'closed_locally', undefined], sessionSummary(client));
      assert.deepEqual([server.role, server.outcome, server.error], ['server', 'closed_by_peer', undefined], sessionSummary(server));
      assert.ok(['FIN_WAIT2', 'CLOSING'].includes(client.stateBeforeClose), `client state before close ${client.stateBeforeClose}`);
      assert.equal(server.stateBeforeClose, 'LAST_ACK');
      assert.deepEqual([client.pid, client.comm, server.pid, server.comm], [c.client.pid, c.client.name, c.server.pid, c.server.name]);
    });

    it('server closes first: server closed_locally, client closed_by_peer', async function () {
      probe.assertStarted();
      const c = await converse({ host: '127.0.0.1', clientSends: 10, serverSends: 20, clientClose: 'second', serverClose: 'first' });
      const { client, server } = await endsOf(probe, c);
      assert.deepEqual([server.role, server.outcome, server.error], ['server', 'closed_locally', undefined], sessionSummary(server));
      assert.deepEqual([client.role, client.outcome, client.error], ['client', 'closed_by_peer', undefined], sessionSummary(client));
      assert.ok(['FIN_WAIT2', 'CLOSING'].includes(server.stateBeforeClose), `server state before close ${server.stateBeforeClose}`);
      assert.equal(client.stateBeforeClose, 'LAST_ACK');
      assert.deepEqual([client.bytesSent, client.bytesReceived, server.bytesSent, server.bytesReceived], [10, 20, 20, 10]);
      assert.deepEqual([client.pid, client.comm, server.pid, server.comm], [c.client.pid, c.client.name, c.server.pid, c.server.name]);
      assertTiming(client, c, true);
      assertTiming(server, c, true);
    });

    it('a refused connect: role client, outcome refused, error ECONNREFUSED, owner the client', async function () {
      probe.assertStarted();
      const port = await deadPort('127.0.0.1');
      const startedMs = Date.now();
      const client = spawnPeer(peerName('ref'), { role: 'client', host: '127.0.0.1', port, send: 0, expect: 0, close: 'first' });
      const done = await within(client.done, 5_000, 'the client to report');
      assert.equal(done.event, 'refused');
      const endedMs = Date.now();
      const [s] = await probe.waitFor((x) => x.remotePort === port && x.family === 4 && x.role === 'client', 1, `refused connect to :${port}`);
      assert.deepEqual(
        [s.role, s.outcome, s.error, s.stateBeforeClose, s.pid, s.comm, s.bytesSent, s.bytesReceived, s.localAddress, s.remoteAddress],
        ['client', 'refused', 'ECONNREFUSED', 'SYN_SENT', client.pid, client.name, 0, 0, '127.0.0.1', '127.0.0.1'],
        sessionSummary(s),
      );
      assertTiming(s, { startedMs, endedMs } as Conversation, false);
    });

    it('a reset by the client: client reset_locally, server reset_by_peer (ECONNRESET)', async function () {
      probe.assertStarted();
      const c = await converse({ host: '127.0.0.1', clientSends: 1000, serverSends: 2000, clientClose: 'reset', serverClose: 'second' });
      // What the application saw is not asserted: a RST may reach it as
      // ECONNRESET or, when the error was already consumed, as a plain EOF.
      const { client, server } = await endsOf(probe, c);
      assert.deepEqual(
        [client.role, client.outcome, client.error, client.stateBeforeClose, client.pid, client.comm, client.bytesReceived],
        ['client', 'reset_locally', undefined, 'ESTABLISHED', c.client.pid, c.client.name, 2000],
        sessionSummary(client),
      );
      assert.deepEqual(
        [server.role, server.outcome, server.error, server.stateBeforeClose, server.pid, server.comm, server.bytesReceived],
        ['server', 'reset_by_peer', 'ECONNRESET', 'ESTABLISHED', c.server.pid, c.server.name, 1000],
        sessionSummary(server),
      );
      assertTiming(client, c, true);
      assertTiming(server, c, true);
    });

    it('a reset by the server: server reset_locally, client reset_by_peer (ECONNRESET)', async function () {
      probe.assertStarted();
      const c = await converse({ host: '::1', clientSends: 1000, serverSends: 2000, clientClose: 'second', serverClose: 'reset' });
      // Not asserted: whether the client application saw ECONNRESET or an EOF.
      const { client, server } = await endsOf(probe, c);
      assert.deepEqual(
        [server.role, server.outcome, server.error, server.stateBeforeClose, server.pid, server.comm, server.bytesReceived],
        ['server', 'reset_locally', undefined, 'ESTABLISHED', c.server.pid, c.server.name, 1000],
        sessionSummary(server),
      );
      assert.deepEqual(
        [client.role, client.outcome, client.error, client.stateBeforeClose, client.pid, client.comm, client.bytesReceived],
        ['client', 'reset_by_peer', 'ECONNRESET', 'ESTABLISHED', c.client.pid, c.client.name, 2000],
        sessionSummary(client),
      );
    });

    it('owners: each end belongs to its own process, never to the other one', async function () {
      probe.assertStarted();
      // Several conversations, both close orders: the loopback peer's softirq
      // context must never leak into the other end's owner.
      for (const [clientClose, serverClose] of [
        ['first', 'second'],
        ['second', 'first'],
      ] as const) {
        const c = await converse({ host: '127.0.0.1', clientSends: 5, serverSends: 7, clientClose, serverClose });
        assert.notEqual(c.client.pid, c.server.pid);
        const { client, server } = await endsOf(probe, c);
        assert.deepEqual([client.pid, client.comm], [c.client.pid, c.client.name], `client (${clientClose}): ${sessionSummary(client)}`);
        assert.deepEqual([server.pid, server.comm], [c.server.pid, c.server.name], `server (${serverClose}): ${sessionSummary(server)}`);
        assert.ok(client.tid > 0 && server.tid > 0, 'thread ids known');
      }
    });
  });

  describe('across a veth pair between two network namespaces', function () {
    const pair = useNetnsPair();

    it('IPv4: the remote address is the other side (192.0.2.1 <-> 192.0.2.2)', async function () {
      probe.assertStarted();
      const { a, b } = pair();
      const c = await converse({
        host: a.ipv4,
        serverNetns: a.netns,
        clientNetns: b.netns,
        clientSends: CLIENT_SENDS,
        serverSends: SERVER_SENDS,
        clientClose: 'first',
        serverClose: 'second',
      });
      assertOrderlyConversation(await endsOf(probe, c), c, {
        family: 4,
        clientAddress: b.ipv4,
        serverAddress: a.ipv4,
        clientNetns: b.netns,
        serverNetns: a.netns,
      });
    });

    it('IPv6: the remote address is the other side (2001:db8::1 <-> 2001:db8::2), not a copy of the local one', async function () {
      probe.assertStarted();
      const { a, b } = pair();
      const c = await converse({
        host: a.ipv6,
        serverNetns: a.netns,
        clientNetns: b.netns,
        clientSends: CLIENT_SENDS,
        serverSends: SERVER_SENDS,
        clientClose: 'first',
        serverClose: 'second',
      });
      assertOrderlyConversation(await endsOf(probe, c), c, {
        family: 6,
        clientAddress: b.ipv6,
        serverAddress: a.ipv6,
        clientNetns: b.netns,
        serverNetns: a.netns,
      });
    });
  });

  describe('kernel filters set live with setFilters()', function () {
    afterEach(function () {
      try {
        probe.setFilters(ANY);
      } catch {
        /* the probe never started: the test already failed */
      }
    });

    /**
     * Runs one conversation with `filters` set (before the client connects),
     * then checks which of its ends were reported and that the others were
     * counted as filtered.
     */
    async function filtered(
      host: string,
      filtersFor: (server: { pid: number }, client: { pid: number }, serverPort: number) => Parameters<SessionCollector['setFilters']>[0],
      clientPort?: number,
    ) {
      const before = probe.counters().sessions_filtered;
      const c = await converse({
        host,
        clientSends: 300,
        serverSends: 200,
        clientClose: 'first',
        serverClose: 'second',
        clientPort,
        beforeConnect: (server, client, port) => probe.setFilters(filtersFor(server, client, port)),
      });
      return { c, before };
    }

    /** Waits for `included`, then for the filtered counter, then checks `excluded` never came. */
    async function expectOnly(
      included: Array<(s: TcpSession) => boolean>,
      excluded: Array<(s: TcpSession) => boolean>,
      filteredBefore: number,
    ): Promise<TcpSession[]> {
      const got: TcpSession[] = [];
      for (const m of included) got.push(...(await probe.waitFor(m, 1, 'a session the filter lets through')));
      const after = await probe.waitForFiltered(filteredBefore + excluded.length);
      assert.ok(after >= filteredBefore + excluded.length, `counters().sessions_filtered grew by ${after - filteredBefore}, expected >= ${excluded.length}`);
      for (const m of excluded) {
        const leaked = probe.find(m);
        assert.equal(leaked.length, 0, `excluded by the filter but reported: ${leaked.map(sessionSummary).join(' | ')}`);
      }
      return got;
    }

    it('local ports: only the end whose local port is listed (the server end)', async function () {
      probe.assertStarted();
      const { c, before } = await filtered('127.0.0.1', (_s, _c, port) => ({ ...ANY, localPorts: [port] }));
      const cp = c.clientDone.localPort;
      const [server] = await expectOnly([byPorts(c.serverPort, cp)], [byPorts(cp, c.serverPort)], before);
      assert.deepEqual([server.role, server.pid, server.bytesReceived], ['server', c.server.pid, 300]);
    });

    it('remote ports: the client end (remote port = server port) passes, the server end does not', async function () {
      probe.assertStarted();
      // A passive open's first event has remote port 0: the filter must still
      // decide on the final remote port and report the accepted end when asked.
      const { c, before } = await filtered('127.0.0.1', (_s, _c, port) => ({ ...ANY, remotePorts: [port] }));
      const cp = c.clientDone.localPort;
      const [client] = await expectOnly([byPorts(cp, c.serverPort)], [byPorts(c.serverPort, cp)], before);
      assert.deepEqual([client.role, client.pid, client.bytesSent], ['client', c.client.pid, 300]);
    });

    it('remote ports: an accepted (server) end passes when its peer port is listed', async function () {
      probe.assertStarted();
      // The server end's first event (SYN_RECV) has remote port 0: a filter on
      // its final remote port must not drop it. The client binds a port chosen
      // beforehand so the filter can name it before the connection exists.
      const clientPort = await deadPort('127.0.0.1');
      const { c, before } = await filtered('127.0.0.1', () => ({ ...ANY, remotePorts: [clientPort] }), clientPort);
      assert.equal(c.clientDone.localPort, clientPort);
      const [s] = await expectOnly([byPorts(c.serverPort, clientPort)], [byPorts(clientPort, c.serverPort)], before);
      assert.deepEqual([s.role, s.pid, s.comm, s.remotePort, s.bytesReceived], ['server', c.server.pid, c.server.name, clientPort, 300]);
    });

    it("PIDs: only the listed process's end passes", async function () {
      probe.assertStarted();
      const { c, before } = await filtered('127.0.0.1', (_s, client) => ({ ...ANY, pids: [client.pid] }));
      const cp = c.clientDone.localPort;
      const [client] = await expectOnly([byPorts(cp, c.serverPort)], [byPorts(c.serverPort, cp)], before);
      assert.deepEqual([client.pid, client.comm], [c.client.pid, c.client.name]);
    });

    it('family 6: IPv6 sessions pass, IPv4 sessions do not', async function () {
      probe.assertStarted();
      const before = probe.counters().sessions_filtered;
      probe.setFilters({ ...ANY, family: 6 });
      const v4 = await converse({ host: '127.0.0.1', clientSends: 1, serverSends: 2, clientClose: 'first', serverClose: 'second' });
      const v6 = await converse({ host: '::1', clientSends: 1, serverSends: 2, clientClose: 'first', serverClose: 'second' });
      const p4 = v4.clientDone.localPort;
      const p6 = v6.clientDone.localPort;
      const got = await expectOnly([byPorts(p6, v6.serverPort), byPorts(v6.serverPort, p6)], [byPorts(p4, v4.serverPort), byPorts(v4.serverPort, p4)], before);
      assert.deepEqual(
        got.map((s) => [s.family, s.role]),
        [
          [6, 'client'],
          [6, 'server'],
        ],
      );
    });

    it('a combination: family AND local port AND pid (any of two)', async function () {
      probe.assertStarted();
      // X (IPv4) and Y (IPv6) servers listen on the same port number; the
      // filter lists that port and both server pids, but only family 4: only
      // X's server end matches every kind. Y's server end matches port and
      // pid but not the family; X's client end matches the family only.
      const before = probe.counters().sessions_filtered;
      const sx = spawnPeer(peerName('sx'), { role: 'server', host: '127.0.0.1', port: 0, send: 2, expect: 1, close: 'second' });
      const port = await within(sx.listening, 5_000, 'X server to listen');
      const sy = spawnPeer(peerName('sy'), { role: 'server', host: '::1', port, send: 2, expect: 1, close: 'second' });
      await within(sy.listening, 5_000, 'Y server to listen');
      probe.setFilters({ ...ANY, pids: [sx.pid, sy.pid], localPorts: [port], family: 4 });
      const cx = spawnPeer(peerName('cx'), { role: 'client', host: '127.0.0.1', port, send: 1, expect: 2, close: 'first' });
      const cy = spawnPeer(peerName('cy'), { role: 'client', host: '::1', port, send: 1, expect: 2, close: 'first' });
      const [dx, dy] = await within(Promise.all([cx.done, cy.done, sx.done, sy.done]), 10_000, 'peers to finish');
      assert.ok(dx.event === 'done' && dy.event === 'done');
      const [got] = await expectOnly(
        [(s) => s.family === 4 && s.localPort === port && s.remotePort === dx.localPort],
        [
          (s) => s.family === 4 && s.localPort === dx.localPort && s.remotePort === port,
          (s) => s.family === 6 && s.localPort === port && s.remotePort === dy.localPort,
          (s) => s.family === 6 && s.localPort === dy.localPort && s.remotePort === port,
        ],
        before,
      );
      assert.deepEqual([got.role, got.pid, got.comm], ['server', sx.pid, sx.name]);
    });

    it('ANY again: both ends pass once the filters are cleared', async function () {
      probe.assertStarted();
      probe.setFilters({ ...ANY, pids: [1] });
      probe.setFilters(ANY);
      const c = await converse({ host: '127.0.0.1', clientSends: 3, serverSends: 4, clientClose: 'first', serverClose: 'second' });
      const { client, server } = await endsOf(probe, c);
      assert.deepEqual([client.role, server.role], ['client', 'server']);
    });
  });
});

describe('SessionProbe attach mechanisms', function () {
  killPeersAfterEachTest();

  for (const mechanism of ['tracepoint', 'tp_btf'] as const) {
    describe(`attach: '${mechanism}'`, function () {
      const probe = new SessionCollector({ attach: mechanism });
      before(function () {
        probe.start();
      });
      after(function () {
        probe.stop();
      });

      it(`reports mechanism '${mechanism}' and a known IPv4 session, both ends`, async function () {
        probe.assertStarted();
        assert.equal(probe.info?.mechanism, mechanism);
        const c = await converse({ host: '127.0.0.1', clientSends: 4321, serverSends: 1234, clientClose: 'first', serverClose: 'second' });
        const { client, server } = await endsOf(probe, c);
        assert.deepEqual(
          [client.role, client.pid, client.comm, client.bytesSent, client.bytesReceived, client.outcome, client.remoteAddress],
          ['client', c.client.pid, c.client.name, 4321, 1234, 'closed_locally', '127.0.0.1'],
          sessionSummary(client),
        );
        assert.deepEqual(
          [server.role, server.pid, server.comm, server.bytesSent, server.bytesReceived, server.outcome],
          ['server', c.server.pid, c.server.name, 1234, 4321, 'closed_by_peer'],
          sessionSummary(server),
        );
        assertTiming(client, c, true);
        assertTiming(server, c, true);
        if (mechanism === 'tracepoint') assert.equal(client.cookie, 0, 'no socket cookie with the classic tracepoint');
        else assert.notEqual(client.cookie, server.cookie, 'each end has its own socket cookie');
      });

      it(`reports an IPv6 session across loopback with the right remote port`, async function () {
        probe.assertStarted();
        const c = await converse({ host: '::1', clientSends: 11, serverSends: 22, clientClose: 'second', serverClose: 'first' });
        const { client, server } = await endsOf(probe, c);
        assert.deepEqual([client.family, client.outcome, server.outcome, client.bytesSent, server.bytesSent], [6, 'closed_by_peer', 'closed_locally', 11, 22]);
      });
    });
  }
});
