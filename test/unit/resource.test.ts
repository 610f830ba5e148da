// Resource detection: OTEL_RESOURCE_ATTRIBUTES parsing, container ids from
// /proc/self/cgroup and /proc/self/mountinfo, and attribute precedence.
import { strict as assert } from 'node:assert';
import * as os from 'node:os';
import type { Attribute } from '../../src/telemetry/span-record';
import { containerIdFromCgroup } from '../../src/container/container-ids';
import { buildResource, detectResource, parseResourceAttributes, type ResourceReader } from '../../src/telemetry/resource';

const ID = '3b5a2c7f1e9d4b6a8c0e2f4a6b8d0c1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c';
const ID2 = 'f00dbabe0123456789abcdef0123456789abcdef0123456789abcdef01234567';

/** Attributes as a plain object, for comparing whole sets. */
function obj(attrs: Attribute[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const a of attrs) {
    assert.ok(!(a.key in out), `duplicate key ${a.key}`);
    const v = a.value;
    out[a.key] = v.string ?? v.int ?? v.double ?? (v.bool as boolean);
  }
  return out;
}

describe('resource', () => {
  describe('parseResourceAttributes', () => {
    const cases: Array<[string, string, Record<string, string>, RegExp[]]> = [
      ['empty', '', {}, []],
      ['only commas and spaces', ' , ,, ', {}, []],
      ['one pair', 'deployment.environment=prod', { 'deployment.environment': 'prod' }, []],
      ['several pairs', 'a=1,b=2,c=3', { a: '1', b: '2', c: '3' }, []],
      ['whitespace trimmed', '  a = 1 ,\tb= two words ', { a: '1', b: 'two words' }, []],
      ['percent-encoded comma and equals', 'k%3Dx=v%2Cw%3D1', { 'k=x': 'v,w=1' }, []],
      ['percent-encoded spaces kept', 'a=%20x%20', { a: ' x ' }, []],
      ['percent-encoded UTF-8', 'team=%C3%A9quipe', { team: 'équipe' }, []],
      ['plus is not a space', 'a=x+y', { a: 'x+y' }, []],
      ['raw = in value kept', 'a=b=c', { a: 'b=c' }, []],
      ['empty value allowed', 'a=', { a: '' }, []],
      ['duplicate: later wins', 'a=1,b=2,a=3', { a: '3', b: '2' }, []],
      ['no =', 'a', {}, [/"a".*no '='/]],
      ['empty key', '=x', {}, [/"=x".*empty key/]],
      ['blank key', '  =x', {}, [/"=x".*empty key/]],
      ['bad percent-encoding in value', 'a=%zz', {}, [/"a=%zz".*percent/]],
      ['bad percent-encoding in key', '%g1=v', {}, [/"%g1=v".*percent/]],
      ['truncated escape', 'a=50%', {}, [/"a=50%".*percent/]],
      ['invalid UTF-8', 'a=%C3%28', {}, [/"a=%C3%28".*percent/]],
      ['garbage among good entries', 'ok=1,=x,a,%zz,b=%zz,good=%2C', { ok: '1', good: ',' }, [/"=x"/, /"a"/, /"%zz"/, /"b=%zz"/]],
    ];
    for (const [name, input, want, errors] of cases) {
      it(name, () => {
        const got = parseResourceAttributes(input);
        assert.deepEqual(obj(got.attributes), want);
        for (const a of got.attributes) assert.ok('string' in a.value);
        assert.equal(got.errors.length, errors.length, got.errors.join('; '));
        errors.forEach((re, i) => assert.match(got.errors[i], re));
      });
    }

    it('keeps the first position of a repeated key', () => {
      assert.deepEqual(
        parseResourceAttributes('a=1,b=2,a=3').attributes.map((a) => a.key),
        ['a', 'b'],
      );
    });
  });

  describe('containerIdFromCgroup', () => {
    const v1Docker = [`12:pids:/docker/${ID}`, `11:memory:/docker/${ID}`, `4:cpu,cpuacct:/docker/${ID}`, `1:name=systemd:/docker/${ID}`].join('\n');
    const v1Kubepods = [
      `11:memory:/kubepods/burstable/pod2c48913c-b29f-11e7-9350-020968147796/${ID}`,
      `1:name=systemd:/kubepods/burstable/pod2c48913c-b29f-11e7-9350-020968147796/${ID}`,
    ].join('\n');
    const v1Containerd = [
      `11:memory:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod6ad5a84d_6a5d_4b9c_9a1f_0c4f6d4e5a3b.slice/cri-containerd-${ID}.scope`,
      `0::/`,
    ].join('\n');
    const v1ContainerdColon = `9:pids:/system.slice/containerd.service/kubepods-burstable-pod6ad5a84d_6a5d.slice:cri-containerd:${ID}`;
    const v1Crio = `5:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b.slice/crio-${ID}.scope`;
    const v1Libpod = `3:cpu:/machine.slice/libpod-${ID}.scope`;
    const v2HostNs = `0::/system.slice/docker-${ID}.scope`;
    const v2Private = '0::/\n';

    const dockerMountinfo = [
      `634 542 0:58 / / rw,relatime master:294 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC:/var/lib/docker/overlay2/l/DEF,upperdir=/var/lib/docker/overlay2/0f1e/diff,workdir=/var/lib/docker/overlay2/0f1e/work`,
      `635 634 0:61 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw`,
      `636 634 0:62 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755`,
      `640 634 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate`,
      `641 634 253:1 /var/lib/docker/containers/${ID}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda1 rw`,
      `642 634 253:1 /var/lib/docker/containers/${ID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw`,
      `643 634 253:1 /var/lib/docker/containers/${ID}/hosts /etc/hosts rw,relatime - ext4 /dev/vda1 rw`,
    ].join('\n');
    const podmanMountinfo = [
      `1046 945 0:95 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/containers/storage/overlay/l/XYZ,upperdir=/var/lib/containers/storage/overlay/9a8b/diff,workdir=/var/lib/containers/storage/overlay/9a8b/work`,
      `1049 1046 0:98 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755`,
      `1058 1046 0:26 /containers/storage/overlay-containers/${ID}/userdata/hostname /etc/hostname rw,nosuid,nodev - tmpfs tmpfs rw,size=811480k,mode=755`,
      `1059 1046 0:26 /containers/storage/overlay-containers/${ID}/userdata/hosts /etc/hosts rw,nosuid,nodev - tmpfs tmpfs rw,size=811480k,mode=755`,
    ].join('\n');
    const containerdMountinfo = [
      `1382 1301 0:218 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/41/fs`,
      `1395 1382 253:1 /var/lib/kubelet/pods/6ad5a84d-6a5d-4b9c-9a1f-0c4f6d4e5a3b/etc-hosts /etc/hosts rw,relatime - ext4 /dev/vda1 rw`,
      `1396 1382 253:1 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/${ID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw`,
    ].join('\n');
    const hostMountinfo = [
      `22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw`,
      `23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw`,
      `26 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate`,
      // A host (or a privileged agent) may see the containers directory itself: not our id.
      `88 22 253:1 /var/lib/docker/containers /var/lib/docker/containers rw,relatime - ext4 /dev/vda1 rw`,
    ].join('\n');

    const cases: Array<[string, string, string, string | undefined]> = [
      ['cgroup v1 docker', v1Docker, '', ID],
      ['cgroup v1 kubepods (cgroupfs driver)', v1Kubepods, '', ID],
      ['cgroup v1 cri-containerd scope', v1Containerd, '', ID],
      ['cgroup v1 containerd slice:prefix:id', v1ContainerdColon, '', ID],
      ['cgroup v1 crio scope', v1Crio, '', ID],
      ['cgroup v1 libpod scope', v1Libpod, '', ID],
      ['cgroup v2 without cgroupns: docker scope', v2HostNs, '', ID],
      ['cgroup v2 docker: from mountinfo', v2Private, dockerMountinfo, ID],
      ['cgroup v2 podman: from mountinfo', v2Private, podmanMountinfo, ID],
      ['cgroup v2 containerd sandbox: from mountinfo', v2Private, containerdMountinfo, ID],
      ['cgroup wins over mountinfo', v1Docker, dockerMountinfo.replaceAll(ID, ID2), ID],
      ['plain host, cgroup v2', '0::/user.slice/user-1000.slice/session-3.scope\n', hostMountinfo, undefined],
      ['plain host, cgroup v1', '12:pids:/user.slice/user-1000.slice\n1:name=systemd:/init.scope\n', hostMountinfo, undefined],
      ['nothing readable', '', '', undefined],
      ['uppercase or short hex is not an id', `1:cpu:/docker/${ID.toUpperCase()}\n2:pids:/docker/${ID.slice(1)}`, '', undefined],
      ['pod uid is not an id', '1:cpu:/kubepods/burstable/pod2c48913c-b29f-11e7-9350-020968147796', '', undefined],
    ];
    for (const [name, cgroup, mountinfo, want] of cases) {
      it(name, () => assert.equal(containerIdFromCgroup(cgroup, mountinfo), want));
    }

    it('prefers a container directory over a pod sandbox', () => {
      const both = `${containerdMountinfo}\n${dockerMountinfo.replaceAll(ID, ID2)}`;
      assert.equal(containerIdFromCgroup(v2Private, both), ID2);
    });
  });

  describe('buildResource', () => {
    function reader(files: Record<string, string> = {}, hostname = 'node-7'): ResourceReader {
      return { hostname: () => hostname, file: (p) => files[p] };
    }
    const base = {
      'host.name': 'node-7',
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
      'telemetry.sdk.name': 'tcplife-otel',
      'telemetry.sdk.language': 'nodejs',
    };

    const cases: Array<[string, NodeJS.ProcessEnv, Record<string, string>]> = [
      ['default service name', {}, { 'service.name': 'tcplife-otel', ...base }],
      ['OTEL_SERVICE_NAME', { OTEL_SERVICE_NAME: 'edge' }, { 'service.name': 'edge', ...base }],
      ['blank OTEL_SERVICE_NAME ignored', { OTEL_SERVICE_NAME: '  ' }, { 'service.name': 'tcplife-otel', ...base }],
      ['service.name from attributes', { OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs' }, { 'service.name': 'from-attrs', ...base }],
      [
        'OTEL_SERVICE_NAME wins over service.name in attributes',
        { OTEL_SERVICE_NAME: 'edge', OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,env=prod' },
        { 'service.name': 'edge', ...base, env: 'prod' },
      ],
      [
        'our keys override attribute keys',
        { OTEL_RESOURCE_ATTRIBUTES: 'host.name=fake,telemetry.sdk.name=x,team=net' },
        { 'service.name': 'tcplife-otel', ...base, team: 'net' },
      ],
    ];
    for (const [name, env, want] of cases) {
      it(name, () => {
        const got = buildResource(env, reader());
        assert.deepEqual(obj(got.attributes), want);
        assert.deepEqual(got.warnings, []);
      });
    }

    it('orders own keys first, then the extra attributes in their order', () => {
      const got = buildResource({ OTEL_RESOURCE_ATTRIBUTES: 'z=1,service.name=s,a=2' }, reader());
      assert.deepEqual(
        got.attributes.map((a) => a.key),
        ['service.name', 'host.name', 'process.runtime.name', 'process.runtime.version', 'telemetry.sdk.name', 'telemetry.sdk.language', 'z', 'a'],
      );
    });

    it('adds container.id from the cgroup files', () => {
      const files = {
        '/proc/self/cgroup': '0::/\n',
        '/proc/self/mountinfo': `642 634 253:1 /var/lib/docker/containers/${ID}/hostname /etc/hostname rw - ext4 /dev/vda1 rw`,
      };
      assert.equal(obj(buildResource({}, reader(files)).attributes)['container.id'], ID);
    });

    it('reports bad OTEL_RESOURCE_ATTRIBUTES entries as warnings and keeps the rest', () => {
      const got = buildResource({ OTEL_RESOURCE_ATTRIBUTES: 'a,b=1,=x' }, reader());
      assert.equal(obj(got.attributes).b, '1');
      assert.equal(got.warnings.length, 2);
      for (const w of got.warnings) assert.match(w, /^OTEL_RESOURCE_ATTRIBUTES: /);
    });

    it('survives a failing hostname with a warning', () => {
      const got = buildResource(
        {},
        {
          hostname: () => {
            throw new Error('EPERM');
          },
          file: () => undefined,
        },
      );
      assert.equal(obj(got.attributes)['host.name'], undefined);
      assert.match(got.warnings.join(), /host\.name.*EPERM/);
    });
  });

  describe('detectResource', () => {
    it('on this machine gives service.name and host.name', () => {
      const attrs = obj(detectResource().attributes);
      assert.equal(typeof attrs['service.name'], 'string');
      assert.ok((attrs['service.name'] as string).length > 0);
      assert.equal(attrs['host.name'], os.hostname());
    });
  });
});
