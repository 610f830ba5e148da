/**
 * The reference tables of docs/, generated: the settings from the schema
 * (docs/configuration.md; `npm run -s config-reference`) and the counters
 * from their table (docs/counters.md; `npm run -s counters-reference`).
 * Tests check that the pages hold exactly these.
 */
import { COUNTERS, type CounterSpec } from '../sessions/counters';
import { settings, type Setting } from './schema';

function flags(s: Setting): string {
  const out: string[] = [];
  if (s.arg) out.push(s.short ? `-${s.short}, --${s.arg} ${s.metavar ?? 'VALUE'}` : `--${s.arg} ${s.metavar ?? 'VALUE'}`);
  for (const sw of s.switches ?? [])
    out.push(`${sw.short ? `-${sw.short}, ` : ''}--${sw.flag}${s.arg || (s.switches?.length ?? 0) > 1 ? ` (${sw.value})` : ''}`);
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

const cell = (text: string) => text.replace(/\|/g, '\\|');

/** One row per reported counter: its name, meaning and the metric (with attributes) it feeds. */
export function countersReference(): string {
  const rows = (COUNTERS as readonly CounterSpec[])
    .filter((c) => !c.diagnostic)
    .map((c) => {
      const attrs = Object.entries(c.metric?.attributes ?? {}).map(([k, v]) => `${k}=${v}`);
      const metric = c.metric ? `\`${c.metric.name}${attrs.length ? `{${attrs.join(',')}}` : ''}\`` : '';
      return `| \`${c.name}\` | ${cell(c.meaning)} | ${metric} |`;
    });
  return ['| counter | meaning | metric |', '|---|---|---|', ...rows].join('\n');
}

if (require.main === module) {
  process.stdout.write((process.argv[2] === 'counters' ? countersReference() : configReference()) + '\n');
}
