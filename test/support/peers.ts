/**
 * Runs peer-main.js as a separate process under a name of the test's
 * choosing, so the kernel's comm for its sockets is that name: the process
 * execs a symlink to node named `name` (comm is the exec'd file's name).
 * Inside a namespace it runs as `ip netns exec NS <symlink> peer-main.js
 * CONFIG`; ip execs the command in place, so the pid stays the child's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { PeerConfig, PeerDone, PeerRefused } from './peer-main';

export type { CloseMode, PeerConfig, PeerDone, PeerRefused } from './peer-main';

export interface SpawnPeerOptions {
  /** Run inside this network namespace. */
  netns?: string;
}

export interface Peer {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Server: the port it listens on. */
  listening: Promise<number>;
  /** Connected: the peer's view of its two ends. */
  connected: Promise<{ localPort: number; remotePort: number }>;
  /** The peer's closing report; rejects if it exits without one. */
  done: Promise<PeerDone | PeerRefused>;
  /** Exit code (or signal name) once the process ended. */
  exited: Promise<number | string>;
  /** Client with waitForGo: let it connect now. */
  go(): void;
  /** SIGKILL if still running. */
  kill(): void;
  stderr(): string;
}

const PEER_MAIN = path.join(__dirname, 'peer-main.js');
const COMM_MAX = 15;

let linkDir: string | undefined;
let nameSequence = 0;
const running = new Set<Peer>();

function symlinkFor(name: string): string {
  if (!linkDir) {
    linkDir = mkdtempSync(path.join(tmpdir(), 'tlo-peers-'));
    process.on('exit', () => {
      killAllPeers();
      if (linkDir) rmSync(linkDir, { recursive: true, force: true });
    });
  }
  const link = path.join(linkDir, name);
  try {
    symlinkSync(process.execPath, link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return link;
}

/** A fresh process name `tlo-<kind>-<n>` that fits the kernel's 15-byte comm. */
export function peerName(kind: string): string {
  const name = `tlo-${kind}-${process.pid % 1000}${nameSequence++}`;
  if (name.length > COMM_MAX) throw new Error(`peer name ${name} is longer than ${COMM_MAX}`);
  return name;
}

function deferred<T>(): { promise: Promise<T>; resolve(v: T): void; reject(e: Error): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined); // a test need not await every promise
  return { promise, resolve, reject };
}

export function spawnPeer(name: string, config: PeerConfig, options: SpawnPeerOptions = {}): Peer {
  if (name.length > COMM_MAX || name.includes('/')) throw new Error(`bad peer name ${JSON.stringify(name)}`);
  const exe = symlinkFor(name);
  const args = [PEER_MAIN, JSON.stringify(config)];
  const child = options.netns
    ? spawn('ip', ['netns', 'exec', options.netns, exe, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(exe, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not spawn peer ${name}`);

  const listening = deferred<number>();
  const connected = deferred<{ localPort: number; remotePort: number }>();
  const done = deferred<PeerDone | PeerRefused>();
  const exited = deferred<number | string>();
  let err = '';
  let out = '';

  const failAll = (why: string) => {
    const e = new Error(`peer ${name} (pid ${child.pid}) ${why}${err ? `; stderr: ${err.trim()}` : ''}`);
    listening.reject(e);
    connected.reject(e);
    done.reject(e);
  };

  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    out += chunk;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (!line.trim()) continue;
      let msg: { event?: string; port?: number; localPort?: number; remotePort?: number };
      try {
        msg = JSON.parse(line);
      } catch {
        failAll(`printed a non-JSON line: ${line}`);
        continue;
      }
      if (msg.event === 'listening') listening.resolve(msg.port!);
      else if (msg.event === 'connected') connected.resolve({ localPort: msg.localPort!, remotePort: msg.remotePort! });
      else if (msg.event === 'done' || msg.event === 'refused') done.resolve(msg as PeerDone | PeerRefused);
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    err += chunk;
  });
  child.stdin!.on('error', () => undefined); // the peer may exit before reading
  child.on('error', (e) => failAll(`could not run: ${e.message}`));
  // 'close', not 'exit': stdout is fully read by then.
  child.on('close', (code, signal) => {
    running.delete(peer);
    // Settles only what is still pending: a resolved promise stays resolved.
    failAll(`exited (${signal ?? code}) before reporting`);
    exited.resolve(signal ?? code ?? -1);
  });

  const peer: Peer = {
    name,
    pid: child.pid,
    child,
    listening: listening.promise,
    connected: connected.promise,
    done: done.promise,
    exited: exited.promise,
    go() {
      child.stdin!.write('go\n');
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    stderr: () => err,
  };
  running.add(peer);
  return peer;
}

/** Kills every peer still running. */
export function killAllPeers(): void {
  for (const peer of [...running]) peer.kill();
  running.clear();
}

/** Mocha helper: no peer outlives the test that started it. */
export function killPeersAfterEachTest(): void {
  afterEach(function () {
    killAllPeers();
  });
}

/** Resolves with `promise`, or rejects after `ms` with `what` in the message. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One client/server conversation, both ends as separate named processes. */
export interface Conversation {
  server: Peer;
  client: Peer;
  serverPort: number;
  serverDone: PeerDone;
  clientDone: PeerDone;
  /** Wall clock (ms) just before the client was started and just after both reported. */
  startedMs: number;
  endedMs: number;
}

export interface ConversationOptions {
  /** Address the server listens on and the client connects to. */
  host: string;
  clientSends: number;
  serverSends: number;
  clientClose: PeerConfig['close'];
  serverClose: PeerConfig['close'];
  serverNetns?: string;
  clientNetns?: string;
  /** Fixed client port (default: an ephemeral port). */
  clientPort?: number;
  /** Fixed server port (default: any free port). */
  serverPort?: number;
  /** Called with both processes started and the server listening, before the client connects. */
  beforeConnect?: (server: Peer, client: Peer, serverPort: number) => void | Promise<void>;
}

/** Starts a server, then a client, waits for both to report 'done'. */
export async function converse(o: ConversationOptions): Promise<Conversation> {
  const server = spawnPeer(
    peerName('srv'),
    { role: 'server', host: o.host, port: o.serverPort ?? 0, send: o.serverSends, expect: o.clientSends, close: o.serverClose },
    { netns: o.serverNetns },
  );
  const serverPort = await within(server.listening, 5_000, `${server.name} to listen`);
  const startedMs = Date.now();
  const client = spawnPeer(
    peerName('cli'),
    {
      role: 'client',
      host: o.host,
      port: serverPort,
      send: o.clientSends,
      expect: o.serverSends,
      close: o.clientClose,
      localPort: o.clientPort,
      waitForGo: o.beforeConnect !== undefined,
    },
    { netns: o.clientNetns },
  );
  if (o.beforeConnect) {
    await o.beforeConnect(server, client, serverPort);
    client.go();
  }
  const [serverDone, clientDone] = await within(Promise.all([server.done, client.done]), 10_000, `${server.name} and ${client.name} to finish`);
  const endedMs = Date.now();
  if (serverDone.event !== 'done') throw new Error(`server reported ${serverDone.event}`);
  if (clientDone.event !== 'done') throw new Error(`client reported ${clientDone.event}`);
  await within(Promise.all([server.exited, client.exited]), 5_000, 'peers to exit');
  return { server, client, serverPort, serverDone, clientDone, startedMs, endedMs };
}
