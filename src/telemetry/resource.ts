/**
 * The OTLP Resource: who is sending the spans. Built from the environment
 * (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES), the host name and, when we
 * run in a container, the container id found in /proc/self/cgroup or
 * /proc/self/mountinfo. Everything but `detectResource` is pure: it takes
 * its inputs as arguments and never throws.
 */
import * as os from 'node:os';
import { containerIdFromCgroup, readProcFile } from '../container/container-ids';
import type { Attribute } from './span-record';

export const DEFAULT_SERVICE_NAME = 'tcplife-otel';
export const SDK_NAME = 'tcplife-otel';

/**
 * Parses OTEL_RESOURCE_ATTRIBUTES: `key1=value1,key2=value2`, keys and values
 * percent-encoded (W3C Baggage style; '+' is not a space), whitespace around
 * entries, keys and values trimmed, empty entries ignored. The entry is split
 * at its first '=', so a raw '=' in a value is kept. A key given twice keeps
 * its first position and its last value. Malformed entries (no '=', empty
 * key, bad percent-encoding) are skipped and described in `errors`.
 */
export function parseResourceAttributes(text: string): { attributes: Attribute[]; errors: string[] } {
  const values = new Map<string, string>();
  const errors: string[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq < 0) {
      errors.push(`resource attribute ${JSON.stringify(entry)} skipped: no '='`);
      continue;
    }
    const key = percentDecode(entry.slice(0, eq).trim());
    const value = percentDecode(entry.slice(eq + 1).trim());
    if (key === undefined || value === undefined) {
      errors.push(`resource attribute ${JSON.stringify(entry)} skipped: bad percent-encoding`);
      continue;
    }
    if (key === '') {
      errors.push(`resource attribute ${JSON.stringify(entry)} skipped: empty key`);
      continue;
    }
    values.set(key, value);
  }
  return { attributes: [...values].map(([key, value]) => str(key, value)), errors };
}

function percentDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined; // '%' not followed by two hex digits, or not UTF-8
  }
}

export interface ResourceReader {
  hostname(): string;
  /** The file's text, or undefined when it cannot be read. */
  file(path: string): string | undefined;
}

/** Kubernetes Downward API values, '' when unset (settings k8s.*). */
export interface K8sMetadata {
  pod_name: string;
  namespace_name: string;
  pod_uid: string;
  node_name: string;
}

/** The set k8s.* resource attributes, in the semantic conventions' names. */
export function k8sAttributes(k8s: K8sMetadata): Attribute[] {
  const pairs: Array<[string, string]> = [
    ['k8s.pod.name', k8s.pod_name],
    ['k8s.namespace.name', k8s.namespace_name],
    ['k8s.pod.uid', k8s.pod_uid],
    ['k8s.node.name', k8s.node_name],
  ];
  return pairs.filter(([, v]) => v !== '').map(([k, v]) => str(k, v));
}

/**
 * The resource attributes, each key once, in this order: service.name,
 * host.name, container.id (when found; the agent's own container), `extra`
 * (the k8s.* attributes), process.runtime.*, telemetry.sdk.*,
 * then the other OTEL_RESOURCE_ATTRIBUTES keys in their order. Our own keys
 * override the same keys in OTEL_RESOURCE_ATTRIBUTES, except service.name:
 * OTEL_SERVICE_NAME, else service.name from OTEL_RESOURCE_ATTRIBUTES, else
 * 'tcplife-otel'. `warnings` lists skipped attribute entries and failures.
 */
export function buildResource(env: NodeJS.ProcessEnv, read: ResourceReader, extra: readonly Attribute[] = []): { attributes: Attribute[]; warnings: string[] } {
  const warnings: string[] = [];
  const parsed = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  warnings.push(...parsed.errors.map((e) => `OTEL_RESOURCE_ATTRIBUTES: ${e}`));

  const fromEnvName = env.OTEL_SERVICE_NAME?.trim();
  const fromAttrs = parsed.attributes.find((a) => a.key === 'service.name');
  const own: Attribute[] = [];
  if (fromEnvName) own.push(str('service.name', fromEnvName));
  else if (fromAttrs) own.push(fromAttrs);
  else own.push(str('service.name', DEFAULT_SERVICE_NAME));

  try {
    const host = read.hostname();
    if (host) own.push(str('host.name', host));
  } catch (err) {
    warnings.push(`host.name not set: ${(err as Error).message}`);
  }

  const containerId = containerIdFromCgroup(read.file('/proc/self/cgroup') ?? '', read.file('/proc/self/mountinfo') ?? '');
  if (containerId) own.push(str('container.id', containerId));
  own.push(...extra);

  own.push(
    str('process.runtime.name', 'nodejs'),
    str('process.runtime.version', process.versions.node),
    str('telemetry.sdk.name', SDK_NAME),
    str('telemetry.sdk.language', 'nodejs'),
  );

  const ownKeys = new Set(own.map((a) => a.key));
  return { attributes: [...own, ...parsed.attributes.filter((a) => !ownKeys.has(a.key))], warnings };
}

/** The resource of this process: buildResource on the real environment and files. */
export function detectResource(env: NodeJS.ProcessEnv = process.env, extra: readonly Attribute[] = []): { attributes: Attribute[]; warnings: string[] } {
  return buildResource(env, { hostname: () => os.hostname(), file: readProcFile }, extra);
}

function str(key: string, value: string): Attribute {
  return { key, value: { string: value } };
}
