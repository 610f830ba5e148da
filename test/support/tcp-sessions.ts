/**
 * Real loopback TCP sessions made by a separate process (python3), on
 * request, for end-to-end tests of the command line.
 *
 * The process starts, listens on HOST (127.0.0.1 or ::1, an ephemeral port),
 * reports its pid and port, then waits: the test can start the agent with
 * `-p PID` first, so that the agent traces this process's sessions and
 * nothing else (not the agent's own gRPC connections, not other tests).
 * Every `run(specs)` makes the sessions one after the other, each one
 * complete (both ends closed) before the next connects, and reports what
 * the process itself observed: both ends' addresses and ports as the
 * sockets see them, and wall-clock times (CLOCK_REALTIME, ns) taken just
 * before connect(), just after it returned, just before the closing step
 * and just after both ends were closed.
 *
 * One session, client and server both in this process:
 *   connect; accept; the client sends clientSends bytes, the server reads
 *   them all; the server sends serverSends bytes, the client reads them all;
 *   both ends set TCP_QUICKACK (so every received byte is acknowledged now,
 *   and the sender's acknowledged-byte count is final before any RST); then
 *   close as `close` says:
 *     client-first  the client closes (FIN); the server reads to EOF, closes
 *     client-reset  the client closes with SO_LINGER {on, 0} (RST); the
 *                   server reads until the reset, closes
 *     server-reset  the same with the roles swapped
 * Or, with `refusedPort`, one connect() to that port on HOST, where nothing
 * listens: refused (ECONNREFUSED), a client-only session.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export type CloseMode = 'client-first' | 'client-reset' | 'server-reset';

export interface ConversationSpec {
  clientSends: number;
  serverSends: number;
  close: CloseMode;
}

export interface RefusedSpec {
  /** A port on HOST where nothing listens. */
  refusedPort: number;
}

export type SessionSpec = ConversationSpec | RefusedSpec;

/** One socket's view of its connection. */
export interface SocketEnds {
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
}

export interface MadeSession {
  spec: ConversationSpec;
  client: SocketEnds;
  server: SocketEnds;
  /** What the end that did not close first saw: 'ECONNRESET' or null (a plain EOF). */
  peerSaw: string | null;
  /** Wall-clock nanoseconds, as the process read them. */
  times: { connectStart: bigint; connectEnd: bigint; closeStart: bigint; closeEnd: bigint };
}

export interface MadeRefusal {
  spec: RefusedSpec;
  /** The errno name connect() failed with. */
  error: string;
  times: { connectStart: bigint; connectEnd: bigint };
}

export interface SessionMaker {
  pid: number;
  /** The listening address and port (the server end of every session). */
  host: string;
  port: number;
  /** Makes the conversations, in order; bounded by timeoutMs. */
  run(specs: ConversationSpec[], timeoutMs?: number): Promise<MadeSession[]>;
  /** Makes conversations and refused connects, in order; each result in its spec's place. */
  runMixed(specs: SessionSpec[], timeoutMs?: number): Promise<Array<MadeSession | MadeRefusal>>;
  /** Ends the process (closing stdin), SIGKILL after 2 s. */
  stop(): Promise<void>;
  kill(): void;
}

const SCRIPT = String.raw`
import json, os, socket, struct, sys, time

def now():
    return str(time.time_ns())

def recv_exactly(s, n):
    got = 0
    while got < n:
        b = s.recv(min(1 << 16, n - got))
        if not b:
            raise RuntimeError('EOF after %d of %d bytes' % (got, n))
        got += len(b)

def ends(s):
    l, p = s.getsockname(), s.getpeername()
    return {'localAddress': l[0], 'localPort': l[1], 'peerAddress': p[0], 'peerPort': p[1]}

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

def refused(family, host, spec):
    t = {}
    client = socket.socket(family, socket.SOCK_STREAM)
    t['connectStart'] = now()
    try:
        client.connect((host, spec['refusedPort']))
        raise RuntimeError('connect to port %d succeeded' % spec['refusedPort'])
    except ConnectionRefusedError:
        error = 'ECONNREFUSED'
    t['connectEnd'] = now()
    client.close()
    return {'spec': spec, 'error': error, 'times': t}

def session(listener, family, spec):
    if 'refusedPort' in spec:
        return refused(family, listener.getsockname()[0], spec)
    t = {}
    client = socket.socket(family, socket.SOCK_STREAM)
    t['connectStart'] = now()
    client.connect(listener.getsockname()[:2])
    t['connectEnd'] = now()
    server, _ = listener.accept()
    client.sendall(b'c' * spec['clientSends'])
    recv_exactly(server, spec['clientSends'])
    server.sendall(b's' * spec['serverSends'])
    recv_exactly(client, spec['serverSends'])
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    out = {'spec': spec, 'client': ends(client), 'server': ends(server)}
    close = spec['close']
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
    out['times'] = t
    return out

def main():
    host = sys.argv[1]
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((host, 0))
    listener.listen(128)
    print(json.dumps({'event': 'ready', 'pid': os.getpid(), 'port': listener.getsockname()[1]}), flush=True)
    for line in sys.stdin:
        specs = json.loads(line)
        print(json.dumps({'event': 'done', 'sessions': [session(listener, family, s) for s in specs]}), flush=True)

try:
    main()
except Exception as e:
    print(json.dumps({'event': 'error', 'message': '%s: %s' % (type(e).__name__, e)}), flush=True)
    sys.exit(1)
`;

interface Message {
  event: 'ready' | 'done' | 'error';
  pid?: number;
  port?: number;
  sessions?: Array<{ times: Record<string, string> } & Record<string, unknown>>;
  message?: string;
}

/** Starts the session maker on `host` and waits (bounded) until it listens. */
export async function startSessionMaker(host: '127.0.0.1' | '::1', timeoutMs = 5000): Promise<SessionMaker> {
  const child: ChildProcess = spawn('python3', ['-c', SCRIPT, host], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let pending = '';
  const inbox: Message[] = [];
  let wake: (() => void) | undefined;
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      inbox.push(JSON.parse(pending.slice(0, nl)) as Message);
      pending = pending.slice(nl + 1);
    }
    wake?.();
  });
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('close', () => wake?.());

  /** The next message from the process, within timeoutMs. */
  const next = async (what: string, ms: number): Promise<Message> => {
    const deadline = Date.now() + ms;
    while (inbox.length === 0) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`session maker exited (${child.exitCode ?? child.signalCode}) before ${what}; stderr: ${stderr.trim()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`session maker: no ${what} within ${ms} ms; stderr: ${stderr.trim()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
    const msg = inbox.shift()!;
    if (msg.event === 'error') throw new Error(`session maker failed: ${msg.message}; stderr: ${stderr.trim()}`);
    return msg;
  };

  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  let ready: Message;
  try {
    ready = await next('its ready line', timeoutMs);
  } catch (err) {
    kill();
    throw err;
  }
  const runMixed = async (specs: SessionSpec[], ms = 10_000): Promise<Array<MadeSession | MadeRefusal>> => {
    child.stdin!.write(`${JSON.stringify(specs)}\n`);
    const done = await next(`the report of ${specs.length} session(s)`, ms);
    // Times are decimal strings (nanoseconds do not fit a double exactly).
    return done.sessions!.map(
      (s) =>
        ({ ...s, times: Object.fromEntries(Object.entries(s.times).map(([k, v]) => [k, BigInt(v)])) }) as unknown as
          | MadeSession
          | MadeRefusal,
    );
  };
  return {
    pid: ready.pid!,
    host,
    port: ready.port!,
    runMixed,
    run: async (specs: ConversationSpec[], ms = 10_000): Promise<MadeSession[]> => (await runMixed(specs, ms)) as MadeSession[],
    async stop(): Promise<void> {
      child.stdin!.end();
      const timer = setTimeout(kill, 2000);
      await exited;
      clearTimeout(timer);
    },
    kill,
  };
}
