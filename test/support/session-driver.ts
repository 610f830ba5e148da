/**
 * A python3 process that makes loopback TCP sessions on command, under a
 * process name of the test's choosing, optionally inside a network namespace
 * or a cgroup: for end-to-end tests of the filters through the command line.
 *
 * Its name (the kernel's comm) is the name of a symlink to the real python
 * interpreter (not pyenv's shell shim, which would exec python3 and lose the
 * name). The process starts and reports its pid, so an agent can be started
 * with `-p PID` before any session exists. Then, one request at a time:
 *
 *   listen(host)          a listener on host (127.0.0.1, ::1, ...), an
 *                         ephemeral port
 *   closedPort(host)      a port bound without listen(): connect() is refused
 *   talk(...)             one complete conversation with one of its listeners:
 *                         connect, accept, the client sends clientSends bytes,
 *                         the server reads them all, the server sends
 *                         serverSends, the client reads them all, both ends
 *                         set TCP_QUICKACK (every received byte acknowledged
 *                         now: the sender's acknowledged-byte count is final
 *                         before any RST), wait holdMs, then close:
 *                           client-first  the client closes (FIN); the server
 *                                         reads to EOF, closes
 *                           client-reset  the client closes with SO_LINGER
 *                                         {on, 0} (RST); the server reads
 *                                         until the reset, closes
 *                           server-reset  the same with the roles swapped
 *                         Both ends are closed when it returns.
 *   refuse(host, port)    one connect() that is refused (ECONNREFUSED)
 *   open(host, port)      a connection left open (one byte each way, so both
 *                         ends have an owner); closeOpen(handle) closes it,
 *                         client first
 *
 * Both ends of every session belong to this process (the server end's owner
 * is set by its first recv). talk() and refuse() report what the process
 * itself observed: both ends' addresses and ports as the sockets see them,
 * and wall-clock times (CLOCK_REALTIME, ns) taken just before connect(), just
 * after it returned, just before the closing step and just after both ends
 * were closed.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { spawnInCgroup, type TestCgroup } from './cgroups';

export type TalkClose = 'client-first' | 'client-reset' | 'server-reset';

export interface TalkSpec {
  host: string;
  /** A port this driver listens on (from listen()). */
  port: number;
  clientSends?: number;
  serverSends?: number;
  close?: TalkClose;
  /** Milliseconds to wait, connected, before closing. */
  holdMs?: number;
}

/** One conversation as the two sockets saw it. */
export interface Talked {
  /** The client end's local port (its remote port is the listener's). */
  clientPort: number;
  serverPort: number;
  /** What the end that did not close first saw: 'ECONNRESET' or null (a plain EOF). */
  peerSaw: string | null;
}

/** One socket's view of its connection. */
export interface SocketEnds {
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
}

/** What talk() reports: the ports, both sockets' ends and the times around connect and close. */
export interface TalkedSession extends Talked {
  close: TalkClose;
  client: SocketEnds;
  server: SocketEnds;
  /** Wall-clock nanoseconds, as the process read them. */
  times: { connectStart: bigint; connectEnd: bigint; closeStart: bigint; closeEnd: bigint };
}

/** What refuse() reports: the errno name connect() failed with, and the times around it. */
export interface Refusal {
  error: string;
  times: { connectStart: bigint; connectEnd: bigint };
}

export interface SessionDriver {
  name: string;
  /** The process id in the driver's own PID namespace. */
  pid: number;
  /** The process id in the host's PID namespace (differs with DriverOptions.enter). */
  hostPid: number;
  listen(host: string): Promise<number>;
  closedPort(host: string): Promise<number>;
  talk(spec: TalkSpec): Promise<TalkedSession>;
  refuse(host: string, port: number): Promise<Refusal>;
  open(host: string, port: number): Promise<{ handle: number; clientPort: number }>;
  closeOpen(handle: number): Promise<void>;
  stop(): Promise<void>;
  kill(): void;
}

export interface DriverOptions {
  /** Run inside this network namespace (`ip netns exec NS ...`: the pid stays the child's). */
  netns?: string;
  /**
   * Run inside the network and PID namespaces of this (host) process, with
   * nsenter; the host's /proc stays, so hostPid is still known.
   */
  enter?: number;
  /** Start inside this cgroup (its sockets belong to it). */
  cgroup?: TestCgroup;
  /** Bound on the start and on each request (ms). */
  timeoutMs?: number;
}

const SCRIPT = `
import json, socket, struct, sys, time, os

listeners = {}
bound = []
handles = {}
next_handle = [1]

def fam(host):
    return socket.AF_INET6 if ':' in host else socket.AF_INET

def now():
    return str(time.time_ns())

def ends(s):
    l, p = s.getsockname(), s.getpeername()
    return {'localAddress': l[0], 'localPort': l[1], 'peerAddress': p[0], 'peerPort': p[1]}

def recv_exactly(s, n):
    got = 0
    while got < n:
        b = s.recv(min(1 << 16, n - got))
        if not b:
            raise RuntimeError('EOF after %d of %d bytes' % (got, n))
        got += len(b)

def abort(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()

def until_closed(s):
    try:
        while s.recv(1 << 16):
            pass
        return None
    except ConnectionResetError:
        return 'ECONNRESET'

def pair(host, port, t=None):
    listener = listeners[(host, port)]
    client = socket.socket(fam(host), socket.SOCK_STREAM)
    if t is not None:
        t['connectStart'] = now()
    client.connect((host, port))
    if t is not None:
        t['connectEnd'] = now()
    server, _ = listener.accept()
    return client, server

def op_listen(r):
    s = socket.socket(fam(r['host']), socket.SOCK_STREAM)
    s.bind((r['host'], 0))
    s.listen(128)
    port = s.getsockname()[1]
    listeners[(r['host'], port)] = s
    return {'port': port}

def op_closed_port(r):
    s = socket.socket(fam(r['host']), socket.SOCK_STREAM)
    s.bind((r['host'], 0))
    bound.append(s)
    return {'port': s.getsockname()[1]}

def op_talk(r):
    t = {}
    client, server = pair(r['host'], r['port'], t)
    cs, ss = r.get('clientSends', 0), r.get('serverSends', 0)
    if cs:
        client.sendall(b'c' * cs)
        recv_exactly(server, cs)
    if ss:
        server.sendall(b's' * ss)
        recv_exactly(client, ss)
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    close = r.get('close', 'client-first')
    out = {'close': close, 'client': ends(client), 'server': ends(server), 'times': t}
    if r.get('holdMs', 0):
        time.sleep(r['holdMs'] / 1000.0)
    t['closeStart'] = now()
    if close == 'client-first':
        client.close()
        out['peerSaw'] = until_closed(server)
        server.close()
    elif close == 'client-reset':
        abort(client)
        out['peerSaw'] = until_closed(server)
        server.close()
    elif close == 'server-reset':
        abort(server)
        out['peerSaw'] = until_closed(client)
        client.close()
    else:
        raise ValueError('bad close mode %r' % close)
    t['closeEnd'] = now()
    return out

def op_refuse(r):
    t = {}
    client = socket.socket(fam(r['host']), socket.SOCK_STREAM)
    t['connectStart'] = now()
    try:
        client.connect((r['host'], r['port']))
        raise RuntimeError('connect to port %d succeeded' % r['port'])
    except ConnectionRefusedError:
        errno = 'ECONNREFUSED'
    t['connectEnd'] = now()
    client.close()
    return {'errno': errno, 'times': t}

def op_open(r):
    client, server = pair(r['host'], r['port'])
    client.sendall(b'o')
    recv_exactly(server, 1)
    server.sendall(b'o')
    recv_exactly(client, 1)
    h = next_handle[0]
    next_handle[0] += 1
    handles[h] = (client, server)
    return {'handle': h, 'clientPort': client.getsockname()[1]}

def op_close_open(r):
    client, server = handles.pop(r['handle'])
    client.close()
    until_closed(server)
    server.close()
    return {}

OPS = {'listen': op_listen, 'closedPort': op_closed_port, 'talk': op_talk, 'refuse': op_refuse,
       'open': op_open, 'closeOpen': op_close_open}

print(json.dumps({'event': 'ready', 'pid': os.getpid(), 'hostPid': int(os.readlink('/proc/self'))}), flush=True)
for line in sys.stdin:
    r = json.loads(line)
    try:
        out = OPS[r['op']](r)
        out['id'] = r['id']
        print(json.dumps(out), flush=True)
    except Exception as e:
        print(json.dumps({'id': r['id'], 'error': '%s: %s' % (type(e).__name__, e)}), flush=True)
`;

const COMM_MAX = 15;
let python: string | undefined;
let linkDir: string | undefined;
let sequence = 0;
const running = new Set<SessionDriver>();

/** The real interpreter behind `python3` (through pyenv's shim, if any). */
function realPython(): string {
  python ??= execFileSync('python3', ['-c', 'import os, sys; print(os.path.realpath(sys.executable))'], {
    encoding: 'utf8',
    timeout: 60_000, // a bound: pyenv's shim takes over 10 s under software emulation
  }).trim();
  return python;
}

function linkFor(name: string): string {
  if (!linkDir) {
    linkDir = mkdtempSync(path.join(tmpdir(), 'tlo-drivers-'));
    process.on('exit', () => {
      killAllDrivers();
      if (linkDir) rmSync(linkDir, { recursive: true, force: true });
    });
  }
  const link = path.join(linkDir, name);
  try {
    symlinkSync(realPython(), link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return link;
}

/** A fresh process name `tlo-<kind>-<n>` that fits the kernel's 15-byte comm (kind: up to 4 characters). */
export function driverName(kind: string): string {
  const name = `tlo-${kind}-${process.pid % 1000}${sequence++}`;
  if (name.length > COMM_MAX || !/^[a-z0-9-]+$/.test(name)) throw new Error(`bad driver name ${JSON.stringify(name)}`);
  return name;
}

/** talk()'s reply as the process writes it: times are decimal strings (nanoseconds do not fit a double exactly). */
interface WireTalked {
  close: TalkClose;
  client: SocketEnds;
  server: SocketEnds;
  peerSaw?: string | null;
  times: Record<keyof TalkedSession['times'], string>;
}

function nanos<K extends string>(times: Record<K, string>): Record<K, bigint> {
  return Object.fromEntries(Object.entries<string>(times).map(([k, v]) => [k, BigInt(v)])) as Record<K, bigint>;
}

interface Reply {
  id?: number;
  event?: string;
  pid?: number;
  error?: string;
  [k: string]: unknown;
}

/** Starts a driver named `name`; resolves once it runs (bounded). */
export async function startSessionDriver(name: string, options: DriverOptions = {}): Promise<SessionDriver> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const exe = linkFor(name);
  const prefix = options.netns
    ? ['ip', 'netns', 'exec', options.netns]
    : options.enter
      ? ['nsenter', '--target', String(options.enter), '--net', '--pid', '--']
      : [];
  const run = (): ChildProcess => {
    const command = [...prefix, exe, '-c', SCRIPT];
    return spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  };
  const child = options.cgroup ? spawnInCgroup(options.cgroup, run) : run();

  let stderr = '';
  let pending = '';
  const inbox: Reply[] = [];
  let wake: (() => void) | undefined;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        inbox.push(JSON.parse(line) as Reply);
      } catch {
        inbox.push({ error: `non-JSON line: ${line}` });
      }
    }
    wake?.();
  });
  child.stdin!.on('error', () => undefined);
  child.on('error', (e) => {
    stderr += `spawn error: ${e.message}`;
    wake?.();
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('close', () => wake?.());
  const alive = () => child.exitCode === null && child.signalCode === null;

  const next = async (what: string): Promise<Reply> => {
    const deadline = Date.now() + timeoutMs;
    while (inbox.length === 0) {
      if (!alive()) throw new Error(`driver ${name} exited (${child.exitCode ?? child.signalCode}) before ${what}; stderr: ${stderr.trim()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`driver ${name}: no ${what} within ${timeoutMs} ms; stderr: ${stderr.trim()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    const reply = inbox.shift()!;
    if (reply.error) throw new Error(`driver ${name}: ${what} failed: ${reply.error}; stderr: ${stderr.trim()}`);
    return reply;
  };

  const kill = () => {
    if (alive()) child.kill('SIGKILL');
  };
  let ready: Reply;
  try {
    ready = await next('its ready line');
  } catch (err) {
    kill();
    throw err;
  }

  let ids = 0;
  // One request at a time: callers await each; a chain keeps them ordered anyway.
  let chain: Promise<unknown> = Promise.resolve();
  const request = <T>(op: string, args: Record<string, unknown>): Promise<T> => {
    const id = ++ids;
    const p = chain.then(async () => {
      child.stdin!.write(`${JSON.stringify({ op, id, ...args })}\n`);
      const reply = await next(`the reply to ${op}`);
      if (reply.id !== id) throw new Error(`driver ${name}: reply ${reply.id} to request ${id}`);
      return reply as unknown as T;
    });
    chain = p.catch(() => undefined);
    return p;
  };

  const driver: SessionDriver = {
    name,
    pid: ready.pid!,
    hostPid: ready.hostPid as number,
    listen: async (host) => (await request<{ port: number }>('listen', { host })).port,
    closedPort: async (host) => (await request<{ port: number }>('closedPort', { host })).port,
    talk: async (spec) => {
      const r = await request<WireTalked>('talk', { ...spec });
      return {
        clientPort: r.client.localPort,
        serverPort: r.server.localPort,
        peerSaw: r.peerSaw ?? null,
        close: r.close,
        client: r.client,
        server: r.server,
        times: nanos(r.times),
      };
    },
    refuse: async (host, port) => {
      const r = await request<{ errno: string; times: Record<keyof Refusal['times'], string> }>('refuse', { host, port });
      return { error: r.errno, times: nanos(r.times) };
    },
    open: async (host, port) => {
      const r = await request<{ handle: number; clientPort: number }>('open', { host, port });
      return { handle: r.handle, clientPort: r.clientPort };
    },
    closeOpen: async (handle) => {
      await request('closeOpen', { handle });
    },
    async stop() {
      child.stdin!.end();
      const timer = setTimeout(kill, 2000);
      await exited;
      clearTimeout(timer);
      running.delete(driver);
    },
    kill() {
      kill();
      running.delete(driver);
    },
  };
  running.add(driver);
  return driver;
}

/** Kills every driver still running. */
export function killAllDrivers(): void {
  for (const d of [...running]) d.kill();
}
