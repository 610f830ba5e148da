// What the agent needs from the kernel, proven by running it with less.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as uid/gid 65534 with the given capabilities, until it attaches or exits. */
function runAs(caps: string[], extraArgs: string[] = []): Promise<Run> {
  const capList = caps.map((c) => `+${c}`).join(',');
  const setpriv = ['--reuid=65534', '--regid=65534', '--clear-groups'];
  if (caps.length) setpriv.push(`--inh-caps=${capList}`, `--ambient-caps=${capList}`);
  else setpriv.push('--inh-caps=-all');
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', [...setpriv, process.execPath, CLI, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const deadline = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('attached in')) child.kill('SIGINT'); // proven: stop it
    });
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(deadline);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('capabilities', () => {
  it('refuses to start without privileges, naming the capabilities to grant (exit 1, no stack)', async () => {
    const r = await runAs([]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /permission denied/);
    assert.match(r.stderr, /CAP_BPF and CAP_PERFMON/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(r.stdout, '', 'no header is printed when nothing is traced');
  });

  it('runs as a non-root user with only CAP_BPF and CAP_PERFMON', async () => {
    const r = await runAs(['bpf', 'perfmon']);
    assert.match(r.stderr, /tracing TCP sessions via tp_btf\/inet_sock_set_state/);
    assert.doesNotMatch(r.stderr, /: off: /, 'every part of the kernel program loads with these two');
    assert.match(r.stderr, /found \d+ TCP sessions open at start/);
    assert.match(r.stderr, /stopped \(SIGINT\)/);
    assert.equal(r.status, 0, r.stderr);
  });

  it('is refused with CAP_BPF alone (tracing needs CAP_PERFMON too)', async () => {
    const r = await runAs(['bpf']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /CAP_BPF and CAP_PERFMON/);
  });
});
