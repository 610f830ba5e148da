/**
 * Service attribution: which service a session belongs to, so that its span
 * appears in Jaeger or Tempo under that service, beside the service's own
 * traces. Rules come from the settings (`services`); the first rule whose
 * criteria all hold names the service (AND across kinds, OR within a list):
 * process name globs, local ports (a server's listening port), cgroup v2
 * paths (the owner's cgroup, or one below it). Pure.
 */
import { globToRegExp } from './glob';
import type { TcpSession } from './tcp-session';

/** One service attribution rule (settings key `services`): AND across kinds, OR within a list. */
export interface ServiceRule {
  name: string;
  comms: string[];
  local_ports: number[];
  cgroups: string[];
}

/** The service of a session, or undefined for the agent's own service.name. */
export type ServiceOf = (s: TcpSession) => string | undefined;

function under(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

/** Undefined when there are no rules: every session keeps the resource's service.name. */
export function compileServiceRules(rules: readonly ServiceRule[]): ServiceOf | undefined {
  if (rules.length === 0) return undefined;
  const compiled = rules.map((r) => {
    const comms = r.comms.map(globToRegExp);
    const ports = new Set(r.local_ports);
    return (s: TcpSession): boolean =>
      (comms.length === 0 || (s.comm !== '' && comms.some((re) => re.test(s.comm)))) &&
      (ports.size === 0 || ports.has(s.localPort)) &&
      (r.cgroups.length === 0 || (s.cgroupPath !== undefined && r.cgroups.some((c) => under(s.cgroupPath!, c))));
  });
  return (s) => {
    for (let i = 0; i < compiled.length; i++) if (compiled[i](s)) return rules[i].name;
    return undefined;
  };
}
