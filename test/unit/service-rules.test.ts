// Service attribution: the rules as settings (flag, variable, file), what
// they refuse, and which service a session gets.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, loadSettings } from '../../src/config/load';
import { compileServiceRules } from '../../src/sessions/service-rules';
import { sampleSession } from '../support/sample-session';

const problems = (argv: string[], env: Record<string, string> = {}): string => {
  try {
    loadSettings(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.join('\n');
  }
  assert.fail('loaded');
};

describe('service attribution', () => {
  describe('rules as settings', () => {
    it('from repeated --service flags, from TCPLIFE_SERVICES, from a file: the same rules', () => {
      const want = [
        { name: 'checkout', comms: ['java*'], local_ports: [8080, 8443], cgroups: [] },
        { name: 'db', comms: [], local_ports: [], cgroups: ['/system.slice/postgresql.service'] },
      ];
      const flags = loadSettings(['--service', 'checkout=comm:java*;port:8080,8443', '--service', 'db=cgroup:/system.slice/postgresql.service/'], {});
      assert.deepEqual(flags.settings.services, want);
      const env = loadSettings([], { TCPLIFE_SERVICES: 'checkout=comm:java*;port:8080,8443 db=cgroup:/system.slice/postgresql.service' });
      assert.deepEqual(env.settings.services, want);
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tlo-services-'));
      try {
        const file = path.join(dir, 'c.yaml');
        writeFileSync(
          file,
          'services:\n  - name: checkout\n    comms: [java*]\n    local_ports: [8080, 8443]\n  - name: db\n    cgroups: [/system.slice/postgresql.service]\n',
        );
        assert.deepEqual(loadSettings(['--config', file], {}).settings.services, want);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    const bad: Array<[string, string[], RegExp]> = [
      ['no name', ['--service', '=comm:x'], /--service.*expected rules NAME=KIND:VALUE/],
      ['no criterion', ['--service', 'web='], /service "web" has no criterion/],
      ['an unknown kind', ['--service', 'web=user:www'], /"user:www": expected rules/],
      ['a bad port', ['--service', 'web=port:99999'], /--service.*a port from 1 to 65535/],
      ['a relative cgroup', ['--service', 'web=cgroup:system.slice'], /cgroup v2 paths starting with '\/'/],
      ['a comm longer than the kernel keeps', ['--service', 'web=comm:a-very-long-process-name'], /--service.*1 to 15 characters/],
    ];
    for (const [what, argv, re] of bad) it(`refuses ${what}, naming the flag`, () => assert.match(problems(argv), re));

    it('in a file, refuses an unknown key of a rule', () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tlo-services-'));
      try {
        const file = path.join(dir, 'c.yaml');
        writeFileSync(file, 'services:\n  - name: web\n    ports: [80]\n');
        assert.match(problems(['--config', file]), /services in .*c\.yaml: .*unknown key "ports": expected name, comms, local_ports, cgroups/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('compileServiceRules', () => {
    const serviceOf = compileServiceRules([
      { name: 'checkout', comms: ['java*'], local_ports: [8080], cgroups: [] },
      { name: 'java-other', comms: ['java*'], local_ports: [], cgroups: [] },
      { name: 'db', comms: [], local_ports: [], cgroups: ['/system.slice/postgresql.service'] },
    ])!;

    it('the first rule whose criteria all hold names the service', () => {
      assert.equal(serviceOf(sampleSession({ comm: 'java', localPort: 8080 })), 'checkout');
      assert.equal(serviceOf(sampleSession({ comm: 'java', localPort: 45678 })), 'java-other', 'AND: the port fails the first rule');
      assert.equal(serviceOf(sampleSession({ comm: 'curl', localPort: 8080 })), undefined);
    });

    it('a cgroup rule holds for the cgroup and below it, not for a sibling with the same prefix', () => {
      assert.equal(serviceOf(sampleSession({ comm: 'postgres', cgroupPath: '/system.slice/postgresql.service' })), 'db');
      assert.equal(serviceOf(sampleSession({ comm: 'postgres', cgroupPath: '/system.slice/postgresql.service/worker' })), 'db');
      assert.equal(serviceOf(sampleSession({ comm: 'postgres', cgroupPath: '/system.slice/postgresql.service2' })), undefined);
      assert.equal(serviceOf(sampleSession({ comm: 'postgres', cgroupPath: undefined })), undefined, 'cgroup unknown: no match');
    });

    it('no rules: nothing to compile', () => assert.equal(compileServiceRules([]), undefined));
  });
});
