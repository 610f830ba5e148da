/**
 * The cases the kernel matrix runs inside each guest kernel (guest-suite.ts),
 * named once so that the host (matrix.test.ts) reports each case per kernel
 * without loading the guest's tests.
 */
export const GUEST_CASES = {
  startReport: 'start-up report: the core on tp_btf, the parts this kernel is expected to refuse named off, the others on',
  sessions: 'IPv4 and IPv6 sessions: exact owners, payload bytes and outcomes, resets by either side and a refused connect',
  openAtStart: 'a session open at start: found with its owner and role, each end reported once at close, partial, payload bytes exact',
  spans: 'spans exported over OTLP/gRPC to a receiver: one per session end, with ports, bytes and outcome',
} as const;

/** Where the guest writes mocha's JSON report, in the directory the host shares with it. */
export const GUEST_REPORT = 'guest-report.json';
