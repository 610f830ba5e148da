/**
 * The filters decided in user space, on the decoded session: what the kernel
 * cannot know cheaply (process-name globs) or only knows at the end (role,
 * outcome, duration, bytes). Pure; compiled once per configuration.
 */
import { globToRegExp, isGlob } from './glob';
import type { Outcome, Role, TcpSession } from './tcp-session';

export type SessionFilter = (s: TcpSession) => boolean;

/** What the user-space stage decides on (the settings' filters.* of the same names). */
export interface SessionFilterSpec {
  /** Process names, exact or globs. */
  comms: readonly string[];
  roles: readonly Exclude<Role, 'unknown'>[];
  outcomes: readonly Outcome[];
  min_duration_ms: number;
  min_bytes: number;
}

/**
 * AND across kinds, OR within a list; an empty list or a 0 minimum does not
 * restrict. Undefined when nothing restricts: the caller skips the call.
 */
export function compileSessionFilter(f: SessionFilterSpec): SessionFilter | undefined {
  const tests: SessionFilter[] = [];
  if (f.comms.length) {
    const exact = new Set(f.comms.filter((c) => !isGlob(c)));
    const globs = f.comms.filter(isGlob).map(globToRegExp);
    // An unknown owner (comm '') has no name: it matches none, not even '*'.
    tests.push((s) => s.comm !== '' && (exact.has(s.comm) || globs.some((g) => g.test(s.comm))));
  }
  if (f.roles.length) {
    const roles = new Set<string>(f.roles);
    tests.push((s) => roles.has(s.role));
  }
  if (f.outcomes.length) {
    const outcomes = new Set<string>(f.outcomes);
    tests.push((s) => outcomes.has(s.outcome));
  }
  if (f.min_duration_ms > 0) {
    const minNs = f.min_duration_ms * 1e6;
    // A partial session lasted longer than what was seen of it: it passes.
    tests.push((s) => s.durationNs === undefined || s.durationNs >= minNs);
  }
  if (f.min_bytes > 0) {
    const min = f.min_bytes;
    tests.push((s) => s.bytesSent + s.bytesReceived >= min);
  }
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (s) => tests.every((t) => t(s));
}
