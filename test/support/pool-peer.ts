/**
 * Runs pool-peer-main.js: one server process and one client process holding
 * many connections between them, closed on command in batches.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { within } from './peers';

const MAIN = path.join(__dirname, 'pool-peer-main.js');

interface Line {
  event: string;
  port?: number;
  localPorts?: number[];
  from?: number;
  to?: number;
}

class PoolProcess {
  readonly child: ChildProcess;
  private out = '';
  private err = '';
  private readonly lines: Line[] = [];
  private waiters: Array<() => void> = [];
  private exited = false;

  constructor(config: object) {
    this.child = spawn(process.execPath, [MAIN, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error('could not spawn a pool peer');
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.out += chunk;
      let nl: number;
      while ((nl = this.out.indexOf('\n')) >= 0) {
        const line = this.out.slice(0, nl);
        this.out = this.out.slice(nl + 1);
        if (line.trim()) this.lines.push(JSON.parse(line) as Line);
      }
      this.wake();
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (chunk: string) => {
      this.err += chunk;
    });
    this.child.stdin!.on('error', () => undefined);
    this.child.on('close', () => {
      this.exited = true;
      this.wake();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** The first line (not yet taken) with this event. */
  async next(event: string, ms: number): Promise<Line> {
    const take = async (): Promise<Line> => {
      for (;;) {
        const i = this.lines.findIndex((l) => l.event === event);
        if (i >= 0) return this.lines.splice(i, 1)[0];
        if (this.exited) throw new Error(`pool peer ${this.pid} exited before "${event}": ${this.err.trim()}`);
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    };
    return within(take(), ms, `pool peer ${this.pid} to report "${event}"`);
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  stop(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** `count` connections from a client process to a server process, held open. */
export interface ConnectionPool {
  server: { pid: number };
  client: { pid: number };
  serverPort: number;
  /** The client end's local port of each connection, by index. */
  clientPorts: number[];
  /** Closes connections from..to-1 (the client's FIN first), perTick per loop turn; resolves once all closed. */
  close(from: number, to: number, perTick?: number): Promise<void>;
  /** Kills both processes. */
  stop(): void;
}

export async function openPool(host: string, count: number): Promise<ConnectionPool> {
  const server = new PoolProcess({ role: 'server', host });
  let client: PoolProcess | undefined;
  try {
    const { port } = await server.next('listening', 5_000);
    client = new PoolProcess({ role: 'client', host, port, count });
    const { localPorts } = await client.next('connected', 10_000);
    const c = client;
    return {
      server: { pid: server.pid },
      client: { pid: c.pid },
      serverPort: port!,
      clientPorts: localPorts!,
      async close(from: number, to: number, perTick = to - from) {
        c.send(`close ${from} ${to} ${perTick}`);
        const done = await c.next('closed', 10_000);
        if (done.from !== from || done.to !== to) throw new Error(`pool closed ${done.from}..${done.to}, expected ${from}..${to}`);
      },
      stop() {
        c.stop();
        server.stop();
      },
    };
  } catch (err) {
    client?.stop();
    server.stop();
    throw err;
  }
}
