/**
 * What the benchmark reads from the system: /proc (process CPU and memory,
 * machine CPU, TCP socket counts), the bpf_stats sysctl, program ids held by
 * a process (its fdinfo), and per-program run statistics from bpftool.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process, in microseconds (from clock ticks). */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // comm may contain spaces and parentheses: fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1e6) / CLK_TCK;
}

/** A field of /proc/PID/status in kB (VmHWM, VmRSS ...). */
export function statusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Machine-wide CPU time from /proc/stat's first line, in clock ticks. */
export interface MachineCpu {
  busy: number;
  total: number;
}

export function machineCpu(): MachineCpu {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice;
  // guest time is already inside user, so it is not added again.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** TIME_WAIT sockets right now (/proc/net/sockstat "tw"). */
export function timeWaitCount(): number {
  const m = /^TCP:.*\btw (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return m ? Number(m[1]) : -1;
}

/** TcpExt counters from /proc/net/netstat (e.g. TCPTimeWaitOverflow, ListenOverflows). */
export function tcpExt(): Record<string, number> {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < lines.length; i += 2) {
    if (!lines[i].startsWith('TcpExt:')) continue;
    const names = lines[i].split(/\s+/).slice(1);
    const values = lines[i + 1].split(/\s+/).slice(1).map(Number);
    names.forEach((n, j) => (out[n] = values[j]));
  }
  return out;
}

const BPF_STATS = '/proc/sys/kernel/bpf_stats_enabled';

export function readBpfStatsEnabled(): string {
  return readFileSync(BPF_STATS, 'utf8').trim();
}

export function writeBpfStatsEnabled(value: string): void {
  writeFileSync(BPF_STATS, `${value}\n`);
}

/** Ids of the BPF programs a process holds open: its program fds, and the programs of its link fds. */
export function progIdsOf(pid: number): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    if (target !== 'anon_inode:bpf-prog' && target !== 'anon_inode:bpf_link') continue;
    try {
      const m = /^prog_id:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
      if (m) ids.add(Number(m[1]));
    } catch {}
  }
  return [...ids].sort((a, b) => a - b);
}

export interface ProgStat {
  id: number;
  name: string;
  tag: string;
  runTimeNs: number;
  runCnt: number;
  recursionMisses: number;
}

/** Every loaded program, with run statistics (zero unless bpf_stats_enabled). */
export function bpftoolProgs(): ProgStat[] {
  const json = execFileSync('bpftool', ['prog', 'show', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const list = JSON.parse(json) as Array<Record<string, unknown>>;
  return list.map((p) => ({
    id: Number(p.id),
    name: String(p.name ?? ''),
    tag: String(p.tag ?? ''),
    runTimeNs: Number(p.run_time_ns ?? 0),
    runCnt: Number(p.run_cnt ?? 0),
    recursionMisses: Number(p.recursion_misses ?? 0),
  }));
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  kernel: string;
  node: string;
  memGiB: number;
}

export function machineInfo(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo);
  return {
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpuModel: model ? model[1].trim() : 'unknown',
    kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
    node: process.version,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
  };
}

export function sysctl(name: string): string {
  return readFileSync(`/proc/sys/${name.replace(/\./g, '/')}`, 'utf8')
    .trim()
    .replace(/\s+/g, ' ');
}

/** The tree the figures belong to: HEAD and the files changed since (others may be editing). */
export function treeState(repo: string): string {
  try {
    const head = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', '--', 'src', 'bpf', 'native'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() !== '').length;
    return dirty ? `${head} + ${dirty} uncommitted change(s) in src/, bpf/, native/` : head;
  } catch {
    return 'unknown (no git)';
  }
}

const PROBE_BUF = Buffer.alloc(65536, 7);

/**
 * Host speed probe: wall ms for a fixed native workload (SHA-256 of 64 MiB),
 * median of three. On a VM sharing its host the same work takes longer when
 * the host is busy; storm runs are only comparable when this stays put.
 */
export function hostProbeMs(): number {
  const times: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    for (let i = 0; i < 1024; i++) createHash('sha256').update(PROBE_BUF).digest();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[1];
}
