// The image, for real: the agent as a sidecar in a podman pod (shared
// network and PID namespaces, as a Kubernetes pod with
// shareProcessNamespace), with only CAP_BPF and CAP_PERFMON, exporting to a
// real OTLP receiver on the host. scripts/test (and test/container/run.sh,
// npm run test:container) build the image first, with build-image.sh.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SpanKind, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { processAlive } from '../support/process-alive';

const REPO = path.resolve(__dirname, '../../..');
const IMAGE = process.env.IMAGE ?? 'localhost/tcplife-otel:test';
const SECCOMP = path.join(REPO, 'docker/seccomp-bpf.json'); // the profile users get
// This machine's podman needs its ulimit defaults off (../shared/docs/machine.md).
process.env.CONTAINERS_CONF ??= path.join(REPO, 'test/container/containers.conf');
const PODMAN = ['--runtime', 'runc', '--cgroup-manager=cgroupfs'];
const POD = `tlo-pod-${process.pid}`;
const MINIMAL = ['--cap-drop=all', '--cap-add=BPF,PERFMON', '--security-opt', `seccomp=${SECCOMP}`];
const DOWNWARD_API = {
  K8S_POD_NAME: 'shop-7d9f8-abcde',
  K8S_NAMESPACE_NAME: 'demo',
  K8S_POD_UID: '0f8e7a3c-1d2b-4c5d-9e6f-7a8b9c0d1e2f',
  K8S_NODE_NAME: 'node-1',
};
const APP_PORT = 7777;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** podman ARGS, bounded in time; throws with its stderr when it fails. */
function podman(args: string[], timeoutMs = 60_000): string {
  const r = spawnSync('podman', [...PODMAN, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.error?.message ?? `exit ${r.status}`}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

const envArgs = (env: Record<string, string>) => Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);

/** Polls (bounded) until `probe` returns a value. */
async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * The app: three loopback connections to its own server on port 7777 (100
 * bytes up, 500 down), then it prints its PID (as the pod sees it) and
 * stays 3 s, as a real app would, so its /proc entry can be read.
 */
const APP = `
const net = require('net');
const srv = net.createServer((c) => { c.resume(); c.end('s'.repeat(500)); }).listen(${APP_PORT}, '127.0.0.1', () => {
  let done = 0;
  for (let i = 0; i < 3; i++) {
    const c = net.connect(${APP_PORT}, '127.0.0.1', () => c.end('c'.repeat(100)));
    c.resume();
    c.on('close', () => {
      if (++done < 3) return;
      srv.close();
      console.log(JSON.stringify({ pid: process.pid }));
      setTimeout(() => {}, 3000);
    });
  }
});
`;

describe('the image as a sidecar in a pod (podman)', function () {
  this.timeout(180_000);
  let receiver: OtlpReceiver;
  let work: string;
  let agentId: string;

  before(async () => {
    // Pods of earlier runs that died before their after() hook.
    for (const name of podman(['pod', 'ls', '--format', '{{.Name}}']).split('\n')) {
      const owner = /^tlo-pod-(\d+)$/.exec(name)?.[1];
      if (owner && !processAlive(Number(owner))) spawnSync('podman', [...PODMAN, 'pod', 'rm', '-f', '-t', '0', name], { timeout: 60_000 });
    }
    work = mkdtempSync(path.join(tmpdir(), 'tlo-pod-'));
    writeFileSync(path.join(work, 'app.js'), APP);
    // The pod shares its network and PID namespaces (--share pid: like
    // Kubernetes' shareProcessNamespace). Its infra container starts the
    // bridge, whose gateway the receiver then listens on.
    podman(['pod', 'create', '--name', POD, '--share', 'net,pid,ipc,uts']);
    podman(['pod', 'start', POD]);
    const gateway = podman(['network', 'inspect', 'podman', '--format', '{{range .Subnets}}{{.Gateway}}{{end}}']);
    assert.ok(net.isIPv4(gateway), `the podman network's gateway: ${gateway}`);
    receiver = await startOtlpReceiver({ host: gateway });
  });

  after(async () => {
    spawnSync('podman', [...PODMAN, 'pod', 'rm', '-f', '-t', '2', POD], { timeout: 60_000 });
    await receiver?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("the engine's default seccomp profile refuses bpf() without CAP_SYS_ADMIN: the reason for docker/seccomp-bpf.json", () => {
    const r = spawnSync('podman', [...PODMAN, 'run', '--rm', '--cap-drop=all', '--cap-add=BPF,PERFMON', IMAGE, '-j'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /permission denied while loading/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it("exports exactly the pod's sessions, with the app's container.id and PIDs, and the Downward API resource", async () => {
    agentId = podman([
      'run',
      '-d',
      '--pod',
      POD,
      '--name',
      `${POD}-agent`,
      ...MINIMAL,
      ...envArgs({
        ...DOWNWARD_API,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://host.containers.internal:${receiver.port}`,
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
        OTEL_SERVICE_NAME: 'shop-tcp',
      }),
      IMAGE,
    ]);
    const logs = () => spawnSync('podman', [...PODMAN, 'logs', agentId], { encoding: 'utf8', timeout: 30_000 }).stderr;
    await until('"attached in" from the agent', () => (/attached in \d+ ms/.test(logs()) ? true : undefined));
    assert.match(logs(), /scope auto: pod/, 'in a pod, scope auto is the pod');

    // Outside the pod, at the same time: a host loopback session.
    const hostServer = net.createServer((c) => c.end('h')).listen(0, '127.0.0.1');
    await new Promise((resolve) => hostServer.once('listening', resolve));
    const hostPort = (hostServer.address() as net.AddressInfo).port;

    const app = podman(['run', '-d', '--pod', POD, '--name', `${POD}-app`, '-v', `${work}/app.js:/app.js:ro`, '--entrypoint', 'node', IMAGE, '/app.js']);
    await new Promise<void>((resolve, reject) => {
      const c = net.connect(hostPort, '127.0.0.1', () => c.end('x'));
      c.resume()
        .on('close', () => resolve())
        .on('error', reject);
    });
    hostServer.close();

    const appPid = await until('the app PID line', () => {
      const out = spawnSync('podman', [...PODMAN, 'logs', app], { encoding: 'utf8', timeout: 30_000 }).stdout.trim();
      return out ? (JSON.parse(out) as { pid: number }).pid : undefined;
    });
    const appHostPid = Number(podman(['inspect', app, '--format', '{{.State.Pid}}']));
    assert.notEqual(appPid, appHostPid, 'the pod has a PID namespace of its own');
    const spans = await receiver.waitForSpans(6, 20_000);
    await sleep(1500); // anything else (the host's session, the agent's own export) would have come by now
    const all = receiver.spans();
    const describe = (ss: ReceivedSpan[]) =>
      ss
        .map(
          (s) =>
            `${s.name} ${s.attributes['network.local.port']}->${s.attributes['network.peer.port']} sent ${s.attributes['tcplife.bytes_sent']} received ${s.attributes['tcplife.bytes_received']}`,
        )
        .join(', ');
    assert.equal(all.length, 6, `exactly the pod's 6 sockets: ${describe(all)}`);
    assert.ok(!all.some((s) => s.attributes['network.peer.port'] === hostPort || s.attributes['network.local.port'] === hostPort), 'not the host session');

    const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
    const servers = spans.filter((s) => s.kind === SpanKind.SERVER);
    assert.equal(clients.length, 3);
    assert.equal(servers.length, 3);
    const bytes = (s: ReceivedSpan) => [s.name, Number(s.attributes['tcplife.bytes_sent']), Number(s.attributes['tcplife.bytes_received'])];
    assert.deepEqual(clients.map(bytes), Array(3).fill([`TCP connect :${APP_PORT}`, 100, 500]), describe(clients));
    assert.deepEqual(servers.map(bytes), Array(3).fill([`TCP accept :${APP_PORT}`, 500, 100]), describe(servers));
    for (const s of spans) {
      assert.equal(s.attributes['container.id'], app, "the app's container, from its process's cgroup");
      assert.equal(Number(s.attributes['process.pid']), appPid, 'the PID as the pod sees it');
      assert.equal(Number(s.attributes['tcplife.process.host_pid']), appHostPid, 'the PID on the host');
      assert.equal(s.attributes['process.executable.name'], 'node');
      const r = s.resource.attributes;
      assert.equal(r['service.name'], 'shop-tcp');
      assert.equal(r['container.id'], agentId, 'the resource is the agent, in its own container');
      assert.equal(r['k8s.pod.name'], DOWNWARD_API.K8S_POD_NAME);
      assert.equal(r['k8s.namespace.name'], DOWNWARD_API.K8S_NAMESPACE_NAME);
      assert.equal(r['k8s.pod.uid'], DOWNWARD_API.K8S_POD_UID);
      assert.equal(r['k8s.node.name'], DOWNWARD_API.K8S_NODE_NAME);
    }

    // The counters arrive as metrics too, with the same resource.
    const seen = await receiver.waitForMetric('tcplife.sessions.seen', (p) => Number(p.value) >= 6, 10_000);
    assert.equal(seen.resource.attributes['k8s.pod.name'], DOWNWARD_API.K8S_POD_NAME);

    podman(['stop', '-t', '10', agentId], 30_000);
    const last = logs();
    const stopped = last.split('\n').find((l) => l.includes('stopped (SIGTERM)'));
    assert.ok(stopped, last);
    for (const counter of ['spans_exported=6', 'spans_dropped_queue_full=0', 'spans_dropped_rejected=0', 'container_lookups_failed=0']) {
      assert.ok(stopped.split(' ').includes(counter), `${counter} in: ${stopped}`);
    }
  });
});
