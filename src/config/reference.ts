/**
 * The README's table of settings, generated from the schema (a test checks
 * the README holds exactly this; `npm run -s config-reference` prints it).
 */
import { settings, type Setting } from './schema';

function flags(s: Setting): string {
  const out: string[] = [];
  if (s.arg) out.push(s.short ? `-${s.short}, --${s.arg} ${s.metavar ?? 'VALUE'}` : `--${s.arg} ${s.metavar ?? 'VALUE'}`);
  for (const sw of s.switches ?? []) out.push(`${sw.short ? `-${sw.short}, ` : ''}--${sw.flag}${s.arg || (s.switches?.length ?? 0) > 1 ? ` (${sw.value})` : ''}`);
  return out.map((f) => `\`${f}\``).join(', ');
}

function value(v: unknown): string {
  if (Array.isArray(v)) return v.length ? `\`${v.join(',')}\`` : '[]';
  if (v === '') return '(unset)';
  return `\`${String(v)}\``;
}

export function configReference(): string {
  const rows = settings()
    .filter(([key]) => !/^otel\.exporter_otlp_(traces|metrics)\./.test(key))
    .map(([key, s]) => {
      const doc = s.doc.replace(/\|/g, '\\|') + (s.reload ? ' (reloadable)' : '');
      return `| \`${key}\` | ${s.env ? `\`${s.env}\`` : ''} | ${flags(s)} | ${value(s.default)} | ${doc} |`;
    });
  return [
    '| key | environment | flag | default | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '| `otel.exporter_otlp_traces.*`, `otel.exporter_otlp_metrics.*` | `OTEL_EXPORTER_OTLP_TRACES_*`, `OTEL_EXPORTER_OTLP_METRICS_*` |  | (unset) | the same eight settings for one signal; set, they win over the generic ones |',
  ].join('\n');
}

if (require.main === module) process.stdout.write(configReference() + '\n');
