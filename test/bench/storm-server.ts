/**
 * The storm's loopback server, its own process (forked by storm.ts).
 * Per connection: read PING_BYTES, answer PONG_BYTES and close first
 * (end(): our FIN goes right after the answer). Counts every accepted
 * connection, which is exactly one server-side TCP session.
 */
import * as net from 'node:net';
import { PING_BYTES, PONG_BYTES, type ServerListening, type ServerReport, type ServerReportRequest, type ServerStart } from './storm-protocol';

const PONG = Buffer.alloc(PONG_BYTES, 0x70);

let accepted = 0;
let answered = 0;
let open = 0;
const errors: Record<string, number> = {};

function send(msg: ServerListening | ServerReport): void {
  if (process.send) process.send(msg);
}

function countError(err: NodeJS.ErrnoException): void {
  const code = err.code ?? err.message;
  errors[code] = (errors[code] ?? 0) + 1;
}

const server = net.createServer({ noDelay: true }, (sock) => {
  accepted++;
  open++;
  let got = 0;
  sock.on('data', (chunk: Buffer) => {
    const before = got;
    got += chunk.length;
    if (before < PING_BYTES && got >= PING_BYTES) {
      answered++;
      sock.end(PONG);
    }
  });
  sock.on('error', countError);
  sock.on('close', () => {
    open--;
  });
});
server.on('error', (err: NodeJS.ErrnoException) => {
  process.stderr.write(`storm-server: ${err.message}\n`);
  process.exit(1);
});

function listen(msg: ServerStart, attempt = 0): void {
  const port = msg.portBase + attempt;
  const onError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE' && attempt + 1 < msg.portTries) {
      listen(msg, attempt + 1);
      return;
    }
    process.stderr.write(`storm-server: cannot listen on ${msg.host}:${port}: ${err.message}\n`);
    process.exit(1);
  };
  server.once('error', onError);
  server.listen({ host: msg.host, port, backlog: msg.backlog, exclusive: true }, () => {
    server.removeListener('error', onError);
    send({ kind: 'listening', port });
  });
}

process.on('message', (msg: ServerStart | ServerReportRequest) => {
  if (msg.kind === 'listen') listen(msg);
  else if (msg.kind === 'report') send({ kind: 'server-report', accepted, answered, open, errors });
});
// The orchestrator gone (crash, kill): never outlive it.
process.on('disconnect', () => process.exit(0));
