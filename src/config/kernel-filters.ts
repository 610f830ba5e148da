/**
 * Filter settings -> what the kernel program needs: numbers and prefixes,
 * never text. Names that stand for kernel objects (network namespace paths,
 * cgroup paths) are resolved here to their inode numbers, through `stat`, so
 * that a path that does not exist is a configuration error before anything
 * is loaded (or, at SIGHUP, before anything changes).
 */
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { KernelFilters } from '../kernel/probe-types';
import { ConfigError } from './load';
import type { Loaded } from './load';
import type { FilterSettings } from './settings';

export interface FilterIo {
  /** Inode of a file, following links; throws like fs.statSync. */
  inode(file: string): number;
  /** The agent's own process id (excluded with exclude_self). */
  pid: number;
  /** Where cgroup v2 is mounted; undefined when it is not. */
  cgroupRoot(): string | undefined;
}

/**
 * The cgroup2 mount point from /proc/self/mountinfo: /sys/fs/cgroup on a
 * unified host, /sys/fs/cgroup/unified on a hybrid one (where an inode under
 * /sys/fs/cgroup would be a v1 directory, never a v2 cgroup id).
 */
export function cgroup2Mount(mountinfo: string): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (right?.split(' ')[0] === 'cgroup2') {
      // Octal escapes (\040 for a space) as the kernel writes them.
      return left.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    }
  }
  return undefined;
}

export const HOST_IO: FilterIo = {
  inode: (file) => Number(statSync(file).ino),
  pid: process.pid,
  cgroupRoot: () => {
    try {
      return cgroup2Mount(readFileSync('/proc/self/mountinfo', 'utf8'));
    } catch {
      return undefined;
    }
  },
};

function why(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/**
 * The filter settings with the scope applied: in scope 'pod', a network
 * namespace filter left at its default becomes the agent's own namespace.
 * One given explicitly wins over scope auto, and contradicts scope pod.
 */
export function scopedFilters(loaded: Loaded, scope: 'pod' | 'host'): FilterSettings {
  const f = loaded.settings.filters;
  if (scope === 'host') return f;
  if (loaded.origins.get('filters.netns')?.kind === 'default') return { ...f, netns: 'own' };
  if (loaded.settings.scope === 'pod' && f.netns !== 'own') {
    throw new ConfigError([
      "scope: pod traces only the agent's own network namespace, and filters.netns names others: set scope to host to choose namespaces with filters.netns",
    ]);
  }
  return f;
}

export function kernelFiltersFrom(f: FilterSettings, io: FilterIo = HOST_IO): KernelFilters {
  const problems: string[] = [];

  let netns: number[] = [];
  if (f.netns === 'own') {
    try {
      netns = [io.inode('/proc/self/ns/net')];
    } catch (err) {
      problems.push(`filters.netns: cannot read the agent's own network namespace (/proc/self/ns/net): ${why(err)}`);
    }
  } else if (f.netns !== 'all') {
    for (const item of f.netns) {
      if (typeof item === 'number') netns.push(item);
      else {
        try {
          netns.push(io.inode(item));
        } catch (err) {
          problems.push(
            `filters.netns: ${JSON.stringify(item)} cannot be read: ${why(err)} (expected a network namespace file such as /proc/PID/ns/net or /run/netns/NAME)`,
          );
        }
      }
    }
  }

  const cgroupIds: number[] = [];
  const root = f.cgroups.length ? io.cgroupRoot() : undefined;
  if (f.cgroups.length && !root) problems.push('filters.cgroups: cgroup v2 is not mounted here (no cgroup2 line in /proc/self/mountinfo)');
  for (const p of root ? f.cgroups : []) {
    const dir = path.join(root!, p);
    try {
      cgroupIds.push(io.inode(dir));
    } catch (err) {
      problems.push(`filters.cgroups: ${JSON.stringify(p)} is not a cgroup: ${dir} cannot be read: ${why(err)}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);

  return {
    pids: f.pids,
    excludePids: f.exclude_self ? [io.pid] : [],
    localPorts: f.local_ports,
    remotePorts: f.remote_ports,
    family: f.family === 'ipv4' ? 4 : f.family === 'ipv6' ? 6 : 0,
    localCidrs: f.local_cidrs,
    remoteCidrs: f.remote_cidrs,
    netns: [...new Set(netns)],
    cgroupIds: [...new Set(cgroupIds)],
  };
}
