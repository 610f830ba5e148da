/**
 * --print-config: the effective configuration as YAML, each value with where
 * it came from, secrets as '***'. The output is itself a valid configuration
 * file: the `config` key (which a file cannot hold) and redacted secrets are
 * comments, so it loads, without the secrets.
 */
import * as YAML from 'yaml';
import type { Loaded, Origin } from './load';
import { settings } from './schema';

function from(origin: Origin): string {
  switch (origin.kind) {
    case 'flag':
      return `flag ${origin.flag}`;
    case 'env':
      return `environment ${origin.name}`;
    case 'file':
      return `file ${origin.path}`;
    default:
      return 'default';
  }
}

/** A value as one line of YAML flow style. */
function flow(value: unknown): string {
  return YAML.stringify(value, { flowCollectionPadding: false, collectionStyle: 'flow', lineWidth: 0 }).trimEnd();
}

export function printConfig(loaded: Loaded): string {
  const out = ['# tcplife-otel: effective configuration (flags > environment > file > defaults)'];
  const opened: string[] = [];
  for (const [key, s] of settings()) {
    const parts = key.split('.');
    const parents = parts.slice(0, -1);
    let common = 0;
    while (common < parents.length && opened[common] === parents[common]) common++;
    opened.length = common;
    for (let i = common; i < parents.length; i++) {
      out.push(`${'  '.repeat(i)}${parents[i]}:`);
      opened.push(parents[i]);
    }
    const indent = '  '.repeat(parents.length);
    const raw = loaded.raw.get(key);
    const redacted = s.sensitive === true && raw !== '' && raw !== undefined;
    const line = `${indent}${parts[parts.length - 1]}: ${redacted ? '***' : flow(raw)}  # ${from(loaded.origins.get(key)!)}`;
    // A redacted secret, and the file's own name, are comments: the output
    // stays a configuration file that loads (without the secret).
    out.push(key === 'config' ? `# ${line}` : redacted ? `${indent}# ${line.trimStart()} (redacted)` : line);
  }
  return out.join('\n') + '\n';
}
