/** The typed settings the loader produces (see schema.ts for each one's meaning). */
import type { AttachMode } from '../kernel/probe-types';
import type { Outcome, Role } from '../sessions/tcp-session';
import type { ServiceRule } from '../sessions/service-rules';
import type { Cidr, NetnsSpec } from './formats';

export interface FilterSettings {
  pids: number[];
  exclude_self: boolean;
  comms: string[];
  local_ports: number[];
  remote_ports: number[];
  family: 'any' | 'ipv4' | 'ipv6';
  local_cidrs: Cidr[];
  remote_cidrs: Cidr[];
  roles: Array<Exclude<Role, 'unknown'>>;
  outcomes: Outcome[];
  min_duration_ms: number;
  min_bytes: number;
  netns: NetnsSpec;
  cgroups: string[];
}

export interface Settings {
  config: string;
  scope: 'auto' | 'pod' | 'host';
  /** Downward API values; '' when unset. */
  k8s: { pod_name: string; namespace_name: string; pod_uid: string; node_name: string };
  attach: AttachMode;
  verbose: boolean;
  output: { format: 'table' | 'csv' | 'json'; wide: boolean; time: boolean; timestamp: boolean };
  filters: FilterSettings;
  services: ServiceRule[];
  stats_interval_s: number;
  shutdown_timeout_ms: number;
  export_pipeline: 'direct' | 'sdk';
  /** The OTEL_* settings as text; read them through Loaded.otelEnv. */
  otel: Record<string, unknown>;
}
