/**
 * cgroup v2 directories for tests: created under the cgroup2 mount (found in
 * /proc/self/mountinfo: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified
 * on a hybrid one such as this project's machines), named tlo-<pid>-<n>, and
 * removed again with every process still in them. A cgroup's id is the inode
 * number of its directory (what the kernel calls kn->id).
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { processAlive } from './process-alive';

export interface TestCgroup {
  /** Absolute path of the directory. */
  path: string;
  /** cgroup v2 id: the directory's inode number. */
  id: number;
  /** Creates a child cgroup (removed with this one). */
  child(name: string): TestCgroup;
  /** Moves a process (all its threads) into this cgroup. */
  adopt(pid: number): void;
  /** Kills what is left inside, removes children then this directory. Safe to call twice. */
  destroy(): void;
}

const live = new Set<TestCgroup>();
let sequence = 0;
let exitHookInstalled = false;

/** Where cgroup2 is mounted; throws (failing the test) if it is not. */
export function cgroup2Mount(): string {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    const [left, right] = line.split(' - ');
    if (right?.split(' ')[0] !== 'cgroup2') continue;
    return left.split(' ')[4];
  }
  throw new Error('cgroup v2 is not mounted (no cgroup2 line in /proc/self/mountinfo)');
}

/** The cgroup v2 path of a process, as an absolute directory path. */
export function cgroupDirOf(pid: number | 'self'): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  if (!line) throw new Error(`process ${pid} has no cgroup v2 membership`);
  return path.join(cgroup2Mount(), line.slice(3));
}

function procsOf(dir: string): number[] {
  return readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}

/** Kills every process in `dir` and below, waits until none is left, removes the directories. */
function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTree(path.join(dir, entry.name));
  }
  const deadline = Date.now() + 5_000;
  for (;;) {
    const procs = procsOf(dir);
    if (procs.length === 0) break;
    for (const pid of procs) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (Date.now() > deadline) throw new Error(`processes ${procs.join(', ')} still in ${dir}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  rmdirSync(dir);
}

/** Removes tlo- cgroups left behind by test processes that no longer run. */
export function removeStaleCgroups(): void {
  const root = cgroup2Mount();
  for (const name of readdirSync(root)) {
    const m = /^tlo-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || processAlive(owner)) continue;
    try {
      removeTree(path.join(root, name));
    } catch {
      /* someone else is removing it */
    }
  }
}

function wrap(dir: string, onDestroy?: () => void): TestCgroup {
  accessSync(path.join(dir, 'cgroup.procs'), constants.W_OK); // fails early if not writable
  let destroyed = false;
  const cg: TestCgroup = {
    path: dir,
    id: statSync(dir).ino,
    child(name: string) {
      const sub = path.join(dir, name);
      mkdirSync(sub);
      return wrap(sub);
    },
    adopt(pid: number) {
      writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      onDestroy?.();
      removeTree(dir);
    },
  };
  return cg;
}

/** Creates tlo-<pid>-<n> at the top of the cgroup v2 hierarchy. */
export function createCgroup(): TestCgroup {
  removeStaleCgroups();
  const dir = path.join(cgroup2Mount(), `tlo-${process.pid}-${sequence++}`);
  mkdirSync(dir);
  let cg: TestCgroup;
  try {
    cg = wrap(dir, () => live.delete(cg));
  } catch (err) {
    rmdirSync(dir);
    throw err;
  }
  live.add(cg);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort if a run dies without its after() hooks.
    process.on('exit', () => {
      for (const c of [...live]) {
        try {
          c.destroy();
        } catch {
          /* best effort at exit */
        }
      }
    });
  }
  return cg;
}

/**
 * Runs `spawn` with this process inside `cg`, then moves it back: a child
 * forked meanwhile starts inside `cg`, so even the sockets it creates first
 * (a listener) belong to `cg`.
 */
export function spawnInCgroup<T>(cg: TestCgroup, spawn: () => T): T {
  const home = cgroupDirOf('self');
  cg.adopt(process.pid);
  try {
    return spawn();
  } finally {
    writeFileSync(path.join(home, 'cgroup.procs'), String(process.pid));
  }
}
