/**
 * Which namespaces the agent runs in, and what that means for its scope:
 * in a pod (its own network namespace) the agent traces that namespace
 * only, unless told to trace the host.
 */
import { statSync } from 'node:fs';

/** Inode the kernel gives the initial PID namespace (PROC_PID_INIT_INO, fixed since Linux 3.8). */
export const INIT_PID_NS_INO = 0xeffffffc;
/** Inode of the initial network namespace (PROC_NET_INIT_INO) on kernels that fix it; older ones allocate it. */
export const INIT_NET_NS_INO = 0xeffffff9;

/** A namespace file's identity: nsfs device and inode, as stat(2) gives them. */
export interface NamespaceId {
  dev: number;
  ino: number;
}

export type Stat = (path: string) => NamespaceId;

export const statNamespace: Stat = (path) => {
  const st = statSync(path);
  return { dev: Number(st.dev), ino: Number(st.ino) };
};

/**
 * The agent's PID namespace when it is not the initial one (in a
 * container): the kernel program then records owners' PIDs as this
 * namespace sees them. Undefined on the host, or when it cannot be read.
 */
export function ownPidNamespace(stat: Stat = statNamespace): NamespaceId | undefined {
  try {
    const ns = stat('/proc/self/ns/pid');
    return ns.ino === INIT_PID_NS_INO ? undefined : ns;
  } catch {
    return undefined;
  }
}

export type ScopeSetting = 'auto' | 'pod' | 'host';

export interface ScopeDecision {
  scope: 'pod' | 'host';
  /** Why, for the start-up log line. */
  reason: string;
}

/**
 * auto: 'pod' when the agent's network namespace is not the host's, as in a
 * pod or a container with its own network; 'host' otherwise. The host's
 * network namespace is recognised by its fixed inode, or, on kernels
 * without one, by being PID 1's (readable only when the agent shares the
 * host's PID namespace). When neither tells, an agent in its own PID
 * namespace is taken to be in a pod, and one in the host's PID namespace on
 * the host.
 */
export function decideScope(setting: ScopeSetting, stat: Stat = statNamespace): ScopeDecision {
  if (setting !== 'auto') return { scope: setting, reason: `scope: ${setting}` };
  let own: NamespaceId;
  try {
    own = stat('/proc/self/ns/net');
  } catch (err) {
    return { scope: 'host', reason: `scope auto: host (own network namespace unreadable: ${(err as NodeJS.ErrnoException).code})` };
  }
  if (own.ino === INIT_NET_NS_INO) return { scope: 'host', reason: "scope auto: host (the agent runs in the host's network namespace)" };
  const pidNs = ownPidNamespace(stat);
  if (pidNs === undefined) {
    try {
      const init = stat('/proc/1/ns/net');
      if (init.ino === own.ino && init.dev === own.dev) {
        return { scope: 'host', reason: "scope auto: host (the agent runs in the host's network namespace)" };
      }
      return { scope: 'pod', reason: `scope auto: pod (network namespace ${own.ino} is not the host's)` };
    } catch {
      return { scope: 'host', reason: "scope auto: host (the agent shares the host's PID namespace)" };
    }
  }
  return { scope: 'pod', reason: `scope auto: pod (the agent runs in its own namespaces: network ${own.ino})` };
}
