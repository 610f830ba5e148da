/**
 * A workload whose every session end is known in advance, for the tests
 * that run the agent with parts of its kernel program off and for the kernel
 * matrix: one session driver (one process: both ends are its) makes, on
 * loopback, an IPv4 and an IPv6 conversation with exact byte counts, a reset
 * by each side and a refused connect. `expectedEnds` says what the agent
 * must report for each end; `compareEnds` lists every difference between
 * that and the agent's JSON lines.
 */
import type { SessionDriver } from './session-driver';

/** What one end of a session must look like in the agent's JSON lines. */
export interface ExpectedEnd {
  what: string;
  family: 4 | 6;
  laddr: string;
  lport: number;
  raddr: string;
  rport: number;
  role: 'client' | 'server' | 'unknown';
  outcome: string;
  error: string | null;
  /** 0: the owner is unknown (and comm ''). */
  pid: number;
  comm: string;
  tx_bytes: number;
  rx_bytes: number;
}

export interface KnownWorkloadOptions {
  /** The owners-from-io part is on: an accepted socket's owner is known from its first recv. */
  ownersFromIo: boolean;
}

/** Runs the workload (about 100 ms on a normal machine) and returns the ends the agent must report. */
export async function runKnownWorkload(driver: SessionDriver, o: KnownWorkloadOptions): Promise<ExpectedEnd[]> {
  const ends: ExpectedEnd[] = [];
  const owner = { pid: driver.pid, comm: driver.name };
  const unknown = { pid: 0, comm: '' };
  // The end reset in softirq (or by its own close() with SO_LINGER 0) made no
  // state change in a system call that names it: only its first recv can.
  const acceptedOwner = o.ownersFromIo ? owner : unknown;
  const v4 = '127.0.0.1';
  const v6 = '::1';
  const p4 = await driver.listen(v4);
  const p6 = await driver.listen(v6);

  const conversation = async (
    what: string,
    host: string,
    port: number,
    clientSends: number,
    serverSends: number,
    close: 'client-first' | 'client-reset' | 'server-reset',
  ) => {
    const t = await driver.talk({ host, port, clientSends, serverSends, close });
    const family = host === v4 ? 4 : 6;
    const base = { family, laddr: host, raddr: host } as const;
    const client = {
      ...base,
      what: `${what}: client`,
      lport: t.clientPort,
      rport: t.serverPort,
      role: 'client' as const,
      tx_bytes: clientSends,
      rx_bytes: serverSends,
    };
    const server = {
      ...base,
      what: `${what}: server`,
      lport: t.serverPort,
      rport: t.clientPort,
      role: 'server' as const,
      tx_bytes: serverSends,
      rx_bytes: clientSends,
    };
    if (close === 'client-first') {
      ends.push({ ...client, outcome: 'closed_locally', error: null, ...owner });
      ends.push({ ...server, outcome: 'closed_by_peer', error: null, ...owner }); // close() after the FIN: LAST_ACK
    } else if (close === 'client-reset') {
      ends.push({ ...client, outcome: 'reset_locally', error: null, ...owner });
      ends.push({ ...server, outcome: 'reset_by_peer', error: 'ECONNRESET', ...acceptedOwner });
    } else {
      ends.push({ ...client, outcome: 'reset_by_peer', error: 'ECONNRESET', ...owner });
      ends.push({ ...server, outcome: 'reset_locally', error: null, ...acceptedOwner });
    }
  };

  await conversation('IPv4, client closes first', v4, p4, 100_000, 54_321, 'client-first');
  await conversation('IPv6, client closes first', v6, p6, 7_000, 3_000, 'client-first');
  await conversation('IPv4, client resets', v4, p4, 1_000, 2_000, 'client-reset');
  await conversation('IPv6, server resets', v6, p6, 3_000, 4_000, 'server-reset');

  const closed = await driver.closedPort(v4);
  const refusal = await driver.refuse(v4, closed);
  if (refusal.error !== 'ECONNREFUSED') throw new Error(`the refused connect failed with ${refusal.error}`);
  // The refused end's local port is not reported by connect(): matched by its remote port alone.
  ends.push({
    what: 'IPv4, refused',
    family: 4,
    laddr: v4,
    lport: -1,
    raddr: v4,
    rport: closed,
    role: 'client',
    outcome: 'refused',
    error: 'ECONNREFUSED',
    ...owner,
    tx_bytes: 0,
    rx_bytes: 0,
  });
  return ends;
}

const COMPARED = ['family', 'laddr', 'raddr', 'role', 'outcome', 'error', 'pid', 'comm', 'tx_bytes', 'rx_bytes'] as const;

function matches(e: ExpectedEnd, line: Record<string, unknown>): boolean {
  return line.rport === e.rport && (e.lport < 0 ? line.family === e.family && line.role === 'client' : line.lport === e.lport);
}

/** Every expected end the lines do not report exactly (once, as expected), one message each. */
export function compareEnds(expected: ExpectedEnd[], lines: Array<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  for (const e of expected) {
    const found = lines.filter((l) => matches(e, l));
    if (found.length !== 1) {
      problems.push(`${e.what}: reported ${found.length} times (${e.lport} -> ${e.rport})`);
      continue;
    }
    const got = found[0];
    const wrong = COMPARED.filter((k) => got[k] !== e[k]).map((k) => `${k} ${JSON.stringify(got[k])} (expected ${JSON.stringify(e[k])})`);
    if (got.partial !== false) wrong.push(`partial ${JSON.stringify(got.partial)}`);
    if (wrong.length) problems.push(`${e.what}: ${wrong.join(', ')}`);
  }
  return problems;
}

/** Whether the agent has reported every expected end (a wait's condition). */
export function allReported(expected: ExpectedEnd[], lines: Array<Record<string, unknown>>): boolean {
  return expected.every((e) => lines.some((l) => matches(e, l)));
}
