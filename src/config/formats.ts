/**
 * Value parsers for configuration settings. Pure: each takes a raw value as
 * it came from a flag or variable (a string) or from a JSON/YAML file (a
 * string, number, boolean or array), returns the typed value, or throws
 * ValueError with what is allowed. The caller adds where the value came from
 * and quotes it; nothing here echoes a value, so secrets stay unprinted.
 */
import { CidrError, parseCidr, type Cidr } from '../sessions/cidr';
import type { ServiceRule } from '../sessions/service-rules';
import { isGlob } from '../sessions/glob';

/** A bad value: `expected` says what is allowed ("expected ..."). */
export class ValueError extends Error {
  constructor(readonly expected: string) {
    super(expected);
    this.name = 'ValueError';
  }
}

export type Parser<T> = (raw: unknown) => T;

/** Linux's PID_MAX_LIMIT: no pid can exceed it. */
export const PID_MAX = 4194304;
/** Longest list a setting accepts (a port range counts once). */
const MAX_LIST_ITEMS = 4096;
/** The kernel's comm holds 15 characters and a NUL. */
export const COMM_MAX = 15;

/** A C0 control character or DEL: never allowed in a value, and escaped in messages. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const CONTROL_CHAR = /[\u0000-\u001f\u007f]/;

/** The text with each control character written as \\uXXXX (one line, nothing hidden). */
export function escapeControls(text: string): string {
  return text.replace(new RegExp(CONTROL_CHAR.source, 'g'), (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value quoted for a message: cut if enormous, then JSON-escaped (control characters included). */
export function quote(value: unknown): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}

/** A scalar as text: files may hold numbers and booleans where flags hold strings. */
function text(raw: unknown, expected: string): string {
  if (typeof raw === 'string') return raw.trim();
  if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
  if (typeof raw === 'boolean') return String(raw);
  throw new ValueError(expected);
}

export function boolean(): Parser<boolean> {
  const expected = 'expected true or false';
  return (raw) => {
    const v = text(raw, expected).toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new ValueError(expected);
  };
}

/** A whole number in [min, max]: digits only (no signs, exponents or fractions). */
export function integer(min: number, max: number, what = 'an integer'): Parser<number> {
  const expected = `expected ${what} from ${min} to ${max}`;
  return (raw) => {
    const v = text(raw, expected);
    const n = /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN;
    if (!(n >= min && n <= max)) throw new ValueError(expected);
    return n;
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  const expected = `expected ${values.join(', ')}`;
  return (raw) => {
    const v = text(raw, expected).toLowerCase();
    const found = values.find((x) => x === v);
    if (found === undefined) throw new ValueError(expected);
    return found;
  };
}

/** Any string without control characters, trimmed; '' allowed. */
export function plainString(maxLength = 4096): Parser<string> {
  const expected = `expected text of at most ${maxLength} characters, without control characters`;
  return (raw) => {
    const v = text(raw, expected);
    if (v.length > maxLength || CONTROL_CHAR.test(v)) throw new ValueError(expected);
    return v;
  };
}

/** A Kubernetes object name (RFC 1123: a DNS label or subdomain); '' is unset. */
export function k8sName(maxLength: 63 | 253): Parser<string> {
  const what = maxLength === 63 ? 'a DNS label' : 'a DNS subdomain';
  const expected = `expected a Kubernetes name (${what}: lowercase letters, digits, '-'${maxLength === 253 ? ", '.'" : ''}; at most ${maxLength} characters) or nothing`;
  const shape = maxLength === 63 ? /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/ : /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
  return (raw) => {
    const v = text(raw, expected);
    if (v !== '' && (v.length > maxLength || !shape.test(v))) throw new ValueError(expected);
    return v;
  };
}

/** A Kubernetes UID (a UUID); '' is unset. */
export const k8sUid: Parser<string> = (raw) => {
  const expected = 'expected a UUID like 0f8e7a3c-1d2b-4c5d-9e6f-7a8b9c0d1e2f or nothing';
  const v = text(raw, expected).toLowerCase();
  if (v !== '' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v)) throw new ValueError(expected);
  return v;
};

/**
 * A list: an array (from a file) or comma-separated text; items trimmed,
 * empty items skipped, duplicates removed, order kept. An item that fails
 * names its position.
 */
export function list<T>(item: Parser<T | T[]>, itemExpected: string, maxItems = MAX_LIST_ITEMS): Parser<T[]> {
  const expected = `expected a comma-separated list (or an array) of ${itemExpected}`;
  return (raw) => {
    let items: unknown[];
    if (Array.isArray(raw)) items = raw;
    else if (typeof raw === 'string') items = raw.split(',');
    else if (typeof raw === 'number') items = [raw];
    else throw new ValueError(expected);
    if (items.length > maxItems) throw new ValueError(`${expected}; at most ${maxItems} items`);
    const out = new Set<T>();
    items.forEach((x, i) => {
      if (typeof x === 'string' && x.trim() === '') return;
      let parsed: T | T[];
      try {
        parsed = item(x);
      } catch (err) {
        if (!(err instanceof ValueError)) throw err;
        throw new ValueError(`item ${i + 1} (${quote(x)}): ${err.expected}`);
      }
      for (const v of Array.isArray(parsed) ? parsed : [parsed]) out.add(v);
    });
    // Ranges expand: the kernel's sets are bounded by what they hold.
    if (out.size > maxItems && !(itemExpected === PORT_EXPECTED)) throw new ValueError(`${expected}; at most ${maxItems} items`);
    return [...out];
  };
}

export const PID_EXPECTED = `process ids from 1 to ${PID_MAX}`;
export const pid: Parser<number> = integer(1, PID_MAX, 'a process id');

export const PORT_EXPECTED = 'ports from 1 to 65535 or ranges like 8000-8080';
/** A port or a low-high range, expanded. */
export const portOrRange: Parser<number[]> = (raw) => {
  const expected = `expected a port from 1 to 65535 or a range like 8000-8080`;
  const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(text(raw, expected));
  if (!m) throw new ValueError(expected);
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  if (low < 1 || high > 65535) throw new ValueError(expected);
  if (low > high) throw new ValueError(`${expected} (a range's low end must not exceed its high end)`);
  const out: number[] = [];
  for (let p = low; p <= high; p++) out.push(p);
  return out;
};

export const CIDR_EXPECTED = 'IPv4 or IPv6 networks like 10.0.0.0/8 or 2001:db8::/32';

export const cidr: Parser<Cidr> = (raw) => {
  const expected = `expected ${CIDR_EXPECTED}`;
  try {
    return parseCidr(text(raw, expected), true);
  } catch (err) {
    if (!(err instanceof CidrError)) throw err;
    const { family, maxPrefix, network } = err.detail;
    if (network) throw new ValueError(`expected no host bits after the prefix: did you mean ${network}?`);
    if (maxPrefix) throw new ValueError(`expected a prefix length from 0 to ${maxPrefix} for an IPv${family} network`);
    throw new ValueError(expected);
  }
};

export const COMM_EXPECTED = `process names of at most ${COMM_MAX} characters (the kernel's comm), exact or with the wildcards * ? [...]`;
/** A process name or glob; the kernel cuts names to 15 characters, so a longer name never matches. */
export const comm: Parser<string> = (raw) => {
  const expected = `expected a process name of 1 to ${COMM_MAX} characters (the kernel's comm), exact or with the wildcards * ? [...]`;
  const v = text(raw, expected);
  if (v === '' || CONTROL_CHAR.test(v)) throw new ValueError(expected);
  // Wildcards can stand for several characters: only literal names have a hard limit.
  if (!isGlob(v) && [...v].length > COMM_MAX) {
    throw new ValueError(`${expected}; the kernel keeps only the first ${COMM_MAX} (${[...v].slice(0, COMM_MAX).join('')})`);
  }
  if (/\[[^\]]*$/.test(v)) throw new ValueError(`${expected}; a '[' is not closed`);
  return v;
};

/** A cgroup v2 path relative to the cgroup2 mount: '/system.slice/x.service'. */
export const cgroupPath: Parser<string> = (raw) => {
  const expected = "expected cgroup v2 paths starting with '/' (relative to the cgroup2 mount, e.g. /system.slice/app.service)";
  const v = text(raw, expected);
  if (!v.startsWith('/') || v.length > 4096 || CONTROL_CHAR.test(v) || v.split('/').some((s) => s === '..' || s === '.')) {
    throw new ValueError(expected);
  }
  return v.replace(/\/+$/, '') || '/';
};

/** 'all', 'own', or a list of namespace inodes or paths (/proc/PID/ns/net, /run/netns/NAME). */
export type NetnsSpec = 'all' | 'own' | Array<number | string>;
export const NETNS_EXPECTED = "'all', 'own', or a list of network namespace inodes or paths (/proc/PID/ns/net, /run/netns/NAME)";
export const netns: Parser<NetnsSpec> = (raw) => {
  const expected = `expected ${NETNS_EXPECTED}`;
  if (typeof raw === 'string' && ['all', 'own'].includes(raw.trim().toLowerCase())) {
    return raw.trim().toLowerCase() as 'all' | 'own';
  }
  const item: Parser<number | string> = (x) => {
    const v = text(x, expected);
    if (/^[0-9]{1,10}$/.test(v) && Number(v) >= 1 && Number(v) <= 0xffffffff) return Number(v);
    if (v.startsWith('/') && v.length <= 4096 && !CONTROL_CHAR.test(v)) return v;
    throw new ValueError(`expected a namespace inode from 1 to 4294967295 or an absolute path`);
  };
  const items = list(item, 'namespace inodes or paths', 1024)(raw);
  if (items.length === 0) throw new ValueError(expected);
  return items;
};

export const SERVICE_EXPECTED =
  'rules NAME=KIND:VALUE,...[;KIND:VALUE,...] (kinds comm, port, cgroup; e.g. checkout=comm:java;port:8080), or in a file a list of {name, comms, local_ports, cgroups}';

const SERVICE_KINDS = { comm: 'comms', port: 'local_ports', cgroup: 'cgroups' } as const;

/**
 * Service attribution rules: from a file, a list of objects; from a flag or
 * variable, `NAME=KIND:VALUES[;KIND:VALUES]`, rules separated by spaces (the
 * flag repeats). Each rule needs a name and at least one criterion.
 */
export const serviceRules: Parser<ServiceRule[]> = (raw) => {
  const expected = `expected ${SERVICE_EXPECTED}`;
  const items: unknown[] = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.trim().split(/\s+/).filter(Boolean) : [raw];
  if (items.length > 256) throw new ValueError(`${expected}; at most 256 rules`);
  return items.map((item, i) => {
    const where = items.length > 1 ? `rule ${i + 1}: ` : '';
    try {
      return serviceRule(item);
    } catch (err) {
      throw new ValueError(`${where}${(err as Error).message}`);
    }
  });
};

function serviceRule(item: unknown): ServiceRule {
  const expected = `expected ${SERVICE_EXPECTED}`;
  let fields: Record<string, unknown>;
  if (typeof item === 'string') {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ValueError(`${quote(item)}: ${expected}`);
    fields = { name: item.slice(0, eq) };
    for (const part of item
      .slice(eq + 1)
      .split(';')
      .filter(Boolean)) {
      const colon = part.indexOf(':');
      const kind = SERVICE_KINDS[part.slice(0, colon) as keyof typeof SERVICE_KINDS];
      if (colon <= 0 || !kind) throw new ValueError(`${quote(part)}: ${expected}`);
      fields[kind] = part.slice(colon + 1);
    }
  } else if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
    fields = item as Record<string, unknown>;
    const unknown = Object.keys(fields).filter((k) => !['name', 'comms', 'local_ports', 'cgroups'].includes(k));
    if (unknown.length) throw new ValueError(`unknown key ${quote(unknown[0])}: expected name, comms, local_ports, cgroups`);
  } else {
    throw new ValueError(expected);
  }
  const name = typeof fields.name === 'string' ? fields.name.trim() : '';
  if (name === '' || name.length > 255 || CONTROL_CHAR.test(name))
    throw new ValueError(`a service name of 1 to 255 characters, without control characters: ${expected}`);
  const rule: ServiceRule = {
    name,
    comms: fields.comms === undefined ? [] : list(comm, COMM_EXPECTED)(fields.comms),
    local_ports: fields.local_ports === undefined ? [] : list(portOrRange, PORT_EXPECTED)(fields.local_ports),
    cgroups: fields.cgroups === undefined ? [] : list(cgroupPath, 'cgroup v2 paths')(fields.cgroups),
  };
  if (!rule.comms.length && !rule.local_ports.length && !rule.cgroups.length) {
    throw new ValueError(`service ${quote(name)} has no criterion: ${expected}`);
  }
  return rule;
}
