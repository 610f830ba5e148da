/**
 * The kernel filters on the real kernel, at the SessionProbe level: local and
 * remote CIDRs (IPv4, IPv6, IPv4-mapped), network namespaces, cgroups,
 * excluded PIDs and a combination, each with real sessions on both sides of
 * the filter, under both attach mechanisms; then setFilters() while sessions
 * are in flight: each session is judged by the filters in force when it
 * closes, and none is lost or duplicated across many switches.
 */
import { strict as assert } from 'node:assert';
import { statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CIDR_RECORD_BYTES, encodeKernelFilters, kernelCidr } from '../../src/kernel/kernel-filters';
import { parseCidr } from '../../src/sessions/cidr';
import type { KernelFilters } from '../../src/kernel/probe-types';
import type { TcpSession } from '../../src/sessions/tcp-session';
import { cgroup2Mount, cgroupDirOf, createCgroup, spawnInCgroup, type TestCgroup } from '../support/cgroups';
import { useNetnsPair } from '../support/netns';
import { converse, killPeersAfterEachTest, peerName, spawnPeer, within, type ConversationOptions } from '../support/peers';
import { openPool, type ConnectionPool } from '../support/pool-peer';
import { ANY, SessionCollector, sessionSummary } from '../support/session-collector';

type Match = (s: TcpSession) => boolean;

function filters(f: Partial<KernelFilters>): KernelFilters {
  return { ...ANY, ...f };
}

function netnsInode(name?: string): number {
  return statSync(name ? `/var/run/netns/${name}` : '/proc/self/ns/net').ino;
}

/** One end of a connection, told apart from every other session by ports and namespace. */
function end(localPort: number, remotePort: number, netns: number, what: string): Match {
  const m: Match = (s) => s.localPort === localPort && s.remotePort === remotePort && s.netns === netns;
  Object.defineProperty(m, 'name', { value: `${what} :${localPort}->:${remotePort} (netns ${netns})` });
  return m;
}

interface Ends {
  client: Match;
  server: Match;
  clientPid: number;
  serverPid: number;
}

/** A conversation (small payloads, client closes first) and matchers for its two ends. */
async function talk(o: Pick<ConversationOptions, 'host' | 'serverNetns' | 'clientNetns' | 'beforeConnect'>): Promise<Ends> {
  const c = await converse({ clientSends: 10, serverSends: 20, clientClose: 'first', serverClose: 'second', ...o });
  const cp = c.clientDone.localPort;
  return {
    client: end(cp, c.serverPort, netnsInode(o.clientNetns), `client of ${o.host}`),
    server: end(c.serverPort, cp, netnsInode(o.serverNetns), `server of ${o.host}`),
    clientPid: c.client.pid,
    serverPid: c.server.pid,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Each `included` end arrives exactly once; the filtered counter grows by at
 * least the number of `excluded` ends (other sessions on the machine may be
 * filtered too); no `excluded` end is ever reported. Call after the peers
 * exited: an excluded end wrongly emitted would then already be in the ring.
 */
async function expectOnly(probe: SessionCollector, included: Match[], excluded: Match[], filteredBefore: number): Promise<TcpSession[]> {
  const got: TcpSession[] = [];
  for (const m of included) {
    const found = await probe.waitFor(m, 1, `${m.name}, which the filter lets through`);
    assert.equal(found.length, 1, `exactly one ${m.name}: ${found.map(sessionSummary).join(' | ')}`);
    got.push(found[0]);
  }
  await probe.waitForFiltered(filteredBefore + excluded.length);
  for (const m of excluded) {
    const leaked = probe.find(m);
    assert.equal(leaked.length, 0, `${m.name} is excluded by the filter but was reported: ${leaked.map(sessionSummary).join(' | ')}`);
  }
  return got;
}

describe('CIDR encoding for the kernel (no kernel needed)', function () {
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

  it('IPv4 as ::ffff:a.b.c.d with prefix + 96, IPv6 as is, bare addresses as single hosts, host bits cleared', function () {
    const table: Array<[string, number, string]> = [
      ['127.0.0.0/8', 104, '00000000000000000000ffff7f000000'],
      ['192.0.2.0/24', 120, '00000000000000000000ffffc0000200'],
      ['0.0.0.0/0', 96, '00000000000000000000ffff00000000'],
      ['10.1.2.3', 128, '00000000000000000000ffff0a010203'],
      ['10.1.2.3/8', 104, '00000000000000000000ffff0a000000'],
      ['2001:db8::/32', 32, '20010db8000000000000000000000000'],
      ['2001:DB8:0:0:1::/64', 64, '20010db8000000000000000000000000'],
      ['::1/128', 128, '00000000000000000000000000000001'],
      ['::1', 128, '00000000000000000000000000000001'],
      ['::/0', 0, '00000000000000000000000000000000'],
      ['fe80::1:2:3:4/80', 80, 'fe800000000000000001000000000000'],
      ['::ffff:10.1.2.3/120', 120, '00000000000000000000ffff0a010200'],
      ['1:2:3:4:5:6:7:8', 128, '00010002000300040005000600070008'],
      ['1::8', 128, '00010000000000000000000000000008'],
    ];
    for (const [text, prefix, bytes] of table) {
      const c = kernelCidr(parseCidr(text));
      assert.deepEqual([c.prefixLength, hex(c.address)], [prefix, bytes], text);
    }
  });

  it('refuses what it cannot parse, naming the field and the value', function () {
    for (const bad of [
      '',
      '10.0.0.0/33',
      '10.0.0/8',
      '10.0.0.0/',
      '10.0.0.0/08',
      '10.0.0.0/-1',
      '010.0.0.1',
      '::1/129',
      'fe80::1%eth0',
      '1:2:3:4:5:6:7:8:9',
      'localhost',
      '10.0.0.0/8/8',
      ' 10.0.0.0/8',
    ]) {
      assert.throws(
        () => encodeKernelFilters(filters({ remoteCidrs: ['::1', bad] })),
        (err: Error) => {
          assert.match(err.message, /^remoteCidrs: /, bad);
          assert.ok(err.message.includes(JSON.stringify(bad)), `${err.message} names ${JSON.stringify(bad)}`);
          return true;
        },
      );
    }
    assert.throws(
      () => encodeKernelFilters(filters({ localCidrs: [42 as unknown as string] })),
      /localCidrs: 42 is not a CIDR: CIDR must be a string, got number/,
    );
    assert.throws(() => encodeKernelFilters(filters({ localCidrs: '10.0.0.0/8' as unknown as string[] })), /localCidrs must be an array/);
  });

  it('hands the addon 17-byte records, never text', function () {
    const enc = encodeKernelFilters(filters({ localCidrs: ['127.0.0.0/8', '::1'], remoteCidrs: [] }));
    assert.equal(CIDR_RECORD_BYTES, 17);
    assert.ok(enc.localCidrs instanceof Uint8Array && enc.remoteCidrs instanceof Uint8Array);
    assert.equal(enc.localCidrs.length, 34);
    assert.equal(enc.remoteCidrs.length, 0);
    assert.deepEqual([enc.localCidrs[0], enc.localCidrs[17]], [104, 128]);
  });
});

describe('SessionProbe refuses malformed filters', function () {
  it('start(): a bad CIDR throws a clear Error before anything is loaded', function () {
    // Loaded here, so that a missing addon fails this test, not the import of the file.
    const { SessionProbe } = require('../../src/kernel/probe') as typeof import('../../src/kernel/probe');
    const probe = new SessionProbe();
    try {
      assert.throws(
        () => probe.start(filters({ localCidrs: ['10.0.0.0/33'] }), () => undefined),
        /localCidrs: "10\.0\.0\.0\/33" is not a CIDR: prefix length must be 0-32/,
      );
      assert.throws(() => probe.setFilters(ANY), /probe not started/);
    } finally {
      probe.stop();
    }
  });
});

for (const mechanism of ['tp_btf', 'tracepoint'] as const) {
  describe(`kernel filters (attach: '${mechanism}')`, function () {
    const probe = new SessionCollector({ attach: mechanism });
    before(function () {
      probe.start();
    });
    after(function () {
      probe.stop();
    });
    afterEach(function () {
      try {
        probe.setFilters(ANY);
      } catch {
        /* the probe never started: the test already failed */
      }
    });
    killPeersAfterEachTest();
    const pair = useNetnsPair();
    const HOST = () => netnsInode();

    it(`runs with the '${mechanism}' mechanism`, function () {
      probe.assertStarted();
      assert.equal(probe.info?.mechanism, mechanism);
    });

    describe('CIDRs', function () {
      it('local, IPv4: 127.0.0.0/8 lets the loopback ends through, not the veth ends (192.0.2.x)', async function () {
        probe.assertStarted();
        const { a, b } = pair();
        const before = probe.counters().sessions_filtered;
        probe.setFilters(filters({ localCidrs: ['127.0.0.0/8'] }));
        const lo = await talk({ host: '127.0.0.1' });
        const veth = await talk({ host: a.ipv4, serverNetns: a.netns, clientNetns: b.netns });
        const got = await expectOnly(probe, [lo.client, lo.server], [veth.client, veth.server], before);
        assert.deepEqual(
          got.map((s) => [s.localAddress, s.role]),
          [
            ['127.0.0.1', 'client'],
            ['127.0.0.1', 'server'],
          ],
        );
      });

      it('remote, IPv4: 192.0.2.1/32 lets only the end whose peer is 192.0.2.1 through', async function () {
        probe.assertStarted();
        const { a, b } = pair();
        const before = probe.counters().sessions_filtered;
        probe.setFilters(filters({ remoteCidrs: ['192.0.2.1/32'] }));
        const veth = await talk({ host: a.ipv4, serverNetns: a.netns, clientNetns: b.netns });
        const lo = await talk({ host: '127.0.0.1' });
        const [s] = await expectOnly(probe, [veth.client], [veth.server, lo.client, lo.server], before);
        assert.deepEqual([s.role, s.localAddress, s.remoteAddress], ['client', '192.0.2.2', '192.0.2.1']);
      });

      it('local, IPv6: 2001:db8::/64 lets the veth ends through, not the ::1 ends', async function () {
        probe.assertStarted();
        const { a, b } = pair();
        const before = probe.counters().sessions_filtered;
        probe.setFilters(filters({ localCidrs: ['2001:db8::/64'] }));
        const veth = await talk({ host: a.ipv6, serverNetns: a.netns, clientNetns: b.netns });
        const lo = await talk({ host: '::1' });
        const got = await expectOnly(probe, [veth.client, veth.server], [lo.client, lo.server], before);
        assert.deepEqual(
          got.map((s) => s.localAddress),
          ['2001:db8::2', '2001:db8::1'],
        );
      });

      it('remote, IPv6: ::1/128 lets the ::1 ends through, not the veth ends; 2001:db8::2/128 only the end facing ::2', async function () {
        probe.assertStarted();
        const { a, b } = pair();
        let before = probe.counters().sessions_filtered;
        probe.setFilters(filters({ remoteCidrs: ['::1/128'] }));
        let lo = await talk({ host: '::1' });
        let veth = await talk({ host: a.ipv6, serverNetns: a.netns, clientNetns: b.netns });
        await expectOnly(probe, [lo.client, lo.server], [veth.client, veth.server], before);

        before = probe.counters().sessions_filtered;
        probe.setFilters(filters({ remoteCidrs: ['2001:db8::2/128'] }));
        veth = await talk({ host: a.ipv6, serverNetns: a.netns, clientNetns: b.netns });
        lo = await talk({ host: '::1' });
        const [s] = await expectOnly(probe, [veth.server], [veth.client, lo.client, lo.server], before);
        assert.deepEqual([s.role, s.remoteAddress], ['server', '2001:db8::2']);
      });

      it('an IPv4 CIDR matches the IPv4-mapped addresses of an IPv6 socket (::ffff:127.0.0.1), not ::1', async function () {
        probe.assertStarted();
        const before = probe.counters().sessions_filtered;
        probe.setFilters(filters({ remoteCidrs: ['127.0.0.0/8'] }));
        // An IPv4 server; the client connects from an IPv6 socket to its mapped address.
        const server = spawnPeer(peerName('srv'), { role: 'server', host: '127.0.0.1', port: 0, send: 20, expect: 10, close: 'second' });
        const port = await within(server.listening, 5_000, 'the IPv4 server to listen');
        const client = spawnPeer(peerName('cli'), { role: 'client', host: '::ffff:127.0.0.1', port, send: 10, expect: 20, close: 'first' });
        const [cd] = await within(Promise.all([client.done, server.done]), 10_000, 'the mapped conversation');
        assert.equal(cd.event, 'done');
        await within(Promise.all([client.exited, server.exited]), 5_000, 'peers to exit');
        const lo6 = await talk({ host: '::1' });
        const cp = cd.event === 'done' ? cd.localPort : 0;
        const got = await expectOnly(probe, [end(cp, port, HOST(), 'mapped client'), end(port, cp, HOST(), 'IPv4 server')], [lo6.client, lo6.server], before);
        assert.deepEqual(
          got.map((s) => [s.role, s.family, s.localAddress, s.remoteAddress]),
          [
            ['client', 6, '::ffff:127.0.0.1', '::ffff:127.0.0.1'],
            ['server', 4, '127.0.0.1', '127.0.0.1'],
          ],
        );
      });
    });

    describe('network namespaces', function () {
      it('only the listed namespace passes: a namespace of ours, then the host', async function () {
        probe.assertStarted();
        const { a } = pair();
        let before = probe.counters().sessions_filtered;
        probe.setFilters(filters({ netns: [netnsInode(a.netns)] }));
        let inNs = await talk({ host: '127.0.0.1', serverNetns: a.netns, clientNetns: a.netns });
        let onHost = await talk({ host: '127.0.0.1' });
        const got = await expectOnly(probe, [inNs.client, inNs.server], [onHost.client, onHost.server], before);
        assert.deepEqual(
          got.map((s) => s.netns),
          [netnsInode(a.netns), netnsInode(a.netns)],
        );

        before = probe.counters().sessions_filtered;
        probe.setFilters(filters({ netns: [HOST()] }));
        inNs = await talk({ host: '127.0.0.1', serverNetns: a.netns, clientNetns: a.netns });
        onHost = await talk({ host: '127.0.0.1' });
        await expectOnly(probe, [onHost.client, onHost.server], [inNs.client, inNs.server], before);
      });
      it('a session its netns excludes from birth is counted as filtered, never as partial', async function () {
        probe.assertStarted();
        const { a } = pair();
        // Other sessions on the machine are outside `a`: excluded too, so
        // nothing else can count as partial meanwhile.
        probe.setFilters(filters({ netns: [netnsInode(a.netns)] }));
        const before = probe.counters();
        const onHost = await talk({ host: '127.0.0.1' });
        await expectOnly(probe, [], [onHost.client, onHost.server], before.sessions_filtered);
        assert.equal(probe.counters().sessions_partial - before.sessions_partial, 0, 'no partial session counted');
      });

      it('a session excluded from birth, then let through before it closes, is reported as partial', async function () {
        probe.assertStarted();
        const { a } = pair();
        probe.setFilters(filters({ netns: [netnsInode(a.netns)] }));
        const p = await openPool('127.0.0.1', 2);
        try {
          probe.setFilters(ANY);
          await p.close(0, 2);
          for (let i = 0; i < 2; i++) {
            for (const m of [end(p.clientPorts[i], p.serverPort, HOST(), 'client'), end(p.serverPort, p.clientPorts[i], HOST(), 'server')]) {
              const [s] = await probe.waitFor(m, 1, m.name);
              assert.deepEqual([s.role, s.startTime], ['unknown', undefined], `partial: ${sessionSummary(s)}`);
            }
          }
        } finally {
          p.stop();
        }
      });
    });

    describe('cgroups (v2)', function () {
      let group: TestCgroup | undefined;
      let sub: TestCgroup | undefined;
      beforeEach(function () {
        group = createCgroup();
        sub = group.child('sub');
      });
      afterEach(function () {
        group?.destroy(); // kills what is left inside, removes sub too
        group = sub = undefined;
      });

      /**
       * A server created inside `group` and a client moved into `sub`
       * (before it connects), under `f`; then a conversation from the
       * test's own cgroup under the same filters.
       */
      async function grouped(f: (g: TestCgroup, s: TestCgroup) => Partial<KernelFilters>, serverLeaves = false) {
        const g = group!;
        const s = sub!;
        const server = spawnInCgroup(g, () =>
          spawnPeer(peerName('cgs'), { role: 'server', host: '127.0.0.1', port: 0, send: 20, expect: 10, close: 'second' }),
        );
        const port = await within(server.listening, 5_000, 'the server to listen');
        // After listen(): later moves of the process do not move its sockets.
        if (serverLeaves) writeFileSync(path.join(cgroupDirOf('self'), 'cgroup.procs'), String(server.pid));
        const client = spawnPeer(peerName('cgc'), { role: 'client', host: '127.0.0.1', port, send: 10, expect: 20, close: 'first', waitForGo: true });
        s.adopt(client.pid); // before it creates its socket
        assert.equal(cgroupDirOf(client.pid), s.path);
        const before = probe.counters().sessions_filtered;
        probe.setFilters(filters(f(g, s)));
        client.go();
        const [cd] = await within(Promise.all([client.done, server.done]), 10_000, 'the grouped conversation');
        await within(Promise.all([client.exited, server.exited]), 5_000, 'peers to exit');
        assert.equal(cd.event, 'done');
        const cp = cd.event === 'done' ? cd.localPort : 0;
        const outside = await talk({ host: '127.0.0.1' });
        return {
          before,
          client: end(cp, port, HOST(), 'client in sub'),
          server: end(port, cp, HOST(), 'server in group'),
          outside,
        };
      }

      it('a listed cgroup: sockets created in it and in its child pass, sockets elsewhere do not', async function () {
        probe.assertStarted();
        const t = await grouped((g) => ({ cgroupIds: [g.id] }));
        await expectOnly(probe, [t.client, t.server], [t.outside.client, t.outside.server], t.before);
      });

      it("a listed child cgroup: its sockets pass, its parent's do not", async function () {
        probe.assertStarted();
        const t = await grouped((_g, s) => ({ cgroupIds: [s.id] }));
        await expectOnly(probe, [t.client], [t.server, t.outside.client, t.outside.server], t.before);
      });

      it("an accepted socket belongs to its listener's cgroup, even after its process moved out", async function () {
        probe.assertStarted();
        const t = await grouped((g) => ({ cgroupIds: [g.id] }), true);
        await expectOnly(probe, [t.server, t.client], [t.outside.client, t.outside.server], t.before);
      });

      it('the root cgroup lists every socket', async function () {
        probe.assertStarted();
        const root = statSync(cgroup2Mount()).ino;
        const t = await grouped(() => ({ cgroupIds: [root] }));
        await expectOnly(probe, [t.client, t.server, t.outside.client, t.outside.server], [], t.before);
      });
    });

    describe('excluded PIDs', function () {
      it("the excluded process's end is dropped, the other end passes", async function () {
        probe.assertStarted();
        const before = probe.counters().sessions_filtered;
        const c = await talk({ host: '127.0.0.1', beforeConnect: (_s, client) => probe.setFilters(filters({ excludePids: [client.pid] })) });
        const [s] = await expectOnly(probe, [c.server], [c.client], before);
        assert.equal(s.pid, c.serverPid);
      });
    });

    describe('a combination', function () {
      it('netns AND local CIDRs AND excluded PIDs AND cgroup: each kind decides some session', async function () {
        probe.assertStarted();
        const { a, b } = pair();
        const before = probe.counters().sessions_filtered;
        const root = statSync(cgroup2Mount()).ino;
        // Y (IPv6 over the veth): its server end fails only excludePids, its client end only netns.
        const y = await talk({
          host: a.ipv6,
          serverNetns: a.netns,
          clientNetns: b.netns,
          beforeConnect: (server) =>
            probe.setFilters(
              filters({ netns: [netnsInode(a.netns)], localCidrs: ['192.0.2.0/24', '2001:db8::/64'], excludePids: [server.pid], cgroupIds: [root] }),
            ),
        });
        // X (IPv4 over the veth): its server end passes every kind.
        const x = await talk({ host: a.ipv4, serverNetns: a.netns, clientNetns: b.netns });
        // Z (loopback inside a): fails only the CIDRs.
        const z = await talk({ host: '127.0.0.1', serverNetns: a.netns, clientNetns: a.netns });
        const [s] = await expectOnly(probe, [x.server], [y.server, y.client, x.client, z.client, z.server], before);
        assert.deepEqual([s.role, s.localAddress, s.pid], ['server', a.ipv4, x.serverPid]);
      });
    });

    describe('malformed filters on a running probe', function () {
      it('throw a clear error and leave the filters in force unchanged', async function () {
        probe.assertStarted();
        probe.setFilters(filters({ localCidrs: ['127.0.0.0/8'] }));
        assert.throws(() => probe.setFilters(filters({ localCidrs: ['::1'], remoteCidrs: ['1.2.3.4/40'] })), /remoteCidrs: "1\.2\.3\.4\/40" is not a CIDR/);
        assert.throws(() => probe.setFilters(filters({ netns: [-1] })), /netns must hold integers/);
        assert.throws(() => probe.setFilters(filters({ cgroupIds: [1.5] })), /cgroupIds must hold integers/);
        assert.throws(() => probe.setFilters(filters({ excludePids: Array.from({ length: 5000 }, (_, i) => i + 1) })), /excludePids: at most 4096/);
        const before = probe.counters().sessions_filtered;
        const v4 = await talk({ host: '127.0.0.1' });
        const v6 = await talk({ host: '::1' });
        await expectOnly(probe, [v4.client, v4.server], [v6.client, v6.server], before);
      });
    });

    describe('setFilters() while sessions are in flight', function () {
      let pool: ConnectionPool | undefined;
      afterEach(function () {
        pool?.stop();
        pool = undefined;
      });

      const key = (localPort: number, remotePort: number) => `${localPort}>${remotePort}`;
      const clientKey = (p: ConnectionPool, i: number) => key(p.clientPorts[i], p.serverPort);
      const serverKey = (p: ConnectionPool, i: number) => key(p.serverPort, p.clientPorts[i]);

      /** How often each host-namespace end was delivered since sessions[mark] (drains first). */
      function tally(mark: number): Map<string, number> {
        probe.find(() => false);
        const host = HOST();
        const n = new Map<string, number>();
        for (const s of probe.sessions.slice(mark)) {
          if (s.netns !== host) continue;
          const k = key(s.localPort, s.remotePort);
          n.set(k, (n.get(k) ?? 0) + 1);
        }
        return n;
      }

      /**
       * Waits until the `ends` delivered since `mark` plus the filtered
       * counter's growth reach the number of ends (bounded), then a little
       * longer so that an extra delivery would show.
       */
      async function settle(mark: number, ends: string[], filteredBefore: number): Promise<{ seen: Map<string, number>; delivered: number; filtered: number }> {
        const deadline = Date.now() + 5_000;
        const measure = () => {
          const seen = tally(mark);
          const delivered = ends.reduce((n, k) => n + (seen.get(k) ?? 0), 0);
          return { seen, delivered, filtered: probe.counters().sessions_filtered - filteredBefore };
        };
        for (;;) {
          const m = measure();
          if (m.delivered + m.filtered >= ends.length) {
            await sleep(100);
            return measure();
          }
          if (Date.now() > deadline) {
            throw new Error(`after 5 s: ${m.delivered} delivered + ${m.filtered} filtered, expected ${ends.length} ends accounted for`);
          }
          await sleep(10);
        }
      }

      it('24 connections held open across 8 switches: each end is judged by the filters in force when it closes', async function () {
        probe.assertStarted();
        // Only excludePids of the two pool processes: other sessions on the
        // machine are never filtered, so the filtered counter is exact.
        const N = 24;
        const BATCH = 3;
        const p = (pool = await openPool('127.0.0.1', N));
        const cycle: number[][] = [[], [p.client.pid], [p.server.pid], [p.client.pid, p.server.pid]];
        for (let from = 0, step = 0; from < N; from += BATCH, step++) {
          const excluded = cycle[step % cycle.length];
          const what = `step ${step} (excluding ${excluded.map((pid) => (pid === p.client.pid ? 'client' : 'server')).join('+') || 'nothing'})`;
          const mark = probe.sessions.length;
          const before = probe.counters().sessions_filtered;
          probe.setFilters(filters({ excludePids: excluded }));
          await p.close(from, from + BATCH);
          const want: string[] = [];
          const drop: string[] = [];
          for (let i = from; i < from + BATCH; i++) {
            (excluded.includes(p.client.pid) ? drop : want).push(clientKey(p, i));
            (excluded.includes(p.server.pid) ? drop : want).push(serverKey(p, i));
          }
          const { seen, delivered, filtered } = await settle(mark, [...want, ...drop], before);
          for (const k of want) assert.equal(seen.get(k), 1, `${what}: end ${k} delivered once`);
          for (const k of drop) assert.equal(seen.get(k), undefined, `${what}: end ${k} not delivered`);
          assert.deepEqual([delivered, filtered], [want.length, drop.length], `${what}: delivered, filtered`);
        }
      });

      it('300 connections closing while the filters switch back and forth: every end delivered or filtered exactly once', async function () {
        probe.assertStarted();
        this.timeout(60_000);
        const N = 300;
        // Up to three rounds, until one shows both filters judging some of its closes.
        for (let round = 1; ; round++) {
          const p = (pool = await openPool('127.0.0.1', N));
          const excludeClient = filters({ excludePids: [p.client.pid] });
          const excludeServer = filters({ excludePids: [p.server.pid] });
          const mark = probe.sessions.length;
          const before = probe.counters().sessions_filtered;
          let closing = true;
          const closed = p.close(0, N, 1).finally(() => {
            closing = false;
          });
          let switches = 0;
          while (closing) {
            probe.setFilters(switches % 2 === 0 ? excludeClient : excludeServer);
            switches++;
            await nextTurn();
          }
          await closed;
          const clients = Array.from({ length: N }, (_, i) => clientKey(p, i));
          const servers = Array.from({ length: N }, (_, i) => serverKey(p, i));
          const { seen, delivered, filtered } = await settle(mark, [...clients, ...servers], before);
          const twice = [...clients, ...servers].filter((k) => (seen.get(k) ?? 0) > 1);
          assert.deepEqual(twice, [], 'no end delivered twice');
          assert.equal(delivered + filtered, 2 * N, `${delivered} delivered + ${filtered} filtered = each of ${2 * N} ends once`);
          // Under excludeClient only server ends pass, under excludeServer only client ends.
          const clientsDelivered = clients.filter((k) => seen.has(k)).length;
          const serversDelivered = servers.filter((k) => seen.has(k)).length;
          p.stop();
          pool = undefined;
          if ((clientsDelivered > 0 && serversDelivered > 0) || round === 3) {
            assert.ok(
              clientsDelivered > 0 && serversDelivered > 0,
              `both filters judged some closes (round ${round}: ${clientsDelivered} client and ${serversDelivered} server ends delivered, ${switches} switches)`,
            );
            break;
          }
          probe.setFilters(ANY);
        }
      });
    });
  });
}
