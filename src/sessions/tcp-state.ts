// TCP states (include/net/tcp_states.h) and how a session's end maps to an Outcome.
import { constants } from 'node:os';
import type { Outcome } from './tcp-session';

export const TCP_STATE_NAMES: readonly string[] = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
];

export function tcpStateName(state: number): string {
  return TCP_STATE_NAMES[state] ?? `STATE_${state}`;
}

const { ECONNREFUSED, ECONNRESET, ETIMEDOUT } = constants.errno;

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** 'ECONNREFUSED' for 111; undefined for 0. */
export function errnoName(errno: number): string | undefined {
  if (errno === 0) return undefined;
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

/**
 * The outcome from the state before CLOSE and the socket error at that moment.
 * The kernel sets sk_err before the final state change (tcp_done_with_error),
 * so a received RST shows as ECONNRESET/ECONNREFUSED and a give-up as ETIMEDOUT.
 */
export function sessionOutcome(stateBeforeClose: number, errno: number): Outcome {
  if (errno === ETIMEDOUT) return 'timeout';
  switch (tcpStateName(stateBeforeClose)) {
    case 'SYN_SENT':
      return errno === ECONNREFUSED ? 'refused' : 'connect_failed';
    case 'SYN_RECV':
      return 'handshake_aborted';
    case 'LAST_ACK':
      return errno === ECONNRESET ? 'reset_by_peer' : 'closed_by_peer';
    case 'FIN_WAIT1':
    case 'FIN_WAIT2':
    case 'CLOSING':
      return errno === ECONNRESET ? 'reset_by_peer' : 'closed_locally';
    default:
      // ESTABLISHED or CLOSE_WAIT straight to CLOSE: a RST went one way or the other.
      return errno === ECONNRESET ? 'reset_by_peer' : 'reset_locally';
  }
}
