/**
 * Two network namespaces joined by a veth pair: the only non-loopback place
 * where tests may carry traffic. Each end has its own IPv4 and IPv6 address,
 * so a session's local and remote addresses differ (on ::1 they are equal,
 * which hides address mix-ups such as tcplife's IPv6 RADDR bug).
 *
 * Everything goes through iproute2's `ip` with argument arrays, never a shell.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { processAlive } from './process-alive';

/** One side of the pair. */
export interface NetnsEnd {
  /** Namespace name, for `ip netns exec NAME ...`. */
  netns: string;
  /** The veth interface inside that namespace. */
  ifname: string;
  ipv4: string;
  ipv6: string;
}

export interface NetnsPair {
  a: NetnsEnd;
  b: NetnsEnd;
  /** Deletes both namespaces (and with them the veth pair). Safe to call twice. */
  destroy(): void;
}

const PREFIX = 'tlo-';
const NETNS_DIR = '/var/run/netns';

let sequence = 0;
const live = new Set<NetnsPair>();
let exitHookInstalled = false;

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** Deletes tlo- namespaces left behind by test processes that no longer run. */
export function removeStaleNamespaces(): void {
  if (!existsSync(NETNS_DIR)) return;
  for (const name of readdirSync(NETNS_DIR)) {
    const m = /^tlo-(\d+)-\d+-[ab]$/.exec(name);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || processAlive(owner)) continue;
    try {
      ip(['netns', 'del', name]);
    } catch {
      /* someone else removed it meanwhile */
    }
  }
}

/**
 * Creates namespaces `tlo-<pid>-<n>-a` and `-b`, a veth pair between them,
 * everything up, 192.0.2.1/24 + 2001:db8::1/64 on a and 192.0.2.2/24 +
 * 2001:db8::2/64 on b (IPv6 with nodad, usable at once).
 */
export function createNetnsPair(): NetnsPair {
  removeStaleNamespaces();
  const n = sequence++;
  const base = `${PREFIX}${process.pid}-${n}`;
  const a: NetnsEnd = { netns: `${base}-a`, ifname: `tlo${n}a`, ipv4: '192.0.2.1', ipv6: '2001:db8::1' };
  const b: NetnsEnd = { netns: `${base}-b`, ifname: `tlo${n}b`, ipv4: '192.0.2.2', ipv6: '2001:db8::2' };

  let destroyed = false;
  const pair: NetnsPair = {
    a,
    b,
    destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(pair);
      for (const end of [a, b]) {
        if (existsSync(`${NETNS_DIR}/${end.netns}`)) {
          try {
            ip(['netns', 'del', end.netns]);
          } catch {
            /* already gone */
          }
        }
      }
    },
  };
  live.add(pair);
  installExitHook();

  try {
    ip(['netns', 'add', a.netns]);
    ip(['netns', 'add', b.netns]);
    // Both ends are created directly inside their namespaces: the host never
    // sees an interface.
    ip(['link', 'add', a.ifname, 'netns', a.netns, 'type', 'veth', 'peer', 'name', b.ifname, 'netns', b.netns]);
    for (const end of [a, b]) {
      const inNs = (args: string[]) => ip(['-n', end.netns, ...args]);
      inNs(['link', 'set', 'lo', 'up']);
      inNs(['addr', 'add', `${end.ipv4}/24`, 'dev', end.ifname]);
      inNs(['-6', 'addr', 'add', `${end.ipv6}/64`, 'dev', end.ifname, 'nodad']);
      inNs(['link', 'set', end.ifname, 'up']);
    }
    waitForCarrier(pair);
  } catch (err) {
    pair.destroy();
    throw err;
  }
  return pair;
}

/** veth reports carrier once both ends are up; give it a moment. */
function waitForCarrier(pair: NetnsPair): void {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const up = [pair.a, pair.b].every((end) => /LOWER_UP/.test(ip(['-n', end.netns, '-br', 'link', 'show', 'dev', end.ifname])));
    if (up) return;
    if (Date.now() > deadline) throw new Error(`veth ${pair.a.ifname}/${pair.b.ifname} never came up`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test run dies without its after() hooks.
  process.on('exit', () => {
    for (const pair of [...live]) pair.destroy();
  });
}

/**
 * Mocha helper: creates a pair in before() and destroys it in after() of
 * the calling describe(). Returns a getter (the pair exists only once
 * before() ran).
 */
export function useNetnsPair(): () => NetnsPair {
  let pair: NetnsPair | undefined;
  before(function () {
    pair = createNetnsPair();
  });
  after(function () {
    pair?.destroy();
  });
  return () => {
    if (!pair) throw new Error('network namespace pair not created (before() hook failed?)');
    return pair;
  };
}
