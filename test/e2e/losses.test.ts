// Sessions the kernel cannot hand over are counted, never silently lost.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import { SessionProbe } from '../../src/kernel/probe';
import { NO_KERNEL_FILTERS } from '../../src/kernel/probe-types';
import type { TcpSession } from '../../src/sessions/tcp-session';

/** A loopback port nobody listens on now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Opens and closes n loopback connections to `port` from a separate process. */
function connectionBurst(n: number, port: number): void {
  const script = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', ${port})); s.listen(128)
for _ in range(${n}):
    c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.close(); a.close()`;
  execFileSync('python3', ['-c', script], { timeout: 10_000 });
}

describe('losses are counted', () => {
  let probe: SessionProbe | undefined;
  afterEach(() => probe?.stop());

  it('a full ring buffer: each of our sessions is either delivered or counted as lost, exactly', async () => {
    const seen: TcpSession[] = [];
    const port = await freePort();
    // Only our burst's server ends pass the kernel filter, so no other
    // traffic on the host can fill the ring or satisfy the counts.
    const ours = { ...NO_KERNEL_FILTERS, localPorts: [port] };
    // A one-page ring that nobody drains until the end: it must overflow.
    probe = new SessionProbe({ ringBytes: 4096, wakeupBytes: 2 ** 40, drainIntervalMs: 60_000, findOpenSessions: false });
    probe.start(ours, (b) => seen.push(...b));
    connectionBurst(40, port); // 40 server-end sessions pass; about 22 records fit in a page
    probe.drain();
    const c = probe.counters();
    assert.ok(
      seen.every((s) => s.localPort === port),
      'only our sessions passed the filter',
    );
    assert.ok(c.lost_ringbuf_full > 0, `the ring overflowed: ${JSON.stringify(c)}`);
    assert.equal(c.sessions_delivered, c.sessions_emitted, 'every written record reached JavaScript');
    assert.equal(seen.length, c.sessions_delivered);
    assert.equal(seen.length + c.lost_ringbuf_full, 40, `delivered ${seen.length} + lost ${c.lost_ringbuf_full} = our 40 sessions`);
  });
});
