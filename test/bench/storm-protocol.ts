/**
 * Messages between the storm orchestrator (storm.ts) and its server and
 * client processes (storm-server.ts, storm-client.ts), over the fork() IPC
 * channel. The exchange on each connection is fixed: the client sends
 * PING_BYTES bytes, the server answers PONG_BYTES bytes and closes first
 * (so TIME_WAIT lands on the server's side, never on the client's
 * ephemeral ports).
 */

export const PING_BYTES = 8;
export const PONG_BYTES = 8;

// orchestrator -> server
export interface ServerStart {
  kind: 'listen';
  host: string;
  /** First port to try; the server walks up from here until one is free. */
  portBase: number;
  portTries: number;
  backlog: number;
}
export interface ServerReportRequest {
  kind: 'report';
}

// server -> orchestrator
export interface ServerListening {
  kind: 'listening';
  port: number;
}
export interface ServerReport {
  kind: 'server-report';
  /** Connections accepted: one server-side TCP session each. */
  accepted: number;
  /** Accepted connections that got the full PING and were answered. */
  answered: number;
  /** Accepted connections still open when the report was taken. */
  open: number;
  errors: Record<string, number>;
}

// orchestrator -> client
export interface ClientGo {
  kind: 'go';
  host: string;
  port: number;
  concurrency: number;
  durationMs: number;
  /** Bound on connections this client opens (attempts). */
  maxConnections: number;
  /** After the window, how long in-flight connections may take to finish. */
  drainTimeoutMs: number;
}

// client -> orchestrator
export interface ClientReady {
  kind: 'ready';
}
export interface ClientReport {
  kind: 'client-report';
  /** connect() calls made: one client-side TCP session each. */
  attempts: number;
  /** Connections that sent PING, got the full PONG and closed cleanly. */
  completed: number;
  /** Completions inside the measured window (the rate's numerator). */
  completedInWindow: number;
  /** Length of the measured window in ms (go to deadline, or to max connections). */
  windowMs: number;
  /** Connections whose connect took at least SLOW_CONNECT_MS (a dropped SYN costs 1 s). */
  slowConnects: number;
  maxConnectMs: number;
  /** Connections still in flight when the drain timeout passed (should be 0). */
  abandoned: number;
  errors: Record<string, number>;
}

export const SLOW_CONNECT_MS = 200;

// orchestrator <-> the OTLP receiver of the export runs (export-receiver.ts)
export interface ReceiverListen {
  kind: 'listen';
  host: string;
}
export interface ReceiverListening {
  kind: 'listening';
  port: number;
}
/** From now on, answer every trace request UNAVAILABLE for `ms` (a collector outage), keeping nothing. */
export interface ReceiverOutage {
  kind: 'outage';
  ms: number;
}
/** What has arrived so far; cheap (nothing is decoded). */
export interface ReceiverStatRequest {
  kind: 'stat';
}
export interface ReceiverStat {
  kind: 'stat';
  /** Requests answered OK and kept. */
  requests: number;
  bytes: number;
  /** Requests answered UNAVAILABLE during an outage (not kept). */
  refused: number;
}
/** Decode everything received and classify the spans of one storm. */
export interface ReceiverCountRequest {
  kind: 'count';
  host: string;
  /** The storm's server port. */
  port: number;
  serverPid: number;
  clientPids: number[];
  /** Spans of requests [fromRequest, toRequest) are counted in `spansInInterval`. */
  fromRequest: number;
  toRequest: number;
}
export interface ReceiverCounted extends StormSessionStats {
  kind: 'counted';
  requests: number;
  bytes: number;
  decodeErrors: number;
  spansTotal: number;
  spansInInterval: number;
}

/** How a run's storm sessions came out, from JSON lines or from spans: the server end (local port) and the client ends (peer port). */
export interface StormSessionStats {
  server: number;
  client: number;
  ownerRight: number;
  ownerUnknown: number;
  ownerWrong: number;
  partial: number;
  bytesWrong: number;
  roleOutcomeWrong: number;
  outcomes: Record<string, number>;
}
