/**
 * The OTLP encoder alone: microseconds per span for 512-span batches of
 * agent-shaped spans (what sessionToSpan makes of sample sessions). A
 * benchmark, not a test: `npm run -s bench:encoder` prints the figure.
 */
import { encodeExportTraceRequest } from '../../src/telemetry/otlp-encoder';
import { sessionToSpan } from '../../src/telemetry/session-to-span';
import type { SpanRecord } from '../../src/telemetry/span-record';
import { sampleSession } from '../support/sample-session';

function batch(n: number): SpanRecord[] {
  const out: SpanRecord[] = [];
  for (let k = 0; k < n; k++) {
    const session = sampleSession({
      localPort: 10000 + (k % 50000),
      role: k % 3 === 0 ? 'server' : 'client',
      bytesSent: k * 4099,
      bytesReceived: 2 ** 33 + k,
      startTime: [1795673752 + k, (k * 7919) % 1e9],
      endTime: [1795673752 + k + 1, (k * 104729) % 1e9],
      outcome: k % 5 === 0 ? 'refused' : 'closed_locally',
    });
    out.push(sessionToSpan(session, { traceId: (k + 1).toString(16).padStart(32, '0'), spanId: (k + 1).toString(16).padStart(16, 'a') }));
  }
  return out;
}

const spans = batch(512);
const input = {
  resource: [{ key: 'service.name', value: { string: 'tcplife-otel' } }],
  scope: { name: 'tcplife-otel', version: '0.1.0' },
  spans,
};
for (let i = 0; i < 200; i++) encodeExportTraceRequest(input); // warm-up (optimizing compiler)
// Median of 7 runs of 50 batches: the machines are shared and noisy.
const runs: number[] = [];
let bytes = 0;
for (let r = 0; r < 7; r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 50; i++) bytes = encodeExportTraceRequest(input).length;
  runs.push(Number(process.hrtime.bigint() - t0) / 1000 / (50 * spans.length));
}
const perSpan = runs.sort((x, y) => x - y)[3];
process.stdout.write(
  `encode: ${perSpan.toFixed(2)} µs/span (512-span batches, ${spans[0].attributes.length} attributes/span, ${(bytes / spans.length).toFixed(0)} bytes/span)\n`,
);
