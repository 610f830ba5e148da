/**
 * The real command line (`node dist/src/cli.js ARGS`) as a child process
 * with an environment of the test's choosing (TCPLIFE_* and OTEL_* variables
 * of the test runner itself are left out, so only the test's own count),
 * stdout and stderr piped and recorded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export const CLI = path.join(__dirname, '..', '..', 'src', 'cli.js');

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const running = new Set<AgentProcess>();

/** process.env without the variables the agent reads. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(TCPLIFE_|OTEL_)/.test(k)) env[k] = v;
  return env;
}

export class AgentProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<AgentExit>;
  private readonly child: ChildProcess;
  private readonly started = Date.now();

  /**
   * `wrap`: a command that runs the agent's command line as its trailing
   * arguments, e.g. unshare or nsenter putting it in other namespaces.
   */
  constructor(
    readonly args: string[],
    readonly env: Record<string, string> = {},
    readonly wrap: string[] = [],
  ) {
    const command = [...wrap, process.execPath, CLI, ...args];
    this.child = spawn(command[0], command.slice(1), { env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(this);
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise<AgentExit>((resolve) => {
      this.child.on('close', (code, signal) => {
        running.delete(this);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr, ms: Date.now() - this.started });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  describe(): string {
    return `agent ${JSON.stringify([...this.wrap, ...this.args])} env ${JSON.stringify(this.env)}: running=${this.isRunning} stderr=${JSON.stringify(this.stderr)} stdout=${JSON.stringify(this.stdout.slice(-800))}`;
  }

  /** Complete stdout lines. */
  lines(): string[] {
    const all = this.stdout.split('\n');
    all.pop(); // the unterminated rest
    return all.filter((l) => l !== '');
  }

  /** Complete stdout lines parsed as JSON (every one must be). */
  jsonLines(): Array<Record<string, unknown>> {
    return this.lines().map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`stdout line is not JSON: ${l}; ${this.describe()}`);
      }
    });
  }

  /** Waits (bounded) until stderr holds a line matching `re`, counting from character `from`. */
  async waitForStderr(re: RegExp, what: string, timeoutMs = 10_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.stderr
        .slice(from)
        .split('\n')
        .find((l) => re.test(l));
      if (line !== undefined) return line;
      if (!this.isRunning) throw new Error(`the agent exited before ${what}; ${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; ${this.describe()}`);
      await sleep(10);
    }
  }

  /** Waits for the "attached in" line: from then on, sessions are traced. */
  ready(timeoutMs = 10_000): Promise<string> {
    return this.waitForStderr(/attached in \d+ ms/, 'the "attached in" line', timeoutMs);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.isRunning) this.child.kill(sig);
  }

  /** Sends `sig`, waits (bounded) for the exit; SIGKILL and an error if it does not come. */
  async stop(sig: NodeJS.Signals = 'SIGINT', timeoutMs = 5_000): Promise<AgentExit> {
    this.signal(sig);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
    const r = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (r === 'late') {
      this.kill();
      throw new Error(`the agent did not exit within ${timeoutMs} ms of ${sig}; ${this.describe()}`);
    }
    return r;
  }

  kill(): void {
    if (this.isRunning) this.child.kill('SIGKILL');
  }
}

/** Runs the CLI until it exits by itself (bounded: SIGKILL and exit.code null past timeoutMs). */
export async function runAgentToExit(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<AgentExit & { timedOut: boolean }> {
  const a = new AgentProcess(args, env);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    a.kill();
  }, timeoutMs);
  const exit = await a.exited;
  clearTimeout(timer);
  return { ...exit, timedOut };
}

/** The counters of the final stderr line (`stopped (SIGINT): k=v ...`). */
export function exitCounters(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => /: stopped \(/.test(l));
  if (!line) throw new Error(`no final counters line in stderr: ${stderr}`);
  const counters: Record<string, number> = {};
  for (const [, k, v] of line.matchAll(/(\w+)=(\d+)/g)) counters[k] = Number(v);
  return counters;
}

/** Kills every agent a test left running. */
export function killAllAgents(): void {
  for (const a of [...running]) a.kill();
}

process.on('exit', killAllAgents);
