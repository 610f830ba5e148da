/**
 * One storm run: a loopback server process and N client processes make
 * connections as fast as they can for a bounded window, optionally while the
 * real command-line agent traces the machine, in one of two modes:
 *
 * - JSON lines (`node dist/src/cli.js -j`): the lines go to a file on tmpfs
 *   (no consumer competes for CPU during the storm, and no slow pipe reader
 *   can stall the agent); the file is read after the agent stopped, and each
 *   line whose lport or rport is the storm's server port counts as a
 *   delivered storm session.
 * - Export (OTEL_TRACES_EXPORTER=otlp, the agent (direct) or sdk-agent.js
 *   sdk): spans go over OTLP/gRPC to a receiver in its own process
 *   (export-receiver.ts) that keeps the raw requests; they are decoded after
 *   the agent stopped, and each span whose local or peer port is the storm's
 *   server port counts as a delivered storm session.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import {
  bpftoolProgs,
  hostProbeMs,
  machineCpu,
  processCpuUs,
  progIdsOf,
  statusKb,
  tcpExt,
  timeWaitCount,
  CLK_TCK,
  type MachineCpu,
  type ProgStat,
} from './procfs';
import type {
  ClientGo,
  ClientReport,
  ReceiverCounted,
  ReceiverCountRequest,
  ReceiverListen,
  ReceiverListening,
  ReceiverOutage,
  ReceiverStat,
  ReceiverStatRequest,
  ServerListening,
  ServerReport,
  ServerStart,
  StormSessionStats,
} from './storm-protocol';

/** Programs of the agent whose cost we report. */
export const AGENT_PROGRAMS = ['set_state_btf', 'set_state_nested', 'owner_on_send', 'owner_on_recv'] as const;
export const STATE_CHANGE_PROGRAM = 'set_state_btf';
/** Other names of the same hooks (a classic-tracepoint agent), to spot foreign tracers. */
const HOOK_PROGRAM_NAMES = new Set<string>([...AGENT_PROGRAMS, 'set_state_tp']);

const HOST = '127.0.0.1';
const cpus = os.cpus().length;
const CLI = path.resolve(__dirname, '../../src/cli.js');
/** The same command line exporting through the stock OpenTelemetry SDK (the comparison path). */
const SDK_AGENT = path.resolve(__dirname, 'sdk-agent.js');
const SERVER_MAIN = path.join(__dirname, 'storm-server.js');
const CLIENT_MAIN = path.join(__dirname, 'storm-client.js');
const RECEIVER_MAIN = path.join(__dirname, 'export-receiver.js');

/** How the agent under test delivers sessions (see the module comment). */
export type AgentMode =
  | { kind: 'json' }
  | {
      kind: 'export';
      pipeline: 'direct' | 'sdk';
      /** Added to the agent's environment (OTEL_BSP_* ...); the endpoint is set here. */
      env: Record<string, string>;
      /** The receiver answers UNAVAILABLE for this long from just before the storm (a collector outage). */
      outageMs?: number;
    };

export interface StormConfig {
  seconds: number;
  clients: number;
  concurrency: number;
  /** Bound on connections per run, all clients together. */
  maxConnections: number;
  port: number;
  backlog: number;
  drainTimeoutMs: number;
  outDir: string;
  /** Start a run only once the machine was below this busy % for a second ... */
  quietBusyPct: number;
  /** ... or this long has passed. */
  quietMaxWaitMs: number;
}

export interface ProgramFigures {
  name: string;
  id: number;
  tag: string;
  runs: number;
  runTimeNs: number;
  recursionMisses: number;
}

export interface AgentFigures {
  pid: number;
  /** The agent's own "attached in N ms". */
  attachReportedMs: number;
  /** Wall time from spawn() until that line was read. */
  spawnToAttachedMs: number;
  /** utime+stime from just before the storm to after its sessions were written. */
  cpuUs: number;
  /** Agent CPU over the same interval, in % of one core. */
  cpuPctOfCore: number;
  cpuIntervalMs: number;
  vmHwmKb: number;
  /** All JSON lines the agent wrote during its life. */
  linesTotal: number;
  /** Lines written between the two CPU snapshots (the CPU's denominator). */
  linesInCpuInterval: number;
  stormServerSessions: number;
  stormClientSessions: number;
  /** Storm sessions whose owner pid is the process that owned the socket. */
  ownerRight: number;
  ownerUnknown: number;
  ownerWrong: number;
  partial: number;
  /** Storm sessions whose tx/rx bytes are not exactly PING/PONG. */
  bytesWrong: number;
  /** Storm sessions not reported as server/closed_locally or client/closed_by_peer. */
  roleOutcomeWrong: number;
  outcomes: Record<string, number>;
  /** Parsed from the "stopped (SIGINT): k=v ..." line. */
  counters: Record<string, number>;
  /** Export runs: the receiver's figures (the lines* and storm* fields above then count spans). */
  receiver?: ReceiverFigures;
  exit: string;
  programs: ProgramFigures[];
  /** Runs on the same hooks by programs that are not this agent's (another tracer). */
  foreignRuns: number;
  foreignPrograms: number;
}

export interface ReceiverFigures {
  requests: number;
  bytes: number;
  decodeErrors: number;
  /** The receiver process's CPU over the agent's CPU interval. */
  cpuUs: number;
  /** From the end of the storm window until the receiver's input went quiet. */
  settleMs: number;
  /** Outage runs: requests refused during the outage, and from its end until the receiver's input went quiet. */
  refused: number;
  recoveredMs?: number;
}

export interface RunResult {
  label: string;
  withAgent: boolean;
  /** How the agent delivered sessions (withAgent runs). */
  mode?: AgentMode;
  port: number;
  windowMs: number;
  completedInWindow: number;
  rate: number;
  attempts: number;
  completed: number;
  accepted: number;
  answered: number;
  abandoned: number;
  slowConnects: number;
  maxConnectMs: number;
  clientErrors: Record<string, number>;
  serverErrors: Record<string, number>;
  /** Machine busy % (all CPUs) over the window, and the share used by storm processes. */
  machineBusyPct: number;
  stormCpuPctOfMachine: number;
  /** The server process alone, in % of one core (100: the storm is server-bound). */
  serverCpuPctOfCore: number;
  /** The agent's CPU over the window (0 in a baseline run). */
  agentCpuPctOfMachine: number;
  /** Busy time outside the storm and agent processes: kernel threads, other users' work. */
  otherCpuPctOfMachine: number;
  /** Busy CPU time of the machine, of the storm processes and of the agent from go until every client reported. */
  busyUs: number;
  stormCpuUs: number;
  /** Host speed probe (hostProbeMs) right before the agent/storm start and right after the window. */
  probeMs: [number, number];
  agentWindowCpuUs: number;
  /** How long the run waited for the machine to be quiet, and how busy it was then. */
  quietWaitMs: number;
  busyBeforePct: number;
  timeWaitAtStart: number;
  tcpExtDelta: Record<string, number>;
  /** Foreign runs on the agent's hooks in a baseline run (another tracer was attached). */
  foreignRuns: number;
  agent?: AgentFigures;
}

/** Every process a run starts, so that any exit path can kill them. */
export const children = new Set<ChildProcess>();

export function killAllChildren(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  children.clear();
}

function track<T extends ChildProcess>(c: T): T {
  children.add(c);
  c.on('exit', () => children.delete(c));
  return c;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function exited(c: ChildProcess): Promise<string> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve(String(c.exitCode ?? c.signalCode));
  return new Promise((resolve) => c.once('exit', (code, sig) => resolve(String(code ?? sig))));
}

/** The first IPC message of `kind` from `c`; rejects on exit or timeout. */
function message<T extends { kind: string }>(c: ChildProcess, kind: T['kind'], timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${what}: no "${kind}" within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: { kind: string }) => {
      if (m && m.kind === kind) finish(undefined, m as T);
    };
    const onExit = (code: number | null, sig: string | null) => finish(new Error(`${what} exited (${code ?? sig}) before "${kind}"`));
    const finish = (err?: Error, value?: T) => {
      clearTimeout(timer);
      c.removeListener('message', onMessage);
      c.removeListener('exit', onExit);
      if (err) reject(err);
      else resolve(value as T);
    };
    c.on('message', onMessage);
    c.once('exit', onExit);
  });
}

function forkRole(main: string): ChildProcess {
  return track(fork(main, [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
}

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function cpuSum(pids: number[]): number {
  let us = 0;
  for (const pid of pids) us += processCpuUs(pid);
  return us;
}

/** A started agent: pid, attach figures, and where its lines and stderr go. */
interface RunningAgent {
  child: ChildProcess;
  pid: number;
  /** JSON mode: its stdout (in export mode stdout is discarded and this file is never written). */
  outPath: string;
  stderr: () => string;
  attachReportedMs: number;
  spawnToAttachedMs: number;
}

async function startAgent(outDir: string, label: string, mode: AgentMode, receiverPort?: number): Promise<RunningAgent> {
  const outPath = path.join(outDir, `agent-${label.replace(/[^\w.-]+/g, '_')}.jsonl`);
  const fd = openSync(outPath, 'w');
  const t0 = performance.now();
  let child: ChildProcess;
  try {
    if (mode.kind === 'json') {
      child = track(spawn(process.execPath, [CLI, '-j'], { stdio: ['ignore', fd, 'pipe'] }));
    } else {
      const env = {
        ...process.env,
        ...mode.env,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://${HOST}:${receiverPort}`,
      };
      child = track(spawn(process.execPath, [mode.pipeline === 'sdk' ? SDK_AGENT : CLI], { stdio: ['ignore', 'ignore', 'pipe'], env }));
    }
  } finally {
    closeSync(fd);
  }
  let err = '';
  const attached = new Promise<{ reported: number; wall: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent not attached within 10 s; stderr: ${err}`)), 10_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      err += chunk;
      const m = /attached in (\d+(?:\.\d+)?) ms/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ reported: Number(m[1]), wall: performance.now() - t0 });
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`agent exited (${code ?? sig}) before attaching; stderr: ${err}`));
    });
  });
  const a = await attached;
  return {
    child,
    pid: child.pid!,
    outPath,
    stderr: () => err,
    attachReportedMs: a.reported,
    spawnToAttachedMs: a.wall,
  };
}

/** Waits until the agent's output stops growing (its 50 ms drain timer has had its turns). */
async function outputSettled(file: string, maxMs: number): Promise<number> {
  const deadline = performance.now() + maxMs;
  let last = -1;
  let stable = 0;
  while (performance.now() < deadline) {
    const size = statSync(file).size;
    stable = size === last ? stable + 1 : 0;
    last = size;
    if (stable >= 4) break; // 400 ms without a byte
    await sleep(100);
  }
  return last;
}

/** Forks the export runs' OTLP receiver; resolves once it listens. */
async function startReceiver(): Promise<{ child: ChildProcess; port: number }> {
  const child = forkRole(RECEIVER_MAIN);
  const listening = message<ReceiverListening>(child, 'listening', 10_000, 'export receiver');
  const listen: ReceiverListen = { kind: 'listen', host: HOST };
  child.send(listen);
  return { child, port: (await listening).port };
}

/** Decoding a storm's spans takes seconds; the agent has stopped by then. */
async function receiverCount(receiver: ChildProcess, req: ReceiverCountRequest): Promise<ReceiverCounted> {
  const reply = message<ReceiverCounted>(receiver, 'counted', 180_000, 'export receiver');
  receiver.send(req);
  return reply;
}

async function receiverStat(receiver: ChildProcess): Promise<ReceiverStat> {
  const reply = message<ReceiverStat>(receiver, 'stat', 10_000, 'export receiver');
  const ask: ReceiverStatRequest = { kind: 'stat' };
  receiver.send(ask);
  return reply;
}

/**
 * Waits until every span of the storm has reached the receiver: for a whole
 * second the agent used under 10% of a core (it is not working through a
 * backlog) and at most 5 requests arrived. Not "none": the agent traces the
 * whole machine, and other users' connections keep a trickle of partial
 * batches going (one per OTEL_BSP_SCHEDULE_DELAY, 200 ms). At most maxMs.
 * Returns the stat then.
 */
async function receiverSettled(receiver: ChildProcess, agentPid: number, maxMs: number): Promise<ReceiverStat> {
  const deadline = performance.now() + maxMs;
  const window: Array<{ requests: number; cpuUs: number }> = [];
  let stat = await receiverStat(receiver);
  while (performance.now() < deadline) {
    await sleep(100);
    stat = await receiverStat(receiver);
    window.push({ requests: stat.requests, cpuUs: processCpuUs(agentPid) });
    if (window.length > 11) window.shift();
    const first = window[0];
    const last = window[window.length - 1];
    if (window.length === 11 && last.requests - first.requests <= 5 && last.cpuUs - first.cpuUs < 100_000) break;
  }
  return stat;
}

/** Counts newline bytes in a file's first `limit` bytes. */
async function countLines(file: string, limit: number): Promise<number> {
  if (limit <= 0) return 0;
  let n = 0;
  for await (const chunk of createReadStream(file, { start: 0, end: limit - 1 })) {
    const buf = chunk as Buffer;
    let i = -1;
    while ((i = buf.indexOf(10, i + 1)) !== -1) n++;
  }
  return n;
}

interface LineStats extends StormSessionStats {
  total: number;
}

async function readAgentLines(file: string, port: number, serverPid: number, clientPids: Set<number>): Promise<LineStats> {
  const s: LineStats = {
    total: 0,
    server: 0,
    client: 0,
    ownerRight: 0,
    ownerUnknown: 0,
    ownerWrong: 0,
    partial: 0,
    bytesWrong: 0,
    roleOutcomeWrong: 0,
    outcomes: {},
  };
  const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line === '') continue;
    s.total++;
    const o = JSON.parse(line) as {
      pid: number;
      laddr: string;
      lport: number;
      raddr: string;
      rport: number;
      tx_bytes: number;
      rx_bytes: number;
      outcome: string;
      role: string;
      partial: boolean;
    };
    const isServer = o.lport === port && o.laddr === HOST;
    const isClient = o.rport === port && o.raddr === HOST;
    if (!isServer && !isClient) continue;
    if (isServer) s.server++;
    else s.client++;
    if (o.pid === 0) s.ownerUnknown++;
    else if (isServer ? o.pid === serverPid : clientPids.has(o.pid)) s.ownerRight++;
    else s.ownerWrong++;
    if (o.partial) s.partial++;
    if (o.tx_bytes !== 8 || o.rx_bytes !== 8) s.bytesWrong++;
    // The server closes first: its end closed locally, the client's by the peer.
    const expected = isServer ? ['server', 'closed_locally'] : ['client', 'closed_by_peer'];
    if (o.role !== expected[0] || o.outcome !== expected[1]) s.roleOutcomeWrong++;
    s.outcomes[o.outcome] = (s.outcomes[o.outcome] ?? 0) + 1;
  }
  return s;
}

function parseCounters(stderr: string): Record<string, number> {
  const m = /stopped \([^)]*\): (.*)$/m.exec(stderr);
  const out: Record<string, number> = {};
  if (!m) return out;
  for (const kv of m[1].trim().split(/\s+/)) {
    const [k, v] = kv.split('=');
    if (k && v !== undefined && v !== '' && !Number.isNaN(Number(v))) out[k] = Number(v);
  }
  return out;
}

function hookProgs(): Map<number, ProgStat> {
  const m = new Map<number, ProgStat>();
  for (const p of bpftoolProgs()) if (HOOK_PROGRAM_NAMES.has(p.name)) m.set(p.id, p);
  return m;
}

/** Runs on hook programs not in `ours`, between two snapshots. */
function foreignDelta(before: Map<number, ProgStat>, after: Map<number, ProgStat>, ours: Set<number>): { runs: number; programs: number } {
  let runs = 0;
  let programs = 0;
  for (const [id, p] of after) {
    if (ours.has(id)) continue;
    const d = p.runCnt - (before.get(id)?.runCnt ?? 0);
    if (d > 0) {
      runs += d;
      programs++;
    }
  }
  return { runs, programs };
}

const TCP_EXT_WATCH = ['TCPTimeWaitOverflow', 'ListenOverflows', 'ListenDrops', 'TCPReqQFullDrop', 'TCPAbortOnData', 'TW', 'TWRecycled'];

/** Machine busy % over one interval of `ms`. */
export async function busyOver(ms: number): Promise<number> {
  const a = machineCpu();
  await sleep(ms);
  const b = machineCpu();
  return (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
}

/**
 * Waits until the machine is quiet (busy below `thresholdPct` for one whole
 * second), at most `maxMs`: other users' test suites on a 2-CPU machine
 * would otherwise decide the storm's rate.
 */
async function waitQuiet(thresholdPct: number, maxMs: number): Promise<{ waitedMs: number; busyPct: number }> {
  const t0 = performance.now();
  let busy = 100;
  while (performance.now() - t0 < maxMs) {
    busy = await busyOver(1000);
    if (busy < thresholdPct) break;
  }
  return { waitedMs: performance.now() - t0, busyPct: busy };
}

export async function runStorm(cfg: StormConfig, label: string, withAgent: boolean, mode: AgentMode = { kind: 'json' }): Promise<RunResult> {
  const quiet = await waitQuiet(cfg.quietBusyPct, cfg.quietMaxWaitMs);
  const probeBeforeMs = hostProbeMs();
  const quietWaitMs = quiet.waitedMs;
  const busyBeforePct = quiet.busyPct;
  let agent: RunningAgent | undefined;
  // Export runs: the receiver, not a storm role (its CPU is neither the storm's nor the agent's).
  let receiver: { child: ChildProcess; port: number } | undefined;
  const roles: ChildProcess[] = [];
  try {
    if (withAgent) {
      if (mode.kind === 'export') receiver = await startReceiver();
      agent = await startAgent(cfg.outDir, label, mode, receiver?.port);
    }

    const server = forkRole(SERVER_MAIN);
    roles.push(server);
    const listening = message<ServerListening>(server, 'listening', 10_000, 'storm server');
    const start: ServerStart = { kind: 'listen', host: HOST, portBase: cfg.port, portTries: 100, backlog: cfg.backlog };
    server.send(start);
    const port = (await listening).port;

    const clients: ChildProcess[] = [];
    const ready: Promise<unknown>[] = [];
    for (let i = 0; i < cfg.clients; i++) {
      const c = forkRole(CLIENT_MAIN);
      roles.push(c);
      clients.push(c);
      ready.push(message(c, 'ready', 10_000, `storm client ${i}`));
    }
    await Promise.all(ready);
    await sleep(300); // let the fresh processes and the agent settle

    const stormPids = roles.map((c) => c.pid!);
    const ours = new Set<number>(agent ? progIdsOf(agent.pid) : []);
    const progsBefore = hookProgs();
    const tcpBefore = tcpExt();
    const timeWaitAtStart = timeWaitCount();
    const requestsBefore = receiver ? (await receiverStat(receiver.child)).requests : 0;
    const receiverCpuBefore = receiver ? processCpuUs(receiver.child.pid!) : 0;
    const agentCpuBefore = agent ? processCpuUs(agent.pid) : 0;
    const agentSizeBefore = agent ? statSync(agent.outPath).size : 0;
    const agentT0 = performance.now();
    const stormCpuBefore = cpuSum(stormPids);
    const serverCpuBefore = processCpuUs(server.pid!);
    const machineBefore: MachineCpu = machineCpu();

    const perClient = Math.floor(cfg.maxConnections / cfg.clients);
    const reports = clients.map((c, i) => message<ClientReport>(c, 'client-report', cfg.seconds * 1000 + cfg.drainTimeoutMs + 10_000, `storm client ${i}`));
    const outageMs = mode.kind === 'export' ? (mode.outageMs ?? 0) : 0;
    if (receiver && outageMs > 0) receiver.child.send({ kind: 'outage', ms: outageMs } satisfies ReceiverOutage);
    const outageEnd = performance.now() + outageMs;
    for (const c of clients) {
      const go: ClientGo = {
        kind: 'go',
        host: HOST,
        port,
        concurrency: cfg.concurrency,
        durationMs: cfg.seconds * 1000,
        maxConnections: perClient,
        drainTimeoutMs: cfg.drainTimeoutMs,
      };
      c.send(go);
    }
    const done = await Promise.all(reports);
    const machineAfter = machineCpu();
    const stormCpuAfter = cpuSum(stormPids);
    const probeAfterMs = hostProbeMs();
    const serverCpuAfter = processCpuUs(server.pid!);
    const agentCpuAtWindowEnd = agent ? processCpuUs(agent.pid) : 0;
    const serverReport = message<ServerReport>(server, 'server-report', 10_000, 'storm server');
    server.send({ kind: 'report' });
    const sr = await serverReport;

    const result: RunResult = {
      label,
      withAgent,
      ...(withAgent ? { mode } : {}),
      port,
      windowMs: Math.max(...done.map((d) => d.windowMs)),
      completedInWindow: 0,
      rate: 0,
      attempts: 0,
      completed: 0,
      accepted: sr.accepted,
      answered: sr.answered,
      abandoned: 0,
      slowConnects: 0,
      maxConnectMs: 0,
      clientErrors: {},
      serverErrors: sr.errors,
      machineBusyPct: 0,
      stormCpuPctOfMachine: 0,
      agentCpuPctOfMachine: 0,
      otherCpuPctOfMachine: 0,
      serverCpuPctOfCore: 0,
      probeMs: [probeBeforeMs, probeAfterMs],
      busyUs: 0,
      stormCpuUs: 0,
      agentWindowCpuUs: 0,
      quietWaitMs,
      busyBeforePct,
      timeWaitAtStart,
      tcpExtDelta: {},
      foreignRuns: 0,
    };
    for (const d of done) {
      result.completedInWindow += d.completedInWindow;
      result.rate += d.completedInWindow / (d.windowMs / 1000); // each client over its own window
      result.attempts += d.attempts;
      result.completed += d.completed;
      result.abandoned += d.abandoned;
      result.slowConnects += d.slowConnects;
      result.maxConnectMs = Math.max(result.maxConnectMs, d.maxConnectMs);
      addInto(result.clientErrors, d.errors);
    }
    const ticks = machineAfter.total - machineBefore.total;
    result.machineBusyPct = (100 * (machineAfter.busy - machineBefore.busy)) / ticks;
    const machineUs = (ticks * 1e6) / CLK_TCK;
    result.busyUs = ((machineAfter.busy - machineBefore.busy) * 1e6) / CLK_TCK;
    result.stormCpuUs = stormCpuAfter - stormCpuBefore;
    result.agentWindowCpuUs = agentCpuAtWindowEnd - agentCpuBefore;
    result.stormCpuPctOfMachine = (100 * (stormCpuAfter - stormCpuBefore)) / machineUs;
    result.serverCpuPctOfCore = (100 * (serverCpuAfter - serverCpuBefore)) / (machineUs / cpus);
    result.agentCpuPctOfMachine = (100 * (agentCpuAtWindowEnd - agentCpuBefore)) / machineUs;
    result.otherCpuPctOfMachine = result.machineBusyPct - result.stormCpuPctOfMachine - result.agentCpuPctOfMachine;

    // Sessions of the storm's last connections are in the ring or in flight
    // to the file (or the receiver): wait for the agent to deliver them, then
    // take its figures.
    let agentFigures: AgentFigures | undefined;
    if (agent) {
      const settleStart = performance.now();
      let size = 0;
      let stat: ReceiverStat | undefined;
      // An outage outlasting the storm: nothing arrives until it ends, so quiet means nothing before that.
      if (receiver && outageMs > 0) await sleep(Math.max(0, outageEnd - performance.now()));
      const recoveryStart = performance.now();
      if (receiver && outageMs > 0) {
        // The agent's retries back off (up to 5 s): the first request taken after the outage starts the quiet count.
        const deadline = performance.now() + 30_000;
        while ((await receiverStat(receiver.child)).requests <= requestsBefore && performance.now() < deadline) await sleep(50);
      }
      if (receiver) stat = await receiverSettled(receiver.child, agent.pid, 60_000);
      else size = await outputSettled(agent.outPath, 15_000);
      const recoveredMs = performance.now() - recoveryStart;
      const settleMs = performance.now() - settleStart;
      const cpuAfter = processCpuUs(agent.pid);
      const receiverCpuAfter = receiver ? processCpuUs(receiver.child.pid!) : 0;
      const intervalMs = performance.now() - agentT0;
      const vmHwmKb = statusKb(agent.pid, 'VmHWM');
      const progsAfter = hookProgs();
      const programs: ProgramFigures[] = [];
      for (const id of ours) {
        const a = progsAfter.get(id);
        if (!a) continue;
        const b = progsBefore.get(id);
        programs.push({
          name: a.name,
          id,
          tag: a.tag,
          runs: a.runCnt - (b?.runCnt ?? 0),
          runTimeNs: a.runTimeNs - (b?.runTimeNs ?? 0),
          recursionMisses: a.recursionMisses - (b?.recursionMisses ?? 0),
        });
      }
      const foreign = foreignDelta(progsBefore, progsAfter, ours);
      let linesInCpuInterval = receiver
        ? 0 // counted by the receiver below
        : (await countLines(agent.outPath, size)) - (await countLines(agent.outPath, agentSizeBefore));

      agent.child.kill('SIGINT');
      const exit = await Promise.race([exited(agent.child), sleep(10_000).then(() => 'timeout')]);
      if (exit === 'timeout') agent.child.kill('SIGKILL');
      let lines: LineStats;
      let receiverFigures: ReceiverFigures | undefined;
      if (receiver) {
        // After the agent's exit: spans it flushed at SIGINT count as delivered (not in the CPU interval).
        const counted = await receiverCount(receiver.child, {
          kind: 'count',
          host: HOST,
          port,
          serverPid: server.pid!,
          clientPids: clients.map((c) => c.pid!),
          fromRequest: requestsBefore,
          toRequest: stat!.requests,
        });
        lines = { ...counted, total: counted.spansTotal };
        linesInCpuInterval = counted.spansInInterval;
        receiverFigures = {
          requests: counted.requests,
          bytes: counted.bytes,
          decodeErrors: counted.decodeErrors,
          cpuUs: receiverCpuAfter - receiverCpuBefore,
          settleMs,
          refused: stat!.refused,
          ...(outageMs > 0 ? { recoveredMs } : {}),
        };
      } else {
        lines = await readAgentLines(agent.outPath, port, server.pid!, new Set(clients.map((c) => c.pid!)));
      }
      agentFigures = {
        pid: agent.pid,
        attachReportedMs: agent.attachReportedMs,
        spawnToAttachedMs: agent.spawnToAttachedMs,
        cpuUs: cpuAfter - agentCpuBefore,
        cpuPctOfCore: (100 * (cpuAfter - agentCpuBefore)) / (intervalMs * 1000),
        cpuIntervalMs: intervalMs,
        vmHwmKb,
        linesTotal: lines.total,
        linesInCpuInterval,
        stormServerSessions: lines.server,
        stormClientSessions: lines.client,
        ownerRight: lines.ownerRight,
        ownerUnknown: lines.ownerUnknown,
        ownerWrong: lines.ownerWrong,
        partial: lines.partial,
        bytesWrong: lines.bytesWrong,
        roleOutcomeWrong: lines.roleOutcomeWrong,
        outcomes: lines.outcomes,
        counters: parseCounters(agent.stderr()),
        ...(receiverFigures ? { receiver: receiverFigures } : {}),
        exit,
        programs,
        foreignRuns: foreign.runs,
        foreignPrograms: foreign.programs,
      };
      rmSync(agent.outPath, { force: true });
    } else {
      result.foreignRuns = foreignDelta(progsBefore, hookProgs(), new Set()).runs;
    }
    result.agent = agentFigures;
    const tcpAfter = tcpExt();
    for (const k of TCP_EXT_WATCH) if (k in tcpAfter) result.tcpExtDelta[k] = tcpAfter[k] - (tcpBefore[k] ?? 0);
    return result;
  } finally {
    for (const c of roles) {
      if (c.connected) c.disconnect(); // they exit on disconnect
    }
    await Promise.race([Promise.all(roles.map(exited)), sleep(3000)]);
    for (const c of roles) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (agent) {
      if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
      rmSync(agent.outPath, { force: true });
    }
    if (receiver) {
      if (receiver.child.connected) receiver.child.disconnect(); // it exits on disconnect
      await Promise.race([exited(receiver.child), sleep(3000)]);
      if (receiver.child.exitCode === null && receiver.child.signalCode === null) receiver.child.kill('SIGKILL');
    }
  }
}
