/**
 * The kernel matrix: Debian bookworm's own kernels (6.1 LTS, Debian 12's;
 * 6.12 LTS, its backport), booted under qemu with this machine's root as
 * theirs (test/kernels/boot-kernel.sh), each running guest-suite.ts against
 * the built tree. Each guest case is reported here once per kernel.
 * What each kernel is expected to refuse is part of the test: 6.1 has no
 * sock_send_length/sock_recv_length tracepoints (Linux 6.3).
 */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GUEST_CASES, GUEST_REPORT } from './guest-cases';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const BOOT = path.join(ROOT, 'test', 'kernels', 'boot-kernel.sh');

interface MatrixKernel {
  name: string;
  /** Parts of the kernel program this kernel refuses, each with words its off line must say (README, Kernels). */
  expectOff: Record<string, string>;
}

export const MATRIX: MatrixKernel[] = [
  { name: '6.1', expectOff: { 'owners-from-io': "failed to find kernel BTF type ID of 'sock_send_length'" } },
  { name: '6.12', expectOff: {} },
];

interface MochaJsonTest {
  title: string;
  fullTitle: string;
  err?: { message?: string };
}
interface MochaJsonReport {
  passes: MochaJsonTest[];
  failures: MochaJsonTest[];
  pending: MochaJsonTest[];
}

/** The boot running now, if any: after() ends it (the script's TERM trap stops qemu). */
let booting: ChildProcess | undefined;

/** Boots `kernel`, runs the guest suite, returns its report and the console's tail. */
function runGuest(k: MatrixKernel, outDir: string): Promise<{ status: number | null; console: string }> {
  const guestMocha = [
    process.execPath,
    path.join(ROOT, 'node_modules', 'mocha', 'bin', 'mocha.js'),
    '--no-config',
    '--reporter',
    'json',
    '--reporter-option',
    `output=${path.join(outDir, GUEST_REPORT)}`,
    '--timeout',
    '300000',
    path.join(ROOT, 'dist', 'test', 'kernels', 'guest-suite.js'),
  ];
  return new Promise((resolve) => {
    const child = spawn(BOOT, [k.name, outDir, '--', ...guestMocha], {
      cwd: ROOT,
      env: {
        ...process.env,
        TCPLIFE_MATRIX_KERNEL: k.name,
        TCPLIFE_MATRIX_EXPECT_OFF: Object.entries(k.expectOff)
          .map(([name, words]) => `${name}=${words}`)
          .join(','),
        BOOT_KERNEL_ENV: 'TCPLIFE_MATRIX_KERNEL TCPLIFE_MATRIX_EXPECT_OFF',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let console = '';
    const keep = (d: Buffer) => {
      console = (console + d.toString()).slice(-20_000);
    };
    booting = child;
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => resolve({ status: null, console: `cannot run ${BOOT}: ${err.message}` }));
    child.on('close', (status) => {
      booting = undefined;
      resolve({ status, console });
    });
  });
}

for (const k of MATRIX) {
  describe(`kernel matrix: Linux ${k.name} (Debian bookworm's kernel under qemu)`, function () {
    this.timeout(900_000);
    let report: MochaJsonReport | undefined;
    let trouble = '';
    let outDir = '';

    before(async function () {
      outDir = mkdtempSync(path.join(tmpdir(), `tlo-kernel-${k.name}-`));
      const r = await runGuest(k, outDir);
      const file = path.join(outDir, GUEST_REPORT);
      if (existsSync(file)) report = JSON.parse(readFileSync(file, 'utf8')) as MochaJsonReport;
      else trouble = `the guest left no report (boot-kernel.sh exit ${r.status}); its console ends:\n${r.console.slice(-4000)}`;
      const hookFailure = report?.failures.find((t) => /hook/.test(t.title));
      if (hookFailure) trouble = `${hookFailure.fullTitle}: ${hookFailure.err?.message}\n${r.console.slice(-3000)}`;
    });

    after(async function () {
      const child = booting;
      if (child && child.exitCode === null && child.signalCode === null) {
        const closed = new Promise((resolve) => child.once('close', resolve));
        child.kill('SIGTERM');
        await closed;
      }
      if (outDir) rmSync(outDir, { recursive: true, force: true });
    });

    for (const title of Object.values(GUEST_CASES)) {
      it(title, function () {
        assert.ok(report, trouble);
        assert.equal(trouble, '', trouble);
        const failed = report.failures.find((t) => t.title === title);
        assert.ok(!failed, `in the guest: ${failed?.err?.message}`);
        assert.ok(
          report.passes.some((t) => t.title === title),
          `the guest did not run "${title}"`,
        );
      });
    }
  });
}
