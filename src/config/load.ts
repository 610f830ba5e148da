/**
 * Loads the settings from their four sources, in precedence order: flags,
 * then environment variables, then the configuration file (--config or
 * TCPLIFE_CONFIG; JSON or YAML), then the schema's defaults.
 *
 * Validation is strict and complete: every problem found becomes one line
 * naming where the value came from (the flag as typed, the variable, or the
 * key and file), the value (quoted and cut; '***' for secrets) and what is
 * allowed, and loadSettings throws ConfigError with all of them. Nothing
 * reaches the kernel before this has passed.
 */
import convict from 'convict';
import { readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as YAML from 'yaml';
import type { OtlpMetricsConfig, OtlpTraceConfig } from '../telemetry/export-config';
import { ValueError, escapeControls, quote } from './formats';
import { resolveOtlpMetricsConfig, resolveOtlpTraceConfig, type Env } from './otel-env';
import { PARSERS, SCHEMA, isSetting, settings, type SchemaNode, type Setting } from './schema';
import type { Settings } from './settings';

/** Everything wrong with a configuration; each message is for the user as is. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    // One line each, whatever a parser or a file name put in it.
    const clean = problems.map(escapeControls);
    super(clean.join('\n'));
    this.name = 'ConfigError';
    this.problems = clean;
  }
}

/** Where a setting's value came from, for messages and --print-config. */
export type Origin = { kind: 'flag'; flag: string } | { kind: 'env'; name: string } | { kind: 'file'; path: string } | { kind: 'default' };

export interface Loaded {
  settings: Settings;
  /** The raw value of every setting (as given, before parsing). */
  raw: Map<string, unknown>;
  origins: Map<string, Origin>;
  /** OTEL_* variables as the settings define them: what otel-env.ts and resource.ts read. */
  otelEnv: Env;
  /** The exporters' settings, resolved from otelEnv (once, here). */
  otlp: { traces: OtlpTraceConfig; metrics: OtlpMetricsConfig };
  help: boolean;
  printConfig: boolean;
}

/** Flags that are actions, not settings. */
const ACTIONS = {
  help: { type: 'boolean', short: 'h' },
  'print-config': { type: 'boolean' },
} as const;

const MAX_FILE_BYTES = 1 << 20;
const ALL = settings();
const BY_KEY = new Map(ALL);
/** List settings add up when their flag repeats (-p 1 -p 2 is -p 1,2). */
const LIST_FORMATS = new Set([
  'tcplife-pids',
  'tcplife-ports',
  'tcplife-cidrs',
  'tcplife-comms',
  'tcplife-roles',
  'tcplife-outcomes',
  'tcplife-cgroups',
  'tcplife-netns',
  'tcplife-services',
]);
/** Service rules hold commas themselves: repeated --service flags are joined by a space. */
const joiner = (format: string) => (format === 'tcplife-services' ? ' ' : ',');

function describe(origin: Origin, key: string): string {
  switch (origin.kind) {
    case 'flag':
      return origin.flag;
    case 'env':
      return origin.name;
    case 'file':
      return `${key} in ${origin.path}`;
    default:
      return `${key} (default)`;
  }
}

interface FlagValue {
  raw: string;
  flag: string;
}

/** The command line: settings given as flags, and the action flags. */
function readFlags(argv: string[]): { values: Map<string, FlagValue>; help: boolean; printConfig: boolean; problems: string[] } {
  type Opt = { type: 'string' | 'boolean'; short?: string };
  const options: Record<string, Opt> = { ...ACTIONS };
  /** flag name -> [setting key, fixed value for a switch] */
  const target = new Map<string, [string, string | undefined]>();
  for (const [key, s] of ALL) {
    if (s.arg) {
      options[s.arg] = s.short ? { type: 'string', short: s.short } : { type: 'string' };
      target.set(s.arg, [key, undefined]);
    }
    for (const sw of s.switches ?? []) {
      options[sw.flag] = sw.short ? { type: 'boolean', short: sw.short } : { type: 'boolean' };
      target.set(sw.flag, [key, sw.value]);
    }
  }

  const values = new Map<string, FlagValue>();
  const problems: string[] = [];
  let tokens: ReturnType<typeof parseArgs>['tokens'];
  try {
    // Non-strict: every check is made here, so that no message of parseArgs' own reaches the user.
    tokens = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true }).tokens;
  } catch {
    return { values, help: false, printConfig: false, problems: ['could not read the command line: arguments must be plain strings'] };
  }
  let help = false;
  let printConfig = false;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') continue;
    if (t.kind === 'positional') {
      problems.push(
        `unexpected argument ${quote(t.value)}: tcplife-otel takes no positional arguments ` +
          `(bcc tcplife's interval and count are not supported; it runs until interrupted)`,
      );
      continue;
    }
    const flag = t.rawName;
    const opt = options[t.name];
    if (!opt) {
      problems.push(`unknown option '${flag}' (see --help)`);
      continue;
    }
    if (opt.type === 'boolean') {
      // Non-strict parseArgs lets "--wide=yes" through: refuse it here.
      if (t.value !== undefined) {
        problems.push(`${flag}: takes no value (got ${quote(t.value)})`);
        continue;
      }
      if (t.name === 'help') help = true;
      else if (t.name === 'print-config') printConfig = true;
    } else if (t.value === undefined) {
      const s = BY_KEY.get(target.get(t.name)![0])!;
      problems.push(`${flag}: missing value: ${s.doc}`);
      continue;
    }
    if (!target.has(t.name)) continue;
    const [key, fixed] = target.get(t.name)!;
    const raw = fixed ?? t.value!;
    const before = values.get(key);
    if (before && LIST_FORMATS.has(BY_KEY.get(key)!.format) && fixed === undefined) {
      values.set(key, { raw: `${before.raw}${joiner(BY_KEY.get(key)!.format)}${raw}`, flag: before.flag === flag ? flag : `${before.flag}/${flag}` });
    } else if (before && before.raw !== raw) {
      problems.push(
        `${before.flag} and ${flag} cannot be used together: they set ${key} to different values (${quote(before.raw)} and ${quote(raw)}); give one`,
      );
    } else {
      values.set(key, { raw, flag });
    }
  }
  return { values, help, printConfig, problems };
}

/** Keys the file sets, checked against the schema: unknown keys are errors. */
function checkFileKeys(obj: unknown, node: SchemaNode, prefix: string, path: string, problems: string[], setKeys: Set<string>): void {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    problems.push(`${prefix || 'the top level'} in ${path}: expected a mapping of keys to values, found ${Array.isArray(obj) ? 'a list' : quote(obj)}`);
    return;
  }
  for (const [name, value] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${name}` : name;
    const child = Object.hasOwn(node, name) ? node[name] : undefined;
    if (!child) {
      const allowed = Object.keys(node).join(', ');
      problems.push(`${key} in ${path}: unknown key${prefix ? ` in ${prefix}` : ''}: expected one of ${allowed}`);
    } else if (key === 'config') {
      problems.push(`config in ${path}: a configuration file cannot name another one`);
    } else if (isSetting(child)) {
      if (value === null || value === undefined) problems.push(`${key} in ${path}: empty value: ${child.doc}`);
      else setKeys.add(key);
    } else {
      checkFileKeys(value, child, key, path, problems, setKeys);
    }
  }
}

/** A parser's message, which may quote the file: one line, cut. */
function cut(message: string): string {
  const line = message.split('\n')[0];
  return line.length > 160 ? `${line.slice(0, 160)}...` : line;
}

/** A file name fit for a message: as is when plain and short, else quoted and cut. */
function displayPath(p: string): string {
  return /^[\x21-\x7e]{1,200}$/.test(p) ? p : quote(p);
}

function readConfigFile(file: string, path: string, problems: string[]): unknown {
  let text: string;
  try {
    if (statSync(file).size > MAX_FILE_BYTES) {
      problems.push(`configuration file ${path}: larger than ${MAX_FILE_BYTES} bytes`);
      return undefined;
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`configuration file ${path}: cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  const lower = file.toLowerCase();
  if (lower.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (err) {
      problems.push(`configuration file ${path}: not valid JSON: ${cut((err as Error).message)}`);
      return undefined;
    }
  }
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) {
    const doc = YAML.parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length) {
      problems.push(`configuration file ${path}: not valid YAML: ${cut(doc.errors[0].message.split('\n')[0])}`);
      return undefined;
    }
    try {
      return doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (err) {
      problems.push(`configuration file ${path}: not valid YAML: ${cut((err as Error).message.split('\n')[0])}`);
      return undefined;
    }
  }
  problems.push(`configuration file ${path}: expected a name ending in .json, .yaml or .yml`);
  return undefined;
}

/** The value at a dotted key of a nested object (undefined when absent). */
function getPath(obj: unknown, key: string): unknown {
  return key.split('.').reduce((o: unknown, p) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[p] : undefined), obj);
}

function setPath(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let o = obj;
  for (const p of parts.slice(0, -1)) {
    o[p] ??= {};
    o = o[p] as Record<string, unknown>;
  }
  o[parts[parts.length - 1]] = value;
}

/**
 * The OTEL_* variables as the otel.* settings define them: only the ones set
 * by a flag, variable or file (the resolvers know the defaults, and some
 * checks depend on whether a value was given at all).
 */
function otelVariables(typed: Record<string, unknown>, origins: Map<string, Origin>): Env {
  const env: Env = {};
  for (const [key, s] of ALL) {
    if (!key.startsWith('otel.') || !s.env || origins.get(key)?.kind === 'default') continue;
    const v = String(getPath(typed, key) ?? '');
    if (v !== '') env[s.env] = v;
  }
  return env;
}

export function loadSettings(argv: string[], env: Env): Loaded {
  const flags = readFlags(argv);
  const problems = [...flags.problems];

  // Empty variables are unset, as the OpenTelemetry specification reads them.
  const cleanEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value.trim() !== '') cleanEnv[name] = value;

  const origins = new Map<string, Origin>();
  for (const [key] of ALL) origins.set(key, { kind: 'default' });

  const config = convict(SCHEMA as never, { env: cleanEnv, args: [] });
  const configFlag = flags.values.get('config');
  const givenPath = (configFlag?.raw ?? cleanEnv.TCPLIFE_CONFIG)?.trim();
  if (givenPath) {
    // For messages: the file, and the flag or variable that named it.
    const configPath = `${displayPath(givenPath)}${configFlag ? '' : ' (TCPLIFE_CONFIG)'}`;
    const obj = readConfigFile(givenPath, configPath, problems);
    if (obj !== undefined) {
      const setKeys = new Set<string>();
      checkFileKeys(obj, SCHEMA, '', configPath, problems, setKeys);
      if (setKeys.size) {
        // Only the known keys reach convict; a file's `__proto__` or unknown keys never do.
        const known: Record<string, unknown> = {};
        for (const key of [...setKeys]) {
          let value = getPath(obj, key);
          if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
            // Convict cannot hold a mapping in a setting: a map-valued setting
            // (headers, resource attributes) becomes its text form here.
            const s = BY_KEY.get(key)!;
            try {
              value = PARSERS.get(s.format)!(value);
            } catch (err) {
              if (!(err instanceof ValueError)) throw err;
              problems.push(`${key} in ${configPath}: ${s.sensitive ? '(not shown)' : quote(value)} is not allowed: ${err.expected}`);
              setKeys.delete(key);
              continue;
            }
          }
          setPath(known, key, value);
        }
        config.load(known); // convict applies the environment again on top
        for (const key of setKeys) origins.set(key, { kind: 'file', path: configPath });
      }
    }
  }
  for (const [key, s] of ALL) if (s.env && cleanEnv[s.env] !== undefined) origins.set(key, { kind: 'env', name: s.env });
  for (const [key, v] of flags.values) {
    config.set(key, v.raw);
    origins.set(key, { kind: 'flag', flag: v.flag });
  }

  const raw = new Map<string, unknown>();
  // Each key set to its format's parse result: the shape Settings is inferred to (config/settings.ts).
  const typed: Record<string, unknown> = {};
  for (const [key, s] of ALL) {
    const value = config.get(key as never) as unknown;
    raw.set(key, value);
    try {
      setPath(typed, key, PARSERS.get(s.format)!(value));
    } catch (err) {
      if (!(err instanceof ValueError)) throw err;
      const shown = s.sensitive ? '(not shown)' : quote(value);
      problems.push(`${describe(origins.get(key)!, key)}: ${shown} is not allowed: ${err.expected}`);
    }
  }

  const otelEnv = otelVariables(typed, origins);
  const traces = resolveOtlpTraceConfig(otelEnv);
  const queueMib = typed.export_queue_mib;
  if (typeof queueMib === 'number') traces.config.batch.maxQueueBytes = queueMib * 2 ** 20;
  const concurrency = typed.export_concurrency;
  if (typeof concurrency === 'number') traces.config.batch.maxConcurrentExports = concurrency;
  const metrics = resolveOtlpMetricsConfig(otelEnv);
  if (!problems.length) problems.push(...crossChecks(typed as Settings, origins));
  for (const p of otelProblems([...traces.errors, ...metrics.errors], origins)) if (!problems.includes(p)) problems.push(p);
  if (problems.length && !flags.help) throw new ConfigError(problems);
  return {
    settings: typed as Settings,
    raw,
    origins,
    otelEnv,
    otlp: { traces: traces.config, metrics: metrics.config },
    help: flags.help,
    printConfig: flags.printConfig,
  };
}

/**
 * The OTEL_* settings' own checks (otel-env.ts reads them as variables),
 * each reworded for where its value came from: a flag, a file or a variable.
 */
function otelProblems(errors: string[], origins: Map<string, Origin>): string[] {
  const byVariable = new Map(ALL.filter(([, s]) => s.env).map(([key, s]) => [s.env!, key]));
  return errors.map((message) => {
    const variable = /^([A-Z_]+)[: ]/.exec(message)?.[1];
    const key = variable && byVariable.get(variable);
    const origin = key ? origins.get(key)! : undefined;
    return origin && origin.kind !== 'env' && variable ? `${describe(origin, key!)}${message.slice(variable.length)}` : message;
  });
}

/** Combinations that cannot mean anything. */
function crossChecks(s: Settings, origins: Map<string, Origin>): string[] {
  const problems: string[] = [];
  const from = (key: string) => describe(origins.get(key)!, key);
  if (s.output.format === 'json') {
    const why: Record<string, string> = {
      'output.wide': "-w only widens the table's columns; JSON lines always carry full addresses",
      'output.time': 'each JSON line already carries its start and end as RFC 3339 UTC timestamps',
      'output.timestamp': 'each JSON line already carries its start and end as RFC 3339 UTC timestamps',
    };
    for (const key of Object.keys(why)) {
      if (getPath(s, key)) {
        problems.push(`${from('output.format')} (JSON lines) and ${from(key)} cannot be used together: ${why[key]}`);
      }
    }
  }
  return problems;
}

/** Reads a setting's declaration (for help texts). */
export function settingOf(key: string): Setting | undefined {
  return BY_KEY.get(key);
}
