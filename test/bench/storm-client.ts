/**
 * A storm client, its own process (forked by storm.ts). On "go" it keeps
 * `concurrency` connections in flight: connect, send PING_BYTES, read
 * PONG_BYTES, and close once the server's FIN arrives (the server closes
 * first). Each connect() is one client-side TCP session, counted in
 * `attempts`, whatever its outcome.
 *
 * Bounds: the window (durationMs) and maxConnections stop new connections;
 * in-flight ones then get drainTimeoutMs to finish, after which they are
 * destroyed and counted as abandoned.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { PING_BYTES, PONG_BYTES, SLOW_CONNECT_MS, type ClientGo, type ClientReady, type ClientReport } from './storm-protocol';

const PING = Buffer.alloc(PING_BYTES, 0x69);

function send(msg: ClientReady | ClientReport): void {
  if (process.send) process.send(msg);
}

function run(go: ClientGo): void {
  let attempts = 0;
  let completed = 0;
  let completedInWindow = 0;
  let inWindow = true;
  let slowConnects = 0;
  let maxConnectMs = 0;
  let windowMs = 0;
  let reported = false;
  const errors: Record<string, number> = {};
  const inflight = new Set<net.Socket>();
  let drainTimer: NodeJS.Timeout | undefined;
  let windowTimer: NodeJS.Timeout | undefined;
  const start = performance.now();

  const endWindow = () => {
    if (!inWindow) return;
    inWindow = false;
    windowMs = performance.now() - start;
    clearTimeout(windowTimer);
    if (inflight.size === 0) report(0);
    else drainTimer = setTimeout(() => report(inflight.size), go.drainTimeoutMs);
  };

  const report = (abandoned: number) => {
    if (reported) return;
    reported = true;
    if (drainTimer) clearTimeout(drainTimer);
    for (const s of inflight) s.destroy();
    send({
      kind: 'client-report',
      attempts,
      completed,
      completedInWindow,
      windowMs,
      slowConnects,
      maxConnectMs,
      abandoned,
      errors,
    });
  };

  const launch = () => {
    if (!inWindow) return;
    if (attempts >= go.maxConnections) {
      endWindow();
      return;
    }
    attempts++;
    const t0 = performance.now();
    let got = 0;
    let failed: string | undefined;
    const sock = net.connect({ host: go.host, port: go.port, noDelay: true });
    inflight.add(sock);
    sock.on('connect', () => {
      const ms = performance.now() - t0;
      if (ms >= SLOW_CONNECT_MS) slowConnects++;
      if (ms > maxConnectMs) maxConnectMs = ms;
      sock.write(PING);
    });
    sock.on('data', (chunk: Buffer) => {
      got += chunk.length;
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      failed = err.code ?? err.message;
    });
    sock.on('close', () => {
      inflight.delete(sock);
      if (failed === undefined && got !== PONG_BYTES) failed = `short-reply-${got}`;
      if (failed === undefined) {
        completed++;
        if (inWindow) completedInWindow++;
      } else {
        errors[failed] = (errors[failed] ?? 0) + 1;
      }
      if (inWindow) launch();
      else if (inflight.size === 0) report(0);
    });
  };

  windowTimer = setTimeout(endWindow, go.durationMs);
  for (let i = 0; i < go.concurrency; i++) launch();
}

process.on('message', (msg: ClientGo) => {
  if (msg.kind === 'go') run(msg);
});
process.on('disconnect', () => process.exit(0));
send({ kind: 'ready' });
