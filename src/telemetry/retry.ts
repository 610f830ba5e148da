/**
 * The backoff between attempts to export the same batch: full-jitter
 * exponential, random in [0, min(cap, base * 2^attempt)). There is no retry
 * limit: the exporter's bounded queue, not a count, is what protects memory.
 * Pure: the randomness is an argument.
 */

export interface Backoff {
  /** The ceiling of the first retry's delay (ms). */
  readonly baseMs: number;
  /** No delay reaches this (ms); also caps the gRPC channel's reconnect backoff. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 100, maxMs: 5000 };

/** The backoff of the exporter's options: base at least 1 ms, cap at least the base. */
export function backoffOf(options: { retryBaseMs?: number; retryMaxMs?: number }): Backoff {
  const baseMs = Math.max(1, options.retryBaseMs ?? DEFAULT_BACKOFF.baseMs);
  return { baseMs, maxMs: Math.max(baseMs, options.retryMaxMs ?? DEFAULT_BACKOFF.maxMs) };
}

/** The largest delay (exclusive) before retry number `attempt` (0: the first retry). */
export function backoffCeiling(backoff: Backoff, attempt: number): number {
  // 2^30 times any base is past any cap: the exponent stops there so it never overflows.
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 30));
}

/** Whole milliseconds to wait before retry number `attempt`; `random` is in [0, 1). */
export function backoffDelay(backoff: Backoff, attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(backoff, attempt));
}
