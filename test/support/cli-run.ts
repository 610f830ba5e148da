/**
 * Runs the real CLI (`node dist/src/cli.js ...`) with stdout and stderr
 * piped, as a user's `tcplife-otel | grep` would, and records each stdout
 * line with the time it arrived.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { within } from './peers';

export const CLI = path.join(__dirname, '..', '..', 'src', 'cli.js');

export interface CliLine {
  text: string;
  atMs: number;
}

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const running = new Set<CliRun>();

export class CliRun {
  readonly lines: CliLine[] = [];
  stderr = '';
  stdout = '';
  readonly exited: Promise<CliExit>;
  private readonly child: ChildProcess;
  private partial = '';

  constructor(readonly args: string[]) {
    this.child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      const atMs = Date.now();
      this.stdout += chunk;
      this.partial += chunk;
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        this.lines.push({ text: this.partial.slice(0, nl), atMs });
        this.partial = this.partial.slice(nl + 1);
      }
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise<CliExit>((resolve) => {
      this.child.on('close', (code, signal) => {
        running.delete(this);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private describeState(): string {
    return `cli ${this.args.join(' ')}: running=${this.isRunning} stderr=${JSON.stringify(this.stderr)} stdout=${JSON.stringify(this.stdout.slice(-600))}`;
  }

  /** Waits for the stderr line naming the attach mechanism: from then on, sessions are traced. */
  async ready(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.stderr.split('\n').find((l) => /\b(tp_btf|tracepoint)\b/.test(l));
      if (line) return line;
      if (!this.isRunning || Date.now() > deadline) {
        throw new Error(`the CLI never said which attach mechanism it uses (${timeoutMs} ms); ${this.describeState()}`);
      }
      await sleep(10);
    }
  }

  /** Waits for a stdout line that matches; fails after `timeoutMs` showing what came instead. */
  async waitForLine(match: (text: string) => boolean, what: string, timeoutMs = 5_000): Promise<CliLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => match(l.text));
      if (line) return line;
      if (Date.now() > deadline || (!this.isRunning && this.partial === '')) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; ${this.describeState()}`);
      }
      await sleep(10);
    }
  }

  /** stdout lines that parse as JSON objects. */
  jsonLines(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const l of this.lines) {
      if (!l.text.startsWith('{')) continue;
      out.push(JSON.parse(l.text) as Record<string, unknown>);
    }
    return out;
  }

  /** Sends `signal` and waits (bounded) for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGINT', timeoutMs = 5_000): Promise<CliExit> {
    if (this.isRunning) this.child.kill(signal);
    return within(this.exited, timeoutMs, `the CLI to exit on ${signal}; ${this.describeState()}`);
  }

  kill(): void {
    if (this.isRunning) this.child.kill('SIGKILL');
  }
}

/** Runs the CLI to completion (for flags that make it exit by itself). */
export async function runCliToExit(args: string[], timeoutMs = 10_000): Promise<CliExit> {
  const run = new CliRun(args);
  try {
    return await within(run.exited, timeoutMs, `cli ${args.join(' ')} to exit`);
  } finally {
    run.kill();
  }
}

/** Kills every CLI process a test left running. */
export function killAllCliRuns(): void {
  for (const run of [...running]) run.kill();
}

process.on('exit', killAllCliRuns);
