// The stock SDK pipeline (test/bench/sdk-span-sink.ts, the benchmark's comparison path): same span content as
// the direct path, and what it counts about drops.
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { diag } from '@opentelemetry/api';
import { SdkSpanSink } from '../bench/sdk-span-sink';
import type { Attribute } from '../../src/telemetry/span-record';
import { SpanKind, StatusCode, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver';
import { sampleSession } from '../support/sample-session';

const RESOURCE: Attribute[] = [
  { key: 'service.name', value: { string: 'tcplife-test' } },
  { key: 'host.name', value: { string: 'h1' } },
];
const SCOPE = { name: 'tcplife-otel', version: '0.0.1' };

/** The SDK reads OTEL_* when it is constructed: set them for that moment only. */
function sinkWithEnv(env: Record<string, string>): SdkSpanSink {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return new SdkSpanSink(RESOURCE, SCOPE);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    diag.disable(); // the sink's stderr logger: keep the test output clean
  }
}

/** A port nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

describe('SdkSpanSink (the stock OpenTelemetry SDK path)', () => {
  let receiver: OtlpReceiver | undefined;
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it('exports the same span content as sessionToSpan, with exact nanosecond times', async () => {
    receiver = await startOtlpReceiver();
    const sink = sinkWithEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}` });
    sink.open();
    sink.write([sampleSession({}), sampleSession({ role: 'server', outcome: 'reset_by_peer', error: 'ECONNRESET' })]);
    await sink.close(3000);
    const [client, server] = receiver.spans();
    assert.equal(client.name, 'TCP connect :443');
    assert.equal(client.kind, SpanKind.CLIENT);
    assert.equal(client.startTimeUnixNano, 1795673752123456789n);
    assert.equal(client.endTimeUnixNano, 1795673752246913578n);
    assert.equal(client.attributes['tcplife.bytes_received'], 1048577n);
    assert.equal(client.attributes['tcplife.handshake_ms'], 0.0015);
    assert.equal(client.status.code, StatusCode.UNSET);
    assert.deepEqual(client.resource.attributes, { 'service.name': 'tcplife-test', 'host.name': 'h1' });
    assert.deepEqual([client.scope.name, client.scope.version], ['tcplife-otel', '0.0.1']);
    assert.equal(server.kind, SpanKind.SERVER);
    assert.deepEqual(server.status, { code: StatusCode.ERROR, message: 'connection reset by peer' });
    assert.equal(server.attributes['error.type'], 'ECONNRESET');
    assert.notEqual(client.traceId, server.traceId, 'ids from the SDK, one trace per session');
    assert.deepEqual(sink.counters(), {
      spans_started: 2,
      spans_exported: 2,
      spans_dropped_queue_full: 0,
      spans_dropped_export_failed: 0,
      spans_dropped_shutdown: 0,
    });
  });

  it('counts the spans the BatchSpanProcessor drops on a full queue', async () => {
    receiver = await startOtlpReceiver();
    const sink = sinkWithEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
      OTEL_BSP_MAX_QUEUE_SIZE: '4',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2',
    });
    // One synchronous batch: the first 2 leave as a batch at once, 4 fill the queue, 6 are dropped.
    sink.write(Array.from({ length: 12 }, (_, i) => sampleSession({ localPort: 40000 + i })));
    assert.equal(sink.counters().spans_dropped_queue_full, 6);
    await sink.close(3000);
    assert.equal(receiver.spans().length, 6);
    assert.deepEqual(sink.counters(), {
      spans_started: 12,
      spans_exported: 6,
      spans_dropped_queue_full: 6,
      spans_dropped_export_failed: 0,
      spans_dropped_shutdown: 0,
    });
  });

  it('with the collector down, close() resolves within its deadline and every span is counted as lost', async () => {
    const sink = sinkWithEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`, OTEL_BSP_SCHEDULE_DELAY: '10' });
    sink.write([sampleSession({}), sampleSession({ localPort: 40001 })]);
    const t0 = Date.now();
    await sink.close(1500);
    assert.ok(Date.now() - t0 < 2500, `close took ${Date.now() - t0} ms`);
    const c = sink.counters() as Record<string, number>;
    assert.equal(c.spans_exported, 0);
    assert.equal(c.spans_dropped_export_failed + c.spans_dropped_shutdown, 2);
  });
});
