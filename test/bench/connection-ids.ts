/**
 * How well connections are told apart by their ISN pair, measured on the
 * real kernel: a python loader makes N loopback connections (bounded in
 * count and time), each carrying a few bytes both ways; the probe, traced
 * to the loader only, reports both ends of each. For every connection the
 * ISNs recovered from the client end and from the server end must agree
 * (a disagreement would split the connection over two traces); then the
 * distinct pairs, client ISNs and server ISNs are counted against what
 * uniform random 32-bit values would give, with the bit balance of each.
 *
 *   npm run bench:connection-ids [-- --connections 50000]
 *
 * Prints a Markdown summary; the README quotes it.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import { SessionProbe } from '../../src/kernel/probe';
import { NO_KERNEL_FILTERS } from '../../src/kernel/probe-types';
import type { TcpSession } from '../../src/sessions/tcp-session';
import { connectionIds, initialSequenceNumbers } from '../../src/sessions/connection-ids';

const LOADER = `
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0)); s.listen(4096)
port = s.getsockname()[1]
print('ready', flush=True)
n = int(sys.stdin.readline()); t = time.time(); done = 0
while done < n and time.time() - t < 120:
    c = socket.create_connection(('127.0.0.1', port)); a, _ = s.accept()
    c.sendall(b'c' * 7); a.recv(16); a.sendall(b's' * 11); c.recv(16)
    c.close(); a.close(); done += 1
print('done', done, flush=True)
`;

const argN = process.argv.indexOf('--connections');
const N = argN > 0 ? Math.min(1_000_000, Math.max(1000, Number(process.argv[argN + 1]) || 0)) : 50_000;

async function main(): Promise<void> {
  const loader = spawn('python3', ['-c', LOADER], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  loader.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const line = async (re: RegExp, ms: number) => {
    const end = Date.now() + ms;
    while (!re.test(out)) {
      if (Date.now() > end) throw new Error(`loader: no ${re} within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await line(/ready/, 10_000);

  // Both ends by the client's port, in order: a port is used again only
  // after its previous connection closed.
  const clients = new Map<number, TcpSession[]>();
  const servers = new Map<number, TcpSession[]>();
  const add = (m: Map<number, TcpSession[]>, port: number, s: TcpSession) => m.set(port, [...(m.get(port) ?? []), s]);
  const probe = new SessionProbe({});
  probe.start({ ...NO_KERNEL_FILTERS, pids: [loader.pid!] }, (batch) => {
    for (const s of batch) s.role === 'client' ? add(clients, s.localPort, s) : add(servers, s.remotePort, s);
  });
  loader.stdin.write(`${N}\n`);
  await line(/done \d+/, 130_000);
  await new Promise((r) => setTimeout(r, 500));
  probe.drain();
  probe.stop();
  loader.kill();

  let both = 0;
  let disagree = 0;
  const pairs = new Set<string>();
  const traces = new Set<string>();
  const clientIsns = new Set<number>();
  const serverIsns = new Set<number>();
  const bits = new Array<number>(64).fill(0);
  const ends: Array<[TcpSession, TcpSession]> = [];
  for (const [port, cs] of clients) {
    const ss = servers.get(port) ?? [];
    for (let i = 0; i < Math.min(cs.length, ss.length); i++) ends.push([cs[i], ss[i]]);
  }
  for (const [c, s] of ends) {
    both++;
    const a = initialSequenceNumbers(c)!;
    const b = initialSequenceNumbers(s)!;
    if (a.client !== b.client || a.server !== b.server) disagree++;
    pairs.add(`${a.client}:${a.server}`);
    traces.add(connectionIds(c)!.traceId);
    clientIsns.add(a.client);
    serverIsns.add(a.server);
    for (let i = 0; i < 32; i++) {
      bits[i] += (a.client >>> i) & 1;
      bits[32 + i] += (a.server >>> i) & 1;
    }
  }
  // Expected duplicates among n uniform 32-bit values: n - 2^32 (1 - (1 - 2^-32)^n).
  const expectedDup = (n: number) => n - 2 ** 32 * (1 - Math.exp(n * Math.log1p(-(2 ** -32))));
  const worstBit = Math.max(...bits.map((k) => Math.abs(k / both - 0.5)));
  const text = [
    `Connection ids, ${new Date().toISOString().slice(0, 10)}, ${os.cpus().length} vCPUs, Linux ${os.release()}:`,
    '',
    '| measure | value |',
    '|---|---|',
    `| connections with both ends reported | ${both} of ${N} |`,
    `| ends disagreeing on the ISN pair | ${disagree} |`,
    `| distinct ISN pairs, distinct trace ids | ${pairs.size}, ${traces.size} |`,
    `| repeated client ISNs (uniform 32-bit: ${expectedDup(both).toFixed(2)} expected) | ${both - clientIsns.size} |`,
    `| repeated server ISNs (expected ${expectedDup(both).toFixed(2)}) | ${both - serverIsns.size} |`,
    `| largest bias of the 64 ISN bits from 1/2 (one standard deviation: ${(0.5 / Math.sqrt(both)).toFixed(4)}) | ${worstBit.toFixed(4)} |`,
  ].join('\n');
  process.stdout.write(`${text}\n`);
  process.exit(disagree === 0 && both > 0 ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`bench:connection-ids: ${(err as Error).message}\n`);
  process.exit(1);
});
