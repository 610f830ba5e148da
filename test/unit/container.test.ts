// Container awareness, pure parts: the scope decision from namespace
// identities, the scope applied to the filters, per-session container ids
// from the owner's cgroup, and the Kubernetes Downward API settings.
import { strict as assert } from 'node:assert';
import { OwnerCgroups, type ReadFile } from '../../src/container/container-ids';
import { decideScope, INIT_NET_NS_INO, INIT_PID_NS_INO, ownPidNamespace, type NamespaceId, type Stat } from '../../src/container/namespaces';
import { scopedFilters } from '../../src/config/kernel-filters';
import { ConfigError, loadSettings } from '../../src/config/load';
import { buildResource, k8sAttributes } from '../../src/telemetry/resource';
import { sampleSession } from '../support/sample-session';

const ID_A = 'a'.repeat(63) + '1';
const ID_B = 'b'.repeat(63) + '2';

/** A stat(2) over a fixed table of namespace files; others fail with EACCES. */
function stat(files: Record<string, NamespaceId>): Stat {
  return (p) => {
    const ns = files[p];
    if (!ns) throw Object.assign(new Error(`EACCES: ${p}`), { code: 'EACCES' });
    return ns;
  };
}

describe('container awareness', () => {
  describe('ownPidNamespace', () => {
    it("is undefined in the host's PID namespace, the namespace otherwise", () => {
      assert.equal(ownPidNamespace(stat({ '/proc/self/ns/pid': { dev: 4, ino: INIT_PID_NS_INO } })), undefined);
      assert.deepEqual(ownPidNamespace(stat({ '/proc/self/ns/pid': { dev: 4, ino: 4026532999 } })), { dev: 4, ino: 4026532999 });
      assert.equal(ownPidNamespace(stat({})), undefined);
    });
  });

  describe('decideScope', () => {
    const hostPid = { '/proc/self/ns/pid': { dev: 4, ino: INIT_PID_NS_INO } };
    const podPid = { '/proc/self/ns/pid': { dev: 4, ino: 4026532700 } };
    const cases: Array<[string, Record<string, NamespaceId>, 'pod' | 'host', RegExp]> = [
      [
        "the host's network namespace by its fixed inode",
        { '/proc/self/ns/net': { dev: 4, ino: INIT_NET_NS_INO }, ...podPid },
        'host',
        /host's network namespace/,
      ],
      [
        'its own network and PID namespaces (a pod)',
        { '/proc/self/ns/net': { dev: 4, ino: 4026532800 }, ...podPid },
        'pod',
        /own namespaces: network 4026532800/,
      ],
      [
        "an older kernel, host PID namespace, PID 1's network namespace",
        { '/proc/self/ns/net': { dev: 4, ino: 4026531840 }, '/proc/1/ns/net': { dev: 4, ino: 4026531840 }, ...hostPid },
        'host',
        /host's network namespace/,
      ],
      [
        "an older kernel, host PID namespace, another network namespace than PID 1's",
        { '/proc/self/ns/net': { dev: 4, ino: 4026532801 }, '/proc/1/ns/net': { dev: 4, ino: 4026531840 }, ...hostPid },
        'pod',
        /4026532801 is not the host's/,
      ],
      [
        "an older kernel, PID 1's namespace unreadable",
        { '/proc/self/ns/net': { dev: 4, ino: 4026531840 }, ...hostPid },
        'host',
        /shares the host's PID namespace/,
      ],
      ['its own network namespace unreadable', {}, 'host', /unreadable: EACCES/],
    ];
    for (const [name, files, scope, reason] of cases) {
      it(`auto: ${name} -> ${scope}`, () => {
        const d = decideScope('auto', stat(files));
        assert.equal(d.scope, scope);
        assert.match(d.reason, reason);
      });
    }
    it('pod and host are taken as given', () => {
      assert.equal(decideScope('pod', stat({})).scope, 'pod');
      assert.equal(decideScope('host', stat({ '/proc/self/ns/net': { dev: 4, ino: 4026532800 } })).scope, 'host');
    });
  });

  describe('scopedFilters', () => {
    it('scope pod turns the default netns filter into the own namespace; host leaves it', () => {
      const l = loadSettings([], {});
      assert.equal(scopedFilters(l, 'pod').netns, 'own');
      assert.equal(scopedFilters(l, 'host').netns, 'all');
    });
    it('an explicit netns filter wins over scope auto, even "all"', () => {
      assert.equal(scopedFilters(loadSettings(['--netns', 'all'], {}), 'pod').netns, 'all');
      assert.deepEqual(scopedFilters(loadSettings([], { TCPLIFE_NETNS: '4026532800' }), 'pod').netns, [4026532800]);
    });
    it('scope pod with a netns list is a contradiction, named', () => {
      const l = loadSettings(['--scope', 'pod', '--netns', '4026532800'], {});
      assert.throws(
        () => scopedFilters(l, 'pod'),
        (err: unknown) => err instanceof ConfigError && /scope: pod .* filters\.netns names others: set scope to host/.test(err.problems[0]),
      );
      assert.equal(scopedFilters(loadSettings(['--scope', 'pod', '--netns', 'own'], {}), 'pod').netns, 'own');
    });
    it('scope takes auto, pod or host only', () => {
      assert.throws(
        () => loadSettings(['--scope', 'cluster'], {}),
        (err: unknown) => err instanceof ConfigError && /--scope.*expected auto, pod, host/.test(err.problems[0]),
      );
    });
  });

  describe('OwnerCgroups', () => {
    /** /proc of a few processes; counts the reads. */
    function proc(entries: Record<number, { comm: string; cgroup: string }>) {
      const reads: string[] = [];
      const read: ReadFile = (p) => {
        reads.push(p);
        const m = /^\/proc\/(\d+)\/(comm|cgroup)$/.exec(p);
        const e = m ? entries[Number(m[1])] : undefined;
        if (!e) return undefined;
        return m![2] === 'comm' ? `${e.comm}\n` : e.cgroup;
      };
      return { read, reads };
    }

    it("sets the owner's container id from its cgroup, once per cgroup", () => {
      const { read, reads } = proc({
        10: { comm: 'curl', cgroup: `0::/../libpod_parent/libpod-${ID_A}\n` },
        11: { comm: 'nginx', cgroup: `0::/kubepods/burstable/pod1234/cri-containerd-${ID_B}.scope\n` },
        12: { comm: 'sshd', cgroup: '0::/system.slice/ssh.service\n' },
      });
      const ids = new OwnerCgroups(read);
      const a1 = sampleSession({ pid: 10, comm: 'curl', cgroupId: 100 });
      const a2 = sampleSession({ pid: 99, comm: 'gone', cgroupId: 100 }); // same cgroup, process gone: cached
      const b = sampleSession({ pid: 11, comm: 'nginx', cgroupId: 200 });
      const host = sampleSession({ pid: 12, comm: 'sshd', cgroupId: 300 });
      ids.annotate([a1, a2, b, host]);
      assert.equal(a1.containerId, ID_A);
      assert.equal(a2.containerId, ID_A);
      assert.equal(b.containerId, ID_B);
      assert.equal(host.containerId, undefined);
      const before = reads.length;
      const again = [sampleSession({ pid: 12, comm: 'sshd', cgroupId: 300 }), sampleSession({ pid: 11, comm: 'nginx', cgroupId: 200 })];
      ids.annotate(again);
      assert.equal(reads.length, before, 'known cgroups, with or without a container, are not looked up again');
      assert.equal(again[1].containerId, ID_B);
      assert.deepEqual(ids.counters(), { container_lookups_failed: 0 });
    });

    it("reads the cgroup v2 line only: the hierarchy of the kernel's ids", () => {
      const { read } = proc({
        30: { comm: 'app', cgroup: `9:name=systemd:/docker/${ID_B}\n0::/user.slice/session-1.scope\n` },
        31: { comm: 'app', cgroup: `4:memory:/docker/${ID_B}\n` }, // cgroup v1 only: cannot be told apart
      });
      const ids = new OwnerCgroups(read);
      const s = [sampleSession({ pid: 30, comm: 'app', cgroupId: 1 }), sampleSession({ pid: 31, comm: 'app', cgroupId: 2 })];
      ids.annotate(s);
      assert.deepEqual(
        s.map((x) => x.containerId),
        [undefined, undefined],
      );
    });

    it('cannot tell, and counts it, when the owner is gone, reused, outside the PID namespace or unknown', () => {
      const { read } = proc({ 20: { comm: 'other', cgroup: `0::/libpod-${ID_A}\n` } });
      const ids = new OwnerCgroups(read);
      const sessions = [
        sampleSession({ pid: 21, comm: 'curl', cgroupId: 100 }), // gone
        sampleSession({ pid: 20, comm: 'curl', cgroupId: 101 }), // pid reused by another command
        sampleSession({ pid: 0, hostPid: 5555, comm: 'curl', cgroupId: 102 }), // outside the agent's PID namespace
        sampleSession({ pid: 0, hostPid: 0, comm: '', cgroupId: 0 }), // owner unknown: not a lookup
      ];
      ids.annotate(sessions);
      assert.deepEqual(
        sessions.map((s) => s.containerId),
        [undefined, undefined, undefined, undefined],
      );
      assert.deepEqual(ids.counters(), { container_lookups_failed: 3 });
      // A later session of cgroup 101 whose owner is alive resolves it.
      const late = sampleSession({ pid: 20, comm: 'other', cgroupId: 101 });
      ids.annotate([late]);
      assert.equal(late.containerId, ID_A);
    });
  });

  describe('Kubernetes Downward API', () => {
    const env = {
      K8S_POD_NAME: 'shop-7d9f8-abcde',
      K8S_NAMESPACE_NAME: 'prod',
      K8S_POD_UID: '0F8E7A3C-1D2B-4C5D-9E6F-7A8B9C0D1E2F',
      K8S_NODE_NAME: 'node-1.example',
    };
    it('the k8s.* resource attributes, in semantic-convention names, after container.id', () => {
      const k8s = loadSettings([], env).settings.k8s;
      assert.deepEqual(k8s, {
        pod_name: 'shop-7d9f8-abcde',
        namespace_name: 'prod',
        pod_uid: '0f8e7a3c-1d2b-4c5d-9e6f-7a8b9c0d1e2f',
        node_name: 'node-1.example',
      });
      const reader = { hostname: () => 'h', file: (p: string) => (p === '/proc/self/cgroup' ? `0::/libpod-${ID_A}\n` : undefined) };
      const keys = buildResource({}, reader, k8sAttributes(k8s)).attributes.map((a) => a.key);
      assert.deepEqual(keys.slice(0, 7), ['service.name', 'host.name', 'container.id', 'k8s.pod.name', 'k8s.namespace.name', 'k8s.pod.uid', 'k8s.node.name']);
      assert.deepEqual(k8sAttributes(loadSettings([], {}).settings.k8s), [], 'unset: none');
    });
    const bad: Array<[string, string, RegExp]> = [
      ['K8S_POD_NAME', 'Shop_1', /K8S_POD_NAME.*expected a Kubernetes name \(a DNS subdomain/],
      ['K8S_NAMESPACE_NAME', 'a.b', /K8S_NAMESPACE_NAME.*a DNS label/],
      ['K8S_NAMESPACE_NAME', 'x'.repeat(64), /at most 63 characters/],
      ['K8S_POD_UID', 'not-a-uid', /K8S_POD_UID.*expected a UUID/],
      ['K8S_NODE_NAME', 'node 1', /K8S_NODE_NAME/],
    ];
    for (const [name, value, message] of bad) {
      it(`${name}=${JSON.stringify(value.slice(0, 12))} is refused, named`, () => {
        assert.throws(
          () => loadSettings([], { [name]: value }),
          (err: unknown) => err instanceof ConfigError && message.test(err.problems.join('\n')),
        );
      });
    }
  });
});
