/**
 * Container ids from cgroup paths: the agent's own (a resource attribute,
 * see telemetry/resource.ts) and each session owner's (a span attribute).
 * A session carries its owner's cgroup v2 id from the kernel; the id is
 * turned into a container id once per cgroup, by reading the owner's
 * /proc/PID/cgroup while the process is still there. In a pod, that needs
 * the pod's shared PID namespace: the owner's PID is then one the agent can
 * see (TcpSession.pid).
 */
import { readFileSync } from 'node:fs';
import type { TcpSession } from '../sessions/tcp-session';

const HEX64 = '[0-9a-f]{64}';
/**
 * The last segment of a cgroup path naming a container: the bare id
 * (/docker/<id>, /kubepods/<qos>/pod<uid>/<id>), a systemd scope
 * (docker-, cri-containerd-, crio-, libpod-<id>.scope) or containerd's
 * `<slice>:cri-containerd:<id>` form.
 */
const CGROUP_SEGMENT = new RegExp(`(?:^|[-:])(${HEX64})(?:\\.scope)?$`);
/** A mount source naming a container's own directory (its /etc/hostname). */
const MOUNT_CONTAINER = new RegExp(`(?:^|/)(?:containers|overlay-containers)/(${HEX64})/(?:userdata/)?hostname$`);
/** containerd's pod sandbox directory (Kubernetes); less specific, so tried last. */
const MOUNT_SANDBOX = new RegExp(`(?:^|/)sandboxes/(${HEX64})/hostname$`);

/**
 * The 64-hex container id, from /proc/self/cgroup first (cgroup v1, or v2
 * without a cgroup namespace), else from /proc/self/mountinfo (cgroup v2,
 * where /proc/self/cgroup reads "0::/"). Undefined on a plain host.
 */
export function containerIdFromCgroup(procSelfCgroup: string, procSelfMountinfo: string): string | undefined {
  for (const line of procSelfCgroup.split('\n')) {
    // hierarchy-id:controllers:path; the path is everything after the second ':'.
    const first = line.indexOf(':');
    const second = first < 0 ? -1 : line.indexOf(':', first + 1);
    if (second < 0) continue;
    const id = containerOfPath(line.slice(second + 1).trim());
    if (id) return id;
  }
  const fields = procSelfMountinfo.split('\n').flatMap((line) => line.trim().split(/\s+/));
  for (const pattern of [MOUNT_CONTAINER, MOUNT_SANDBOX]) {
    for (const field of fields) {
      const m = pattern.exec(field);
      if (m) return m[1];
    }
  }
  return undefined;
}

/** The container a cgroup path's last segment names, if any. */
function containerOfPath(path: string): string | undefined {
  return CGROUP_SEGMENT.exec(path.slice(path.lastIndexOf('/') + 1))?.[1];
}

/**
 * The path of the cgroup v2 line ("0::PATH") of /proc/PID/cgroup: the
 * hierarchy whose ids the kernel program records. On a host without it
 * (cgroup v1 only) every process has the same v2 id, so none is told.
 * Paths outside the reader's cgroup namespace start with /.. and still end
 * in the container's segment.
 */
export function cgroupV2Path(procPidCgroup: string): string | undefined {
  const line = procPidCgroup.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? undefined : line.slice(3).trim();
}

/** The text of a file, or undefined when it cannot be read (a process gone). */
export type ReadFile = (path: string) => string | undefined;

export function readProcFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** cgroups remembered; beyond this the oldest are forgotten (and looked up again if seen). */
const MAX_CGROUPS = 4096;

/** What the owner's cgroup tells: its v2 path, and the container it names. */
interface CgroupInfo {
  path: string;
  containerId: string | undefined;
}

/**
 * Sets TcpSession.cgroupPath and containerId from the owner's cgroup. Each
 * cgroup id (unique for the boot, never reused) is resolved once. An owner
 * already gone leaves the cgroup unresolved until a later session of it
 * finds a live process.
 */
export class OwnerCgroups {
  private readonly byCgroup = new Map<number, CgroupInfo | null>();
  private unresolved = 0;

  constructor(private readonly read: ReadFile = readProcFile) {}

  annotate(sessions: readonly TcpSession[]): void {
    for (const s of sessions) {
      if (s.cgroupId === 0) continue; // owner unknown
      let info = this.byCgroup.get(s.cgroupId);
      if (info === undefined) {
        info = this.lookup(s);
        if (info === undefined) {
          this.unresolved++;
          continue;
        }
        if (this.byCgroup.size >= MAX_CGROUPS) this.byCgroup.delete(this.byCgroup.keys().next().value!);
        this.byCgroup.set(s.cgroupId, info);
      }
      if (info === null) continue;
      s.cgroupPath = info.path;
      if (info.containerId !== undefined) s.containerId = info.containerId;
    }
  }

  /** Sessions whose owner's cgroup could not be read (owner gone, or outside the agent's PID namespace). */
  counters(): { container_lookups_failed: number } {
    return { container_lookups_failed: this.unresolved };
  }

  /** The cgroup's path and container, null without a v2 line, undefined for "cannot tell now". */
  private lookup(s: TcpSession): CgroupInfo | null | undefined {
    if (s.pid === 0) return undefined; // outside the agent's PID namespace: no /proc entry to read
    // The pid may have been reused since the session's owner exited: the
    // command name must still match.
    const comm = this.read(`/proc/${s.pid}/comm`);
    if (comm === undefined || comm.replace(/\n$/, '') !== s.comm) return undefined;
    const cgroup = this.read(`/proc/${s.pid}/cgroup`);
    if (cgroup === undefined) return undefined;
    const path = cgroupV2Path(cgroup);
    return path === undefined ? null : { path, containerId: containerOfPath(path) };
  }
}
