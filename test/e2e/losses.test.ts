// Sessions the kernel cannot hand over are counted, never silently lost.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { SessionProbe } from '../../src/kernel/probe';
import { NO_KERNEL_FILTERS } from '../../src/kernel/probe-types';
import type { TcpSession } from '../../src/sessions/tcp-session';

const ANY = NO_KERNEL_FILTERS;

/** Opens and closes n loopback connections from a separate process; returns the server port. */
function connectionBurst(n: number): number {
  const script = `
import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(128)
for _ in range(${n}):
    c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.close(); a.close()
print(s.getsockname()[1])`;
  return Number(execFileSync('python3', ['-c', script], { timeout: 10_000 }).toString().trim());
}

describe('losses are counted', () => {
  let probe: SessionProbe | undefined;
  afterEach(() => probe?.stop());

  it('a full ring buffer: every session is either delivered or counted as lost', () => {
    const seen: TcpSession[] = [];
    // A one-page ring that nobody drains until the end: it must overflow.
    probe = new SessionProbe({ ringBytes: 4096, wakeupBytes: 2 ** 40, drainIntervalMs: 60_000 });
    probe.start(ANY, (b) => seen.push(...b));
    const port = connectionBurst(40); // 80 sessions, ~28 records fit
    probe.drain();
    const c = probe.counters();
    const ours = seen.filter((s) => s.localPort === port || s.remotePort === port).length;
    assert.ok(c.ringbufFull > 0, `the ring overflowed: ${JSON.stringify(c)}`);
    assert.ok(ours < 80, `not all 80 sessions fit: ${ours}`);
    // Nothing vanishes: what the kernel wrote was delivered, the rest was counted.
    assert.equal(c.delivered, c.sessionsEmitted, 'every written record reached JavaScript');
    assert.ok(c.delivered + c.ringbufFull >= 80, `delivered ${c.delivered} + lost ${c.ringbufFull} covers the 80 sessions`);
  });
});
