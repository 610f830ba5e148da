// The deployment files (docker/compose.yaml, docker/k8s/*.yaml, the demo's
// collector config, the Dockerfile) agree with the code: every variable they
// set is a setting the agent knows and accepts, the Downward API feeds the
// k8s.* settings, the agent gets exactly CAP_BPF and CAP_PERFMON and the
// seccomp profile, and the pieces of the demo point at each other.
// (No engine or cluster runs them here: test/container/run.sh runs the image.)
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { loadSettings } from '../../src/config/load';
import { SCHEMA, settings } from '../../src/config/schema';

const DOCKER = path.resolve(__dirname, '../../../docker');
const yaml = (file: string) => YAML.parse(readFileSync(path.join(DOCKER, file), 'utf8'));
const SETTING_ENVS = new Set(settings(SCHEMA).flatMap(([, s]) => (s.env ? [s.env] : [])));

/** What the Downward API gives each k8s.* setting. */
const DOWNWARD: Record<string, string> = {
  K8S_POD_NAME: 'metadata.name',
  K8S_NAMESPACE_NAME: 'metadata.namespace',
  K8S_POD_UID: 'metadata.uid',
  K8S_NODE_NAME: 'spec.nodeName',
};
/** Sample values of those fields, to load the manifests' environment. */
const SAMPLE: Record<string, string> = {
  'metadata.name': 'shop-7d9f8-abcde',
  'metadata.namespace': 'observability',
  'metadata.uid': '0f8e7a3c-1d2b-4c5d-9e6f-7a8b9c0d1e2f',
  'spec.nodeName': 'node-1',
};

/** The agent's environment must load as settings (no unknown or bad variable). */
function assertLoads(env: Record<string, string>, where: string): void {
  for (const name of Object.keys(env)) assert.ok(SETTING_ENVS.has(name), `${where}: ${name} is not a setting's variable`);
  assert.doesNotThrow(() => loadSettings([], env), `${where}: its environment loads`);
}

describe('deployment files', () => {
  it('Dockerfile: the base image is a build argument defaulting to an official Node LTS slim image', () => {
    const text = readFileSync(path.join(DOCKER, 'Dockerfile'), 'utf8');
    const m = /^ARG BASE_IMAGE=(\S+)$/m.exec(text);
    assert.ok(m, 'ARG BASE_IMAGE=...');
    assert.match(m[1], /^docker\.io\/library\/node:(20|22|24)-bookworm-slim$/);
    assert.match(text, /^FROM \$\{BASE_IMAGE\} AS build$/m);
    assert.match(text, /^FROM \$\{BASE_IMAGE\} AS runtime$/m);
    assert.ok(
      existsSync(path.join(DOCKER, '../.node-dist/build/.keep')) && existsSync(path.join(DOCKER, '../.node-dist/runtime/.keep')),
      'the COPY sources exist',
    );
  });

  describe('compose.yaml', () => {
    const compose = yaml('compose.yaml');
    const agent = compose.services['tcplife-otel'];

    it("the agent is the app's sidecar: its network and PID namespaces, CAP_BPF and CAP_PERFMON only, the seccomp profile", () => {
      assert.equal(agent.network_mode, 'service:app');
      assert.equal(agent.pid, 'service:app');
      assert.deepEqual(agent.cap_drop, ['ALL']);
      assert.deepEqual([...agent.cap_add].sort(), ['BPF', 'PERFMON']);
      assert.ok(!agent.privileged, 'never privileged');
      const seccomp = (agent.security_opt as string[]).find((o) => o.startsWith('seccomp='))!.slice('seccomp='.length);
      assert.ok(existsSync(path.join(DOCKER, seccomp)), `${seccomp} exists`);
      assert.ok(existsSync(path.join(DOCKER, agent.build.context, agent.build.dockerfile)));
      assertLoads(agent.environment, 'compose tcplife-otel');
    });

    it('spans go agent -> collector -> Jaeger, and the Jaeger UI is published', () => {
      const endpoint = new URL(agent.environment.OTEL_EXPORTER_OTLP_ENDPOINT);
      assert.ok(compose.services[endpoint.hostname], `${endpoint.hostname} is a service`);
      const collector = compose.services[endpoint.hostname];
      const config = collector.volumes.map((v: string) => v.split(':')[0]).find((f: string) => f.endsWith('.yaml'));
      const otelcol = yaml(config);
      assert.equal(otelcol.receivers.otlp.protocols.grpc.endpoint, `0.0.0.0:${endpoint.port}`);
      const traces = otelcol.service.pipelines.traces;
      assert.ok(traces.receivers.includes('otlp'));
      const toJaeger = traces.exporters.find((e: string) => e.startsWith('otlp'));
      const jaeger = otelcol.exporters[toJaeger].endpoint.split(':')[0];
      assert.ok(compose.services[jaeger], `${jaeger} is a service`);
      assert.ok(compose.services[jaeger].ports.includes('16686:16686'));
    });

    it("the demo app's files exist", () => {
      for (const volume of compose.services.app.volumes as string[]) assert.ok(existsSync(path.join(DOCKER, volume.split(':')[0])), volume);
    });
  });

  const manifests: Array<[string, (doc: any) => any]> = [
    ['k8s/pod.yaml', (doc) => doc.spec],
    ['k8s/daemonset.yaml', (doc) => doc.spec.template.spec],
  ];
  for (const [file, podSpecOf] of manifests) {
    describe(file, () => {
      const doc = yaml(file);
      const spec = podSpecOf(doc);
      const agent = spec.containers.find((c: any) => c.name === 'tcplife-otel');

      it('the agent: CAP_BPF and CAP_PERFMON only, the Localhost seccomp profile, never privileged', () => {
        const sc = agent.securityContext;
        assert.deepEqual(sc.capabilities.drop, ['ALL']);
        assert.deepEqual([...sc.capabilities.add].sort(), ['BPF', 'PERFMON']);
        assert.ok(!sc.privileged);
        assert.equal(sc.allowPrivilegeEscalation, false);
        assert.deepEqual(sc.seccompProfile, { type: 'Localhost', localhostProfile: 'profiles/tcplife-otel.json' });
      });

      it('the Downward API feeds k8s.*, and the whole environment loads', () => {
        const env: Record<string, string> = {};
        for (const e of agent.env) {
          if (e.valueFrom) {
            assert.equal(e.valueFrom.fieldRef.fieldPath, DOWNWARD[e.name], `${e.name} comes from ${DOWNWARD[e.name]}`);
            env[e.name] = SAMPLE[e.valueFrom.fieldRef.fieldPath];
          } else env[e.name] = e.value;
        }
        assert.deepEqual(
          Object.keys(DOWNWARD).filter((k) => !(k in env)),
          [],
          'all four are set',
        );
        assertLoads(env, file);
      });
    });
  }

  it("pod.yaml shares the pod's PID namespace (the app's PIDs and container.id); the DaemonSet traces the host", () => {
    assert.equal(yaml('k8s/pod.yaml').spec.shareProcessNamespace, true);
    const ds = yaml('k8s/daemonset.yaml').spec.template.spec;
    assert.equal(ds.hostPID, true);
    const scope = ds.containers[0].env.find((e: any) => e.name === 'TCPLIFE_SCOPE');
    assert.equal(scope?.value, 'host');
  });
});
