/**
 * A TCP peer for end-to-end tests, run as its own process (under its own
 * name, see peers.ts) so that the kernel sees a distinct pid and comm.
 *
 *   node peer-main.js '{"role":"server","host":"127.0.0.1","port":0,
 *                       "send":54321,"expect":100000,"close":"second"}'
 *
 * Both roles send exactly `send` bytes and receive exactly `expect` bytes,
 * then close as told:
 *   first   end() once its own send and receive are complete, then wait for
 *           the peer's FIN
 *   second  wait for the peer's FIN, then end()
 *   reset   abort with a RST (SO_LINGER 0) once send and receive are complete
 *
 * stdout carries one JSON object per line:
 *   {"event":"listening","port":N}                server, once listening
 *   {"event":"connected","localPort":N,...}       once connected / accepted
 *   {"event":"refused"}                           client whose connect got ECONNREFUSED
 *   {"event":"done","localPort":N,"remotePort":N,"sent":N,"received":N[,"error":"ECONNRESET"]}
 * Exit status 0 after "done" or "refused"; non-zero with a message on stderr
 * on any other error or when `timeoutMs` passes.
 */
import * as net from 'node:net';

export type CloseMode = 'first' | 'second' | 'reset';

export interface PeerConfig {
  role: 'server' | 'client';
  host: string;
  /** Server: 0 picks a free port. */
  port: number;
  /** Payload bytes to send. */
  send: number;
  /** Payload bytes to receive before closing. */
  expect: number;
  close: CloseMode;
  /** Client: bind to this local port before connecting (default: an ephemeral port). */
  localPort?: number;
  /** Client: wait for a line on stdin before connecting (lets a test set filters on our pid first). */
  waitForGo?: boolean;
  /** Bound on the whole run. Default 10 s. */
  timeoutMs?: number;
}

export interface PeerDone {
  event: 'done';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  sent: number;
  received: number;
  /** Set when the connection ended with an error the test may expect (ECONNRESET). */
  error?: string;
}

export interface PeerRefused {
  event: 'refused';
}

/** Errors that end a connection in ways the tests provoke on purpose. */
const EXPECTED_ERRORS = new Set(['ECONNRESET', 'EPIPE']);

function emit(obj: object): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function fail(message: string): never {
  process.stderr.write(`peer ${process.pid}: ${message}\n`);
  process.exit(1);
}

function parseConfig(arg: string | undefined): PeerConfig {
  if (!arg) fail('usage: peer-main.js CONFIG_JSON');
  let c: PeerConfig;
  try {
    c = JSON.parse(arg) as PeerConfig;
  } catch (err) {
    fail(`bad config JSON: ${(err as Error).message}`);
  }
  if (c.role !== 'server' && c.role !== 'client') fail(`bad role ${String(c.role)}`);
  if (!['first', 'second', 'reset'].includes(c.close)) fail(`bad close ${String(c.close)}`);
  for (const k of ['port', 'send', 'expect'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0) fail(`bad ${k} ${String(c[k])}`);
  }
  return c;
}

/** Drives one established connection through send, receive and close. */
function converse(socket: net.Socket, cfg: PeerConfig): void {
  const ends = {
    localAddress: socket.localAddress ?? '',
    localPort: socket.localPort ?? 0,
    remoteAddress: socket.remoteAddress ?? '',
    remotePort: socket.remotePort ?? 0,
  };
  emit({ event: 'connected', ...ends });

  let sent = 0;
  let received = 0;
  let sendDone = cfg.send === 0;
  let recvDone = cfg.expect === 0;
  let peerFin = false;
  let ended = false;
  let finished = false;

  const finish = (error?: string) => {
    if (finished) return;
    finished = true;
    const done: PeerDone = { event: 'done', ...ends, sent, received };
    if (error) done.error = error;
    emit(done);
    process.exit(0);
  };

  const endOurSide = () => {
    if (ended) return;
    ended = true;
    socket.end();
  };

  // Called whenever progress is made: decides the next step of the close.
  const step = () => {
    if (finished) return;
    const exchanged = sendDone && recvDone;
    switch (cfg.close) {
      case 'first':
        // Once both FINs are through, the socket closes by itself ('close').
        if (exchanged) endOurSide();
        break;
      case 'second':
        if (peerFin) {
          if (!recvDone) fail(`peer closed after ${received} of ${cfg.expect} bytes`);
          if (sendDone) endOurSide();
        }
        break;
      case 'reset':
        if (exchanged) {
          socket.resetAndDestroy();
          finish();
        }
        break;
    }
  };

  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > cfg.expect) fail(`received ${received} bytes, expected ${cfg.expect}`);
    if (received === cfg.expect) recvDone = true;
    step();
  });
  socket.on('end', () => {
    peerFin = true;
    step();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code && EXPECTED_ERRORS.has(err.code)) finish(err.code);
    else fail(`socket error: ${err.code ?? ''} ${err.message}`);
  });
  socket.on('close', () => {
    if (finished) return;
    if (!(sendDone && recvDone && peerFin)) {
      fail(`closed early: sent ${sent}/${cfg.send}, received ${received}/${cfg.expect}, peer FIN ${peerFin}`);
    }
    finish();
  });

  if (cfg.send > 0) {
    socket.write(Buffer.alloc(cfg.send, 0x61), (err) => {
      if (err) return; // reported by the 'error' handler
      sent = cfg.send;
      sendDone = true;
      step();
    });
  }
  step();
}

function runServer(cfg: PeerConfig): void {
  const server = net.createServer({ allowHalfOpen: true });
  let accepted = false;
  server.on('connection', (socket) => {
    if (accepted) {
      socket.destroy();
      return;
    }
    accepted = true;
    server.close(); // exactly one connection
    converse(socket, cfg);
  });
  server.on('error', (err: NodeJS.ErrnoException) => fail(`listen ${cfg.host}:${cfg.port}: ${err.code ?? err.message}`));
  server.listen({ host: cfg.host, port: cfg.port, ipv6Only: cfg.host.includes(':') }, () => {
    emit({ event: 'listening', port: (server.address() as net.AddressInfo).port });
  });
}

function runClient(cfg: PeerConfig): void {
  const connect = () => {
    let connected = false;
    const socket = net.connect({ host: cfg.host, port: cfg.port, localPort: cfg.localPort, allowHalfOpen: true });
    socket.once('connect', () => {
      connected = true;
      converse(socket, cfg);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (connected) return; // converse() handles errors after connect
      if (err.code === 'ECONNREFUSED') {
        emit({ event: 'refused' });
        process.exit(0);
      }
      fail(`connect ${cfg.host}:${cfg.port}: ${err.code ?? err.message}`);
    });
  };
  if (!cfg.waitForGo) {
    connect();
    return;
  }
  let buffered = '';
  const onData = (chunk: Buffer) => {
    buffered += chunk.toString();
    if (!buffered.includes('\n')) return;
    process.stdin.off('data', onData);
    process.stdin.pause();
    connect();
  };
  process.stdin.on('data', onData);
  process.stdin.once('end', () => {
    if (!buffered.includes('\n')) fail('stdin closed before the go signal');
  });
}

function main(): void {
  const cfg = parseConfig(process.argv[2]);
  const timeoutMs = cfg.timeoutMs ?? 10_000;
  setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
  if (cfg.role === 'server') runServer(cfg);
  else runClient(cfg);
}

main();
