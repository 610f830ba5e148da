/** The --help text, generated from the schema so that it cannot drift from it. */
import { settings, type Setting } from './schema';

const WIDTH = 79;
const COLUMN = 24;

function wrap(text: string, indent: number, first: string): string {
  const words = text.split(' ');
  const lines: string[] = [];
  let line = first.padEnd(indent);
  if (first.length >= indent - 1) {
    lines.push(first);
    line = ' '.repeat(indent);
  }
  for (const w of words) {
    if (line.trim() !== '' && line.length + 1 + w.length > WIDTH && line.length > indent) {
      lines.push(line.trimEnd());
      line = ' '.repeat(indent);
    }
    line += (line.length > indent ? ' ' : '') + w;
  }
  lines.push(line.trimEnd());
  return lines.join('\n');
}

function flagLines(s: Setting): string[] {
  const out: string[] = [];
  for (const sw of s.switches ?? []) {
    const names = sw.short ? `-${sw.short}, --${sw.flag}` : `--${sw.flag}`;
    out.push(wrap(sw.doc, COLUMN, `  ${names}`));
  }
  if (s.arg) {
    const m = s.metavar ?? 'VALUE';
    const names = s.short ? `-${s.short} ${m}, --${s.arg} ${m}` : `--${s.arg} ${m}`;
    const env = s.env ? ` [${s.env}]` : '';
    out.push(wrap(`${s.doc}${env}`, COLUMN, `  ${names}`));
  }
  return out;
}

export function usage(): string {
  const lines = settings().flatMap(([, s]) => flagLines(s));
  return `usage: tcplife-otel [options]

Trace the lifespan of TCP sessions and summarize; export them as OpenTelemetry
spans with OTEL_TRACES_EXPORTER=otlp.

options:
  -h, --help            show this help message and exit
  --print-config        print the effective configuration (secrets redacted)
                        as YAML, and exit
${lines.join('\n')}

Every setting can also come from an environment variable or a configuration
file (--config); flags win over variables, variables over the file.
docs/configuration.md lists every key. Lists are comma-separated; list flags
may repeat.

Runs until interrupted; bcc tcplife's [interval [count]] are not supported.
The table and CSV show sessions whose opening was seen; -j shows all.
SIGHUP re-reads the configuration and applies filter changes.

examples:
    tcplife-otel             # trace all TCP sessions
    tcplife-otel -T          # include time column (HH:MM:SS)
    tcplife-otel -w          # wider columns (fit IPv6)
    tcplife-otel -stT        # csv output, with times & timestamps
    tcplife-otel -p 181      # only trace PID 181
    tcplife-otel -L 80       # only trace local port 80
    tcplife-otel -L 80,81    # only trace local ports 80 and 81
    tcplife-otel -L 8000-8080 # only trace local ports 8000 to 8080
    tcplife-otel -D 80       # only trace remote port 80
    tcplife-otel -6 -w       # only IPv6 sessions, wide columns
    tcplife-otel -j          # JSON lines
    tcplife-otel --outcome failed --remote-cidr 10.0.0.0/8
                             # failed sessions to 10.0.0.0/8 only
    tcplife-otel --config /etc/tcplife-otel.yaml --print-config
`;
}
