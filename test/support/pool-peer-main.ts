/**
 * A process holding many TCP connections open, for tests that change kernel
 * filters while sessions are in flight. Run by pool-peer.ts.
 *
 *   node pool-peer-main.js '{"role":"server","host":"127.0.0.1"}'
 *     {"event":"listening","port":N}
 *     Every accepted connection answers the peer's FIN with its own, so its
 *     close (LAST_ACK) is made by this process.
 *
 *   node pool-peer-main.js '{"role":"client","host":"127.0.0.1","port":N,"count":C}'
 *     {"event":"connected","localPorts":[...]}        once all C are established
 *     stdin "close FROM TO PER_TICK": closes connections FROM..TO-1 (this end's
 *     FIN first), PER_TICK of them per event-loop turn; then
 *     {"event":"closed","from":FROM,"to":TO}          once all of them closed
 *
 * Both exit when stdin ends, and on any unexpected error (message on stderr).
 */
import * as net from 'node:net';

interface PoolConfig {
  role: 'server' | 'client';
  host: string;
  port?: number;
  count?: number;
}

function emit(obj: object): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function fail(message: string): never {
  process.stderr.write(`pool peer ${process.pid}: ${message}\n`);
  process.exit(1);
}

function runServer(cfg: PoolConfig): void {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', (err) => fail(`accepted socket: ${err.message}`));
    socket.on('data', () => undefined);
    socket.on('end', () => socket.end());
  });
  server.on('error', (err) => fail(`listen: ${err.message}`));
  server.listen({ host: cfg.host, port: 0, backlog: 4096 }, () => {
    emit({ event: 'listening', port: (server.address() as net.AddressInfo).port });
  });
}

function runClient(cfg: PoolConfig): void {
  const count = cfg.count ?? 0;
  const sockets: net.Socket[] = [];
  let connected = 0;
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ host: cfg.host, port: cfg.port! });
    socket.on('error', (err) => fail(`connection ${i}: ${err.message}`));
    socket.on('data', () => undefined);
    socket.once('connect', () => {
      if (++connected === count) emit({ event: 'connected', localPorts: sockets.map((s) => s.localPort) });
    });
    sockets.push(socket);
  }

  const close = (from: number, to: number, perTick: number) => {
    let open = to - from;
    let next = from;
    const onClosed = () => {
      if (--open === 0) emit({ event: 'closed', from, to });
    };
    const tick = () => {
      for (let n = 0; n < perTick && next < to; n++, next++) {
        sockets[next].once('close', onClosed);
        sockets[next].end();
      }
      if (next < to) setImmediate(tick);
    };
    tick();
  };

  let buffered = '';
  process.stdin.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const [cmd, ...args] = buffered.slice(0, nl).trim().split(/\s+/);
      buffered = buffered.slice(nl + 1);
      const [from, to, perTick] = args.map(Number);
      if (cmd !== 'close' || !(from >= 0 && to <= count && from < to && perTick >= 1)) fail(`bad command ${cmd} ${args.join(' ')}`);
      close(from, to, perTick);
    }
  });
}

function main(): void {
  let cfg: PoolConfig;
  try {
    cfg = JSON.parse(process.argv[2] ?? '') as PoolConfig;
  } catch {
    fail('usage: pool-peer-main.js CONFIG_JSON');
  }
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  setTimeout(() => fail('timed out after 60 s'), 60_000).unref();
  if (cfg.role === 'server') runServer(cfg);
  else if (cfg.role === 'client') runClient(cfg);
  else fail(`bad role ${String(cfg.role)}`);
}

main();
