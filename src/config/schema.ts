/**
 * Every setting of tcplife-otel, declared once, as a convict schema: doc,
 * format, default, environment variable and flag. The command line's help,
 * the README's table (checked by a test), --print-config and the loader all
 * read this one object.
 *
 * Formats are registered with convict by name; each has a parser from
 * ./formats that turns a raw value (flag or variable text, or a file's
 * string/number/array) into its typed value. Convict keeps values raw (its
 * own coercions would read "80abc" as 80); the loader parses and reports.
 *
 * The otel.* settings mirror the standard OTEL_* variables one to one and are
 * kept as text: their cross-checks (signal-specific over generic, batch over
 * queue) live in ./otel-env.ts, which reads them as variables.
 */
import convict from 'convict';
import * as f from './formats';
import { OUTCOME_GROUPS, OUTCOMES, type Outcome } from '../sessions/tcp-session';

/** A boolean flag that sets a setting to a fixed value (-4 sets filters.family to ipv4). */
export interface Switch {
  flag: string;
  short?: string;
  value: string;
  doc: string;
}

export interface Setting {
  doc: string;
  /** Name of a format registered below. */
  format: string;
  /** As a file would hold it. */
  default: unknown;
  env?: string;
  /** A flag taking a value: --arg VALUE (a list flag may repeat). */
  arg?: string;
  short?: string;
  metavar?: string;
  /** Flags without a value, each setting a fixed value. */
  switches?: Switch[];
  /** Never printed: --print-config and error messages show '***'. */
  sensitive?: boolean;
  /** Applied at SIGHUP without a restart. */
  reload?: boolean;
}

export type SchemaNode = { [key: string]: Setting | SchemaNode };

export function isSetting(node: Setting | SchemaNode): node is Setting {
  return typeof (node as Setting).format === 'string' && 'default' in node;
}

/** Format name -> parser. */
export const PARSERS = new Map<string, f.Parser<unknown>>();

declare const parsesTo: unique symbol;
/** A registered format's name, carrying (for the compiler only) the type its parser returns. */
export type Format<T> = string & { readonly [parsesTo]: T };

function format<T>(name: string, parse: f.Parser<T>): Format<T> {
  PARSERS.set(name, parse);
  // Convict validates with the parser and never coerces (coerce is the identity).
  convict.addFormat({ name, validate: (v: unknown) => void parse(v), coerce: (v: unknown) => v });
  return name as Format<T>;
}

/**
 * The typed settings a schema node loads to: each setting is what its
 * format's parser returns. Settings (./settings.ts) is this for SCHEMA, so
 * the types cannot drift from the schema.
 */
export type Parsed<N> = N extends { format: Format<infer T> } ? T : N extends Setting ? unknown : { [K in keyof N]: Parsed<N[K]> };

/** Names for groups of outcomes. */
const OUTCOME_NAMES = [...OUTCOMES, ...Object.keys(OUTCOME_GROUPS)];

const SHUTDOWN_TIMEOUT_MAX_MS = 600_000;
const STATS_INTERVAL_MAX_S = 86_400;
const QUEUE_MIB_MAX = 4096;
const CONCURRENCY_MAX = 64;
const INT32_MAX = 2 ** 31 - 1;

const FORMATS = {
  boolean: format('tcplife-boolean', f.boolean()),
  attach: format('tcplife-attach', f.oneOf(['auto', 'tp_btf', 'tracepoint'] as const)),
  outputFormat: format('tcplife-output-format', f.oneOf(['table', 'csv', 'json'] as const)),
  family: format('tcplife-family', f.oneOf(['any', 'ipv4', 'ipv6'] as const)),
  pids: format('tcplife-pids', f.list(f.pid, f.PID_EXPECTED)),
  ports: format('tcplife-ports', f.list(f.portOrRange, f.PORT_EXPECTED)),
  cidrs: format('tcplife-cidrs', f.list(f.cidr, f.CIDR_EXPECTED, 1024)),
  comms: format('tcplife-comms', f.list(f.comm, f.COMM_EXPECTED)),
  roles: format('tcplife-roles', f.list(f.oneOf(['client', 'server'] as const), 'client, server')),
  outcomes: format(
    'tcplife-outcomes',
    f.list((raw) => {
      const name = f.oneOf(OUTCOME_NAMES)(raw);
      return name in OUTCOME_GROUPS ? [...OUTCOME_GROUPS[name as keyof typeof OUTCOME_GROUPS]] : (name as Outcome);
    }, OUTCOME_NAMES.join(', ')),
  ),
  netns: format('tcplife-netns', f.netns),
  cgroups: format('tcplife-cgroups', f.list(f.cgroupPath, 'cgroup v2 paths', 1024)),
  durationMs: format('tcplife-duration-ms', f.integer(0, INT32_MAX, 'milliseconds')),
  bytes: format('tcplife-bytes', f.integer(0, Number.MAX_SAFE_INTEGER, 'a byte count')),
  shutdownMs: format('tcplife-shutdown-ms', f.integer(0, SHUTDOWN_TIMEOUT_MAX_MS, 'milliseconds')),
  queueMib: format('tcplife-queue-mib', f.integer(1, QUEUE_MIB_MAX, 'MiB')),
  concurrency: format('tcplife-concurrency', f.integer(1, CONCURRENCY_MAX, 'export requests')),
  statsS: format('tcplife-stats-s', f.integer(0, STATS_INTERVAL_MAX_S, 'seconds (0: only at exit)')),
  path: format('tcplife-path', f.plainString()),
  services: format('tcplife-services', f.serviceRules),
  scope: format('tcplife-scope', f.oneOf(['auto', 'pod', 'host'] as const)),
  k8sLabel: format('tcplife-k8s-label', f.k8sName(63)),
  k8sSubdomain: format('tcplife-k8s-subdomain', f.k8sName(253)),
  k8sUid: format('tcplife-k8s-uid', f.k8sUid),
  /** OTEL_* text; otel-env.ts checks it. '' is unset. */
  otel: format('tcplife-otel-text', f.plainString(8192)),
  otelMap: format('tcplife-otel-map', otelMap),
};

/**
 * OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES: the variable's
 * `k=v,k2=v2` text, or (in a file) a map, encoded to that text.
 */
function otelMap(raw: unknown): string {
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    return Object.entries(raw as Record<string, unknown>)
      .map(([k, v]) => {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
          throw new f.ValueError(`expected a map of keys to text values (the value of ${f.quote(k)} is not text)`);
        }
        return `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`;
      })
      .join(',');
  }
  try {
    return f.plainString(8192)(raw);
  } catch {
    throw new f.ValueError('expected key=value,key2=value2 text, or a map of keys to values');
  }
}

/** One OTLP exporter's variables: OTEL_EXPORTER_OTLP[_SIGNAL]_*. */
function otlpExporter(prefix: string, what: string, generic: boolean): SchemaNode {
  const item = (name: string, doc: string, dflt: string, extra: Partial<Setting> = {}): Setting => ({
    doc: generic ? doc : `${doc}, for ${what} only (empty: the generic setting applies)`,
    format: FORMATS.otel,
    default: generic ? dflt : '',
    env: `${prefix}${name}`,
    ...extra,
  });
  return {
    endpoint: item(
      'ENDPOINT',
      'collector URL: http://host:port (plain) or https://host:port (TLS)',
      'http://localhost:4317',
      generic ? { arg: 'otlp-endpoint', metavar: 'URL' } : {},
    ),
    headers: { ...item('HEADERS', 'gRPC metadata sent with every export: key=value,... (a map in a file)', ''), format: FORMATS.otelMap, sensitive: true },
    certificate: item('CERTIFICATE', 'PEM file of the CA that signed the collector certificate', ''),
    client_key: item('CLIENT_KEY', 'PEM file of the client key, for mutual TLS', ''),
    client_certificate: item('CLIENT_CERTIFICATE', 'PEM file of the client certificate, for mutual TLS', ''),
    insecure: item('INSECURE', 'true: plain text for an endpoint without a scheme', 'false'),
    compression: item('COMPRESSION', 'gzip or none', 'none'),
    timeout: item('TIMEOUT', 'deadline of one export attempt, in milliseconds', '10000'),
  };
}

export const SCHEMA = {
  config: {
    doc: 'configuration file (JSON or YAML); settings from flags and variables override it',
    format: FORMATS.path,
    default: '',
    env: 'TCPLIFE_CONFIG',
    arg: 'config',
    metavar: 'PATH',
  },
  scope: {
    doc: "pod: only sessions in the agent's own network namespace (a pod's), decided in the kernel; host: every namespace; auto: pod when the agent has its own network namespace, else host",
    format: FORMATS.scope,
    default: 'auto',
    env: 'TCPLIFE_SCOPE',
    arg: 'scope',
    metavar: 'SCOPE',
    reload: true,
  },
  attach: {
    doc: 'how to attach: auto (tp_btf, else the classic tracepoint), tp_btf or tracepoint',
    format: FORMATS.attach,
    default: 'auto',
    env: 'TCPLIFE_ATTACH',
    arg: 'attach',
    metavar: 'MODE',
  },
  verbose: {
    doc: "when loading fails, also print libbpf's messages (the verifier log)",
    format: FORMATS.boolean,
    default: false,
    env: 'TCPLIFE_VERBOSE',
    switches: [{ flag: 'verbose', value: 'true', doc: "when loading fails, also print libbpf's messages (the verifier log)" }],
  },
  output: {
    format: {
      doc: 'terminal output: table (bcc tcplife columns), csv, or json (JSON lines with exact bytes, outcome, partial sessions)',
      format: FORMATS.outputFormat,
      default: 'table',
      env: 'TCPLIFE_OUTPUT_FORMAT',
      arg: 'output',
      metavar: 'FORMAT',
      switches: [
        { flag: 'csv', short: 's', value: 'csv', doc: 'comma separated values output' },
        {
          flag: 'json',
          short: 'j',
          value: 'json',
          doc: 'JSON lines output: one object per session, with exact byte counts, outcome, and sessions that opened before the trace (partial)',
        },
      ],
    },
    wide: {
      doc: 'table: wide columns (fit IPv6 addresses)',
      format: FORMATS.boolean,
      default: false,
      env: 'TCPLIFE_OUTPUT_WIDE',
      switches: [{ flag: 'wide', short: 'w', value: 'true', doc: 'wide column output (fits IPv6 addresses)' }],
    },
    time: {
      doc: 'table and csv: include a time column (HH:MM:SS)',
      format: FORMATS.boolean,
      default: false,
      env: 'TCPLIFE_OUTPUT_TIME',
      switches: [{ flag: 'time', short: 'T', value: 'true', doc: 'include time column on output (HH:MM:SS)' }],
    },
    timestamp: {
      doc: 'table and csv: include a timestamp column (seconds since the first printed session closed)',
      format: FORMATS.boolean,
      default: false,
      env: 'TCPLIFE_OUTPUT_TIMESTAMP',
      switches: [{ flag: 'timestamp', short: 't', value: 'true', doc: 'include timestamp on output (seconds)' }],
    },
  },
  filters: {
    pids: {
      doc: 'only sessions owned by these process ids',
      format: FORMATS.pids,
      default: [],
      env: 'TCPLIFE_PIDS',
      arg: 'pid',
      short: 'p',
      metavar: 'PID',
      reload: true,
    },
    exclude_self: {
      doc: "leave out the agent's own sessions (its connections to the collector)",
      format: FORMATS.boolean,
      default: true,
      env: 'TCPLIFE_EXCLUDE_SELF',
      switches: [{ flag: 'trace-self', value: 'false', doc: "also trace the agent's own sessions (its connections to the collector)" }],
      reload: true,
    },
    comms: {
      doc: 'only sessions of processes with these names (the kernel comm, 15 characters), exact or globs like nginx* or php-fpm[0-9]',
      format: FORMATS.comms,
      default: [],
      env: 'TCPLIFE_COMMS',
      arg: 'comm',
      metavar: 'NAME',
      reload: true,
    },
    local_ports: {
      doc: 'only sessions with these local ports; ranges like 8000-8080 allowed',
      format: FORMATS.ports,
      default: [],
      env: 'TCPLIFE_LOCAL_PORTS',
      arg: 'localport',
      short: 'L',
      metavar: 'LOCALPORT',
      reload: true,
    },
    remote_ports: {
      doc: 'only sessions with these remote ports; ranges like 8000-8080 allowed',
      format: FORMATS.ports,
      default: [],
      env: 'TCPLIFE_REMOTE_PORTS',
      arg: 'remoteport',
      short: 'D',
      metavar: 'REMOTEPORT',
      reload: true,
    },
    family: {
      doc: "only sessions of this address family: any, ipv4 or ipv6 (the socket's; IPv4-mapped IPv6 counts as ipv6)",
      format: FORMATS.family,
      default: 'any',
      env: 'TCPLIFE_FAMILY',
      switches: [
        { flag: 'ipv4', short: '4', value: 'ipv4', doc: 'trace IPv4 sessions only' },
        { flag: 'ipv6', short: '6', value: 'ipv6', doc: 'trace IPv6 sessions only (IPv4-mapped included)' },
      ],
      reload: true,
    },
    local_cidrs: {
      doc: 'only sessions whose local address is in one of these networks (IPv4 networks also match IPv4-mapped IPv6)',
      format: FORMATS.cidrs,
      default: [],
      env: 'TCPLIFE_LOCAL_CIDRS',
      arg: 'local-cidr',
      metavar: 'CIDR',
      reload: true,
    },
    remote_cidrs: {
      doc: 'only sessions whose remote address is in one of these networks',
      format: FORMATS.cidrs,
      default: [],
      env: 'TCPLIFE_REMOTE_CIDRS',
      arg: 'remote-cidr',
      metavar: 'CIDR',
      reload: true,
    },
    roles: {
      doc: 'only sessions this host opened (client) or accepted (server); a session whose role is unknown (opened before the agent and not found at start) never matches',
      format: FORMATS.roles,
      default: [],
      env: 'TCPLIFE_ROLES',
      arg: 'role',
      metavar: 'ROLE',
      reload: true,
    },
    outcomes: {
      doc: `only sessions that ended so: ${OUTCOMES.join(', ')}, or the groups ${Object.keys(OUTCOME_GROUPS).join(', ')}`,
      format: FORMATS.outcomes,
      default: [],
      env: 'TCPLIFE_OUTCOMES',
      arg: 'outcome',
      metavar: 'OUTCOME',
      reload: true,
    },
    min_duration_ms: {
      doc: 'only sessions that lasted at least this long, birth to close (partial sessions pass: they lasted longer than seen)',
      format: FORMATS.durationMs,
      default: 0,
      env: 'TCPLIFE_MIN_DURATION_MS',
      arg: 'min-duration',
      metavar: 'MS',
      reload: true,
    },
    min_bytes: {
      doc: 'only sessions that moved at least this many payload bytes, both directions together',
      format: FORMATS.bytes,
      default: 0,
      env: 'TCPLIFE_MIN_BYTES',
      arg: 'min-bytes',
      metavar: 'BYTES',
      reload: true,
    },
    netns: {
      doc: "network namespaces: all, own (the agent's), or a list of inodes or paths like /run/netns/NAME",
      format: FORMATS.netns,
      default: 'all',
      env: 'TCPLIFE_NETNS',
      arg: 'netns',
      metavar: 'NETNS',
      reload: true,
    },
    cgroups: {
      doc: 'only sessions of sockets created in these cgroup v2 paths or below them (paths relative to the cgroup2 mount)',
      format: FORMATS.cgroups,
      default: [],
      env: 'TCPLIFE_CGROUPS',
      arg: 'cgroup',
      metavar: 'PATH',
      reload: true,
    },
  },
  services: {
    doc: 'service.name per session: the first rule whose criteria all match (process name globs, local ports, cgroup v2 paths or below) names it; other sessions keep otel.service_name',
    format: FORMATS.services,
    default: [],
    env: 'TCPLIFE_SERVICES',
    arg: 'service',
    metavar: 'RULE',
    reload: true,
  },
  stats_interval_s: {
    doc: 'print the counters on stderr every so many seconds; 0: only at exit',
    format: FORMATS.statsS,
    default: 60,
    env: 'TCPLIFE_STATS_INTERVAL',
    arg: 'stats-interval',
    metavar: 'SEC',
    reload: true,
  },
  shutdown_timeout_ms: {
    doc: 'at SIGINT/SIGTERM, how long pending spans may take to reach the collector',
    format: FORMATS.shutdownMs,
    default: 5000,
    env: 'TCPLIFE_SHUTDOWN_TIMEOUT',
    arg: 'shutdown-timeout',
    metavar: 'MS',
    reload: true,
  },

  export_concurrency: {
    doc: 'export requests in flight at a time, each retried on its own; more drain a backlog faster when the collector takes requests in parallel',
    format: FORMATS.concurrency,
    default: 4,
    env: 'TCPLIFE_EXPORT_CONCURRENCY',
    arg: 'export-concurrency',
    metavar: 'N',
  },
  export_queue_mib: {
    doc: 'memory for spans waiting for export (the collector slow or away), in MiB; a backlog past 4 MiB waits deflated (about 13 times smaller); beyond the bound, new spans are dropped and counted (spans_dropped_queue_full)',
    format: FORMATS.queueMib,
    default: 64,
    env: 'TCPLIFE_EXPORT_QUEUE_MIB',
    arg: 'export-queue-mib',
    metavar: 'MIB',
  },
  k8s: {
    pod_name: { doc: 'k8s.pod.name of the resource (Downward API: metadata.name)', format: FORMATS.k8sSubdomain, default: '', env: 'K8S_POD_NAME' },
    namespace_name: {
      doc: 'k8s.namespace.name of the resource (Downward API: metadata.namespace)',
      format: FORMATS.k8sLabel,
      default: '',
      env: 'K8S_NAMESPACE_NAME',
    },
    pod_uid: { doc: 'k8s.pod.uid of the resource (Downward API: metadata.uid)', format: FORMATS.k8sUid, default: '', env: 'K8S_POD_UID' },
    node_name: { doc: 'k8s.node.name of the resource (Downward API: spec.nodeName)', format: FORMATS.k8sSubdomain, default: '', env: 'K8S_NODE_NAME' },
  },
  otel: {
    sdk_disabled: { doc: 'true: no OpenTelemetry export at all', format: FORMATS.otel, default: 'false', env: 'OTEL_SDK_DISABLED' },
    service_name: { doc: 'service.name of the resource', format: FORMATS.otel, default: 'tcplife-otel', env: 'OTEL_SERVICE_NAME' },
    resource_attributes: {
      doc: 'more resource attributes: key=value,... (a map in a file)',
      format: FORMATS.otelMap,
      default: '',
      env: 'OTEL_RESOURCE_ATTRIBUTES',
    },
    traces_exporter: {
      doc: 'where spans go: otlp, console (the terminal output), both (otlp,console), or none; unset: the terminal',
      format: FORMATS.otel,
      default: '',
      env: 'OTEL_TRACES_EXPORTER',
      arg: 'traces-exporter',
      metavar: 'LIST',
    },
    metrics_exporter: {
      doc: "the agent's counters as metrics: otlp or none; unset: otlp when spans go over OTLP",
      format: FORMATS.otel,
      default: '',
      env: 'OTEL_METRICS_EXPORTER',
    },
    metric_export_interval: { doc: 'milliseconds between metric exports', format: FORMATS.otel, default: '60000', env: 'OTEL_METRIC_EXPORT_INTERVAL' },
    metric_export_timeout: { doc: 'deadline of one metric export, in milliseconds', format: FORMATS.otel, default: '30000', env: 'OTEL_METRIC_EXPORT_TIMEOUT' },
    exporter_otlp: otlpExporter('OTEL_EXPORTER_OTLP_', 'all signals', true),
    exporter_otlp_traces: otlpExporter('OTEL_EXPORTER_OTLP_TRACES_', 'spans', false),
    exporter_otlp_metrics: otlpExporter('OTEL_EXPORTER_OTLP_METRICS_', 'metrics', false),
    bsp: {
      schedule_delay: { doc: 'milliseconds a span may wait for its batch', format: FORMATS.otel, default: '5000', env: 'OTEL_BSP_SCHEDULE_DELAY' },
      export_timeout: {
        doc: 'deadline of one export request, in milliseconds: each attempt gets the smaller of this and the exporter timeout; a failed batch is retried until it is exported, rejected, or shutdown ends',
        format: FORMATS.otel,
        default: '30000',
        env: 'OTEL_BSP_EXPORT_TIMEOUT',
      },
      max_queue_size: {
        doc: 'at most this many spans buffered while the collector is slow or away (unset: as many as export_queue_mib holds); beyond it, new spans are dropped and counted',
        format: FORMATS.otel,
        default: '',
        env: 'OTEL_BSP_MAX_QUEUE_SIZE',
      },
      max_export_batch_size: { doc: 'spans per export request', format: FORMATS.otel, default: '512', env: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE' },
    },
  },
} satisfies SchemaNode;

/** Every setting with its dotted key, in declaration order. */
export function settings(node: SchemaNode = SCHEMA, prefix = ''): Array<[string, Setting]> {
  const out: Array<[string, Setting]> = [];
  for (const [name, child] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isSetting(child)) out.push([key, child]);
    else out.push(...settings(child, key));
  }
  return out;
}
