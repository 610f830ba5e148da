import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { OtlpBatchConfig, OtlpTraceConfig } from '../../src/telemetry/export-config';
import { sessionToSpan } from '../../src/telemetry/session-to-span';
import { OtlpSpanExporter, type SpanExporterCounters } from '../../src/telemetry/span-exporter';
import type { Attribute, SpanRecord } from '../../src/telemetry/span-record';
import { makeSelfSignedCert, startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver';
import { sampleSession } from '../support/sample-session';

const RESOURCE: Attribute[] = [{ key: 'service.name', value: { string: 'tcplife-test' } }];
const SCOPE = { name: 'tcplife-otel', version: '0.0.1' };
const FAST = { retryBaseMs: 5, retryMaxMs: 50 };

function spans(n: number): SpanRecord[] {
  return Array.from({ length: n }, (_, i) =>
    sessionToSpan(sampleSession({ localPort: 40000 + i, pid: 1000 + i }), {
      traceId: randomBytes(16).toString('hex'),
      spanId: randomBytes(8).toString('hex'),
    }),
  );
}

function config(port: number, batch: Partial<OtlpBatchConfig> = {}, over: Partial<OtlpTraceConfig> = {}): OtlpTraceConfig {
  return {
    endpoint: { host: '127.0.0.1', port, secure: false },
    headers: [],
    compression: 'none',
    timeoutMs: 2000,
    batch: { maxQueueSize: 100, maxQueueBytes: 2 ** 30, maxExportBatchSize: 10, maxConcurrentExports: 1, scheduleDelayMs: 20, exportTimeoutMs: 5000, ...batch },
    exporters: ['otlp'],
    disabled: false,
    ...over,
  };
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

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const zero: Omit<SpanExporterCounters, 'spans_exported'> = {
  spans_dropped_queue_full: 0,
  spans_dropped_rejected: 0,
  spans_dropped_shutdown: 0,
  span_export_failures: 0,
  spans_queued: 0,
};

describe('OtlpSpanExporter', function () {
  this.timeout(10000);
  let receivers: OtlpReceiver[] = [];
  let exporters: OtlpSpanExporter[] = [];
  let cleanups: Array<() => void> = [];

  const receiver = async (opts: Parameters<typeof startOtlpReceiver>[0] = {}): Promise<OtlpReceiver> => {
    const r = await startOtlpReceiver(opts);
    receivers.push(r);
    return r;
  };
  const exporter = (...args: ConstructorParameters<typeof OtlpSpanExporter>): OtlpSpanExporter => {
    const e = new OtlpSpanExporter(...args);
    exporters.push(e);
    return e;
  };

  afterEach(async () => {
    await Promise.all(exporters.map((e) => e.shutdown(100)));
    await Promise.all(receivers.map((r) => r.close()));
    cleanups.forEach((c) => c());
    receivers = [];
    exporters = [];
    cleanups = [];
  });

  it('sends spans decoded exactly, in batches of maxExportBatchSize, with headers as metadata', async () => {
    const r = await receiver();
    const e = exporter(
      config(r.port, { maxExportBatchSize: 4 }, { headers: [['x-api-key', 'secret-1']], compression: 'gzip' }),
      RESOURCE,
      SCOPE,
      undefined,
      FAST,
    );
    const sent = spans(10);
    e.add(sent);
    const got = await r.waitForSpans(10, 3000);
    assert.deepEqual(
      r.requests.map((q) => q.request.resourceSpans[0].scopeSpans[0].spans.length),
      [4, 4, 2],
    );
    assert.equal(r.requests[0].metadata['x-api-key'], 'secret-1');
    for (let i = 0; i < sent.length; i++) {
      const s = sent[i];
      const g = got[i];
      assert.equal(g.traceId, s.traceId);
      assert.equal(g.spanId, s.spanId);
      assert.equal(g.name, s.name);
      assert.equal(g.kind, s.kind);
      assert.deepEqual(g.resource.attributes, { 'service.name': 'tcplife-test' });
      assert.equal(g.scope.name, SCOPE.name);
      const expected: Record<string, unknown> = {};
      for (const a of s.attributes) {
        const v = a.value;
        expected[a.key] = v.string ?? (v.int !== undefined ? BigInt(v.int) : (v.double ?? v.bool));
      }
      assert.deepEqual(g.attributes, expected);
    }
    await until(() => e.counters().spans_exported === 10); // the last answer may still be on its way
    assert.deepEqual(e.counters(), { ...zero, spans_exported: 10 });
  });

  it("spans named by a service rule go out under that service's resource: one ResourceSpans per service in a request", async () => {
    const r = await receiver();
    const resource: Attribute[] = [
      { key: 'service.name', value: { string: 'tcplife-test' } },
      { key: 'host.name', value: { string: 'h1' } },
    ];
    const e = exporter(config(r.port, { maxExportBatchSize: 6 }), resource, SCOPE, undefined, FAST);
    const sent = spans(6);
    const services = ['checkout', undefined, 'db', 'checkout', undefined, 'db'];
    sent.forEach((s, i) => (s.service = services[i]));
    e.add(sent);
    const got = await r.waitForSpans(6, 3000);
    assert.equal(r.requests.length, 1, 'one request');
    assert.deepEqual(
      r.requests[0].request.resourceSpans.map((rs: { scopeSpans: Array<{ spans: unknown[] }> }) => rs.scopeSpans[0].spans.length),
      [2, 2, 2],
      'three ResourceSpans, two spans each',
    );
    for (const s of sent) {
      const g = got.find((x) => x.spanId === s.spanId)!;
      assert.deepEqual(g.resource.attributes, { 'service.name': s.service ?? 'tcplife-test', 'host.name': 'h1' });
    }
    await until(() => e.counters().spans_exported === 6);
  });

  it('retries UNAVAILABLE with the same batch until the collector accepts it', async () => {
    const r = await receiver({ respond: (i) => (i < 3 ? grpc.status.UNAVAILABLE : grpc.status.OK) });
    const e = exporter(config(r.port), RESOURCE, SCOPE, undefined, FAST);
    const sent = spans(5);
    e.add(sent);
    await r.waitForSpans(20, 3000); // the same 5 spans, 4 times
    assert.equal(r.requests.length, 4);
    for (const q of r.requests) assert.deepEqual(q.body, r.requests[0].body);
    await until(() => e.counters().spans_exported === 5);
    assert.deepEqual(e.counters(), { ...zero, spans_exported: 5, span_export_failures: 3 });
  });

  it('logs the first failure with its details and the recovery, not every retry', async () => {
    const r = await receiver({
      respond: (i) => (i < 4 ? { code: grpc.status.UNAVAILABLE, details: 'collector restarting' } : grpc.status.OK),
    });
    const lines: string[] = [];
    const e = exporter(config(r.port), RESOURCE, SCOPE, undefined, { ...FAST, log: (l) => lines.push(l) });
    e.add(spans(3));
    await until(() => e.counters().spans_exported === 3);
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(
      lines[0],
      new RegExp(`^span export to http://127\\.0\\.0\\.1:${r.port} failed: UNAVAILABLE: collector restarting; retrying with backoff while 3 spans wait$`),
    );
    assert.match(lines[1], /works again, after 4 failed attempts in \d+\.\d s$/);
  });

  it('logs every dropped batch, with the status', async () => {
    const r = await receiver({ respond: () => ({ code: grpc.status.INVALID_ARGUMENT, details: 'bad span' }) });
    const lines: string[] = [];
    const e = exporter(config(r.port, { maxExportBatchSize: 2 }), RESOURCE, SCOPE, undefined, { ...FAST, log: (l) => lines.push(l) });
    e.add(spans(4));
    await until(() => e.counters().spans_dropped_rejected === 4);
    assert.deepEqual(
      lines.map((l) => l.replace(/^.*failed: /, '')),
      ['INVALID_ARGUMENT: bad span; 2 spans dropped (not retryable)', 'INVALID_ARGUMENT: bad span; 2 spans dropped (not retryable)'],
    );
  });

  it('delivers everything buffered once a collector that was down comes up', async () => {
    const port = await freePort();
    const e = exporter(config(port, { maxExportBatchSize: 5 }), RESOURCE, SCOPE, undefined, FAST);
    const sent = spans(12);
    e.add(sent);
    await until(() => e.counters().span_export_failures >= 2);
    const r = await receiver({ port });
    const got = await r.waitForSpans(12, 5000);
    assert.deepEqual(
      got.map((s) => s.spanId),
      sent.map((s) => s.spanId),
    );
    await until(() => e.counters().spans_exported === 12);
    const c = e.counters();
    assert.deepEqual({ ...c, span_export_failures: 0 }, { ...zero, spans_exported: 12 });
  });

  it('drops and counts what exceeds maxQueueSize, then delivers the rest on recovery', async () => {
    let down = true;
    const r = await receiver({ respond: () => (down ? grpc.status.UNAVAILABLE : grpc.status.OK) });
    const e = exporter(config(r.port, { maxQueueSize: 10, maxExportBatchSize: 5 }), RESOURCE, SCOPE, undefined, FAST);
    const sent = spans(25);
    e.add(sent);
    assert.equal(e.counters().spans_dropped_queue_full, 15);
    assert.equal(e.counters().spans_queued, 10);
    await until(() => e.counters().span_export_failures >= 3);
    e.add(spans(2)); // still full: dropped too
    assert.equal(e.counters().spans_dropped_queue_full, 17);
    down = false;
    await until(() => e.counters().spans_exported === 10);
    const delivered = r.spans().filter((s) => r.requests[s.requestIndex].responseCode === grpc.status.OK);
    assert.deepEqual(
      delivered.map((s) => s.spanId),
      sent.slice(0, 10).map((s) => s.spanId),
    );
    assert.equal(e.counters().spans_queued, 0);
    assert.equal(e.counters().spans_dropped_rejected, 0);
  });

  it('is bounded by memory when OTEL_BSP_MAX_QUEUE_SIZE is unset: the newest past export_queue_mib are dropped and counted', async () => {
    const r = await receiver({ respond: () => grpc.status.UNAVAILABLE });
    const probe = exporter(config(r.port, { maxQueueSize: undefined, scheduleDelayMs: 60_000 }), RESOURCE, SCOPE, undefined, FAST);
    probe.add(spans(1));
    const perSpan = probe.queuedBytes(); // its encoded bytes and the queue's overhead
    assert.ok(perSpan > 500 && perSpan < 2000, `${perSpan} bytes per queued span`);
    const e = exporter(
      config(r.port, { maxQueueSize: undefined, maxQueueBytes: Math.floor(perSpan * 10.5), maxExportBatchSize: 5 }),
      RESOURCE,
      SCOPE,
      undefined,
      { ...FAST, packAboveBytes: Infinity }, // packing would make room: see the next tests
    );
    const sent = spans(25);
    e.add(sent);
    assert.deepEqual([e.counters().spans_queued, e.counters().spans_dropped_queue_full], [10, 15], 'ten fit in 10.5 spans of memory');
    assert.ok(e.queuedBytes() <= perSpan * 10.5);
    await until(() => e.counters().span_export_failures >= 2);
    assert.equal(e.counters().spans_queued, 10, 'the oldest wait while the collector is down');
  });

  it('a backlog is packed: the same memory holds several times the spans, and each arrives exactly', async () => {
    const port = await freePort();
    const sent = spans(200);
    const unpacked = exporter(config(port, { maxQueueSize: undefined, scheduleDelayMs: 60_000 }), RESOURCE, SCOPE, undefined, {
      ...FAST,
      packAboveBytes: Infinity,
    });
    unpacked.add(sent);
    const unpackedBytes = unpacked.queuedBytes();
    await unpacked.shutdown(0); // it only measures: it must not send when the collector comes up
    const e = exporter(config(port, { maxQueueSize: undefined, maxExportBatchSize: 20, maxConcurrentExports: 2 }), RESOURCE, SCOPE, undefined, {
      ...FAST,
      packAboveBytes: 0,
    });
    e.add(sent);
    await until(() => e.counters().span_export_failures >= 2);
    // 200 spans, 10 chunks: the 2 next in line stay as they are, the other 8 are packed.
    assert.ok(e.queuedBytes() < unpackedBytes * (2 / 10 + 8 / 10 / 4), `${e.queuedBytes()} bytes packed, ${unpackedBytes} not`);
    assert.equal(e.counters().spans_queued, 200);
    const r = await receiver({ port });
    const got = await r.waitForSpans(200, 5000);
    const byId = new Map(got.map((g) => [g.spanId, g]));
    assert.equal(byId.size, 200, 'each span once');
    for (const s of sent) {
      const g = byId.get(s.spanId);
      assert.ok(g, `span ${s.spanId} arrived`);
      assert.equal(g.traceId, s.traceId);
      const expected: Record<string, unknown> = {};
      for (const { key, value: v } of s.attributes) expected[key] = v.string ?? (v.int !== undefined ? BigInt(v.int) : (v.double ?? v.bool));
      assert.deepEqual(g.attributes, expected);
    }
    for (const q of r.requests) assert.ok(q.request.resourceSpans[0].scopeSpans[0].spans.length <= 20);
    await until(() => e.counters().spans_exported === 200);
    assert.deepEqual({ ...e.counters(), span_export_failures: 0 }, { ...zero, spans_exported: 200 });
  });

  it('keeps up to maxConcurrentExports requests in flight, never more', async () => {
    const r = await receiver({ respond: () => ({ code: grpc.status.OK, afterMs: 300 }) });
    const e = exporter(config(r.port, { maxQueueSize: undefined, maxExportBatchSize: 5, maxConcurrentExports: 3 }), RESOURCE, SCOPE, undefined, FAST);
    const sent = spans(20);
    e.add(sent);
    await until(() => r.requests.length === 3, 2000);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(r.requests.length, 3, 'the fourth waits for an answer');
    assert.equal(e.counters().spans_exported, 0);
    const got = await r.waitForSpans(20, 5000);
    assert.deepEqual(got.map((g) => g.spanId).sort(), sent.map((s) => s.spanId).sort());
    await until(() => e.counters().spans_exported === 20);
    assert.deepEqual(e.counters(), { ...zero, spans_exported: 20 });
  });

  it('retries each request in flight on its own', async () => {
    // Requests 0 and 2 fail once; 1 goes through: its spans are not held back by the others' retries.
    const r = await receiver({ respond: (i) => (i === 0 || i === 1 ? grpc.status.UNAVAILABLE : grpc.status.OK) });
    const e = exporter(config(r.port, { maxQueueSize: undefined, maxExportBatchSize: 4, maxConcurrentExports: 3 }), RESOURCE, SCOPE, undefined, FAST);
    const sent = spans(12);
    e.add(sent);
    const got = await r.waitForSpans(12 + 8, 5000);
    const delivered = r.spans().filter((s) => r.requests[s.requestIndex].responseCode === grpc.status.OK);
    assert.deepEqual(delivered.map((s) => s.spanId).sort(), sent.map((s) => s.spanId).sort(), 'each span delivered once');
    assert.equal(got.length, 20, 'the two failed batches were sent twice');
    await until(() => e.counters().spans_exported === 12);
    assert.deepEqual(e.counters(), { ...zero, spans_exported: 12, span_export_failures: 2 });
  });

  it('OTEL_BSP_EXPORT_TIMEOUT bounds each attempt when it is shorter than the exporter timeout', async () => {
    // A collector that takes connections and never answers: only a deadline ends an attempt.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const e = exporter(config(port, { exportTimeoutMs: 150 }, { timeoutMs: 10_000 }), RESOURCE, SCOPE, undefined, FAST);
      const t0 = Date.now();
      e.add(spans(3));
      await until(() => e.counters().span_export_failures >= 2, 3000);
      assert.ok(Date.now() - t0 < 3000, 'attempts end at 150 ms, not at the 10 s exporter timeout');
      await e.shutdown(0);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('drops a batch answered INVALID_ARGUMENT without retrying', async () => {
    const r = await receiver({
      respond: (i) => (i === 0 ? { code: grpc.status.INVALID_ARGUMENT, details: 'bad' } : grpc.status.OK),
    });
    const e = exporter(config(r.port, { maxExportBatchSize: 3 }), RESOURCE, SCOPE, undefined, FAST);
    const sent = spans(5);
    e.add(sent);
    await until(() => e.counters().spans_exported === 2);
    await new Promise((res) => setTimeout(res, 50)); // room for a (wrong) retry
    assert.equal(r.requests.length, 2);
    assert.deepEqual(
      r
        .spans()
        .filter((s) => s.requestIndex === 1)
        .map((s) => s.spanId),
      sent.slice(3).map((s) => s.spanId),
    );
    assert.deepEqual(e.counters(), { ...zero, spans_exported: 2, spans_dropped_rejected: 3, span_export_failures: 1 });
  });

  it('exports over TLS with the CA passed in', async () => {
    const cert = makeSelfSignedCert();
    cleanups.push(() => cert.cleanup());
    const r = await receiver({ tls: { cert: cert.cert, key: cert.key } });
    const e = exporter(config(r.port, {}, { endpoint: { host: 'localhost', port: r.port, secure: true } }), RESOURCE, SCOPE, { ca: cert.cert }, FAST);
    e.add(spans(3));
    await r.waitForSpans(3, 5000);
    await until(() => e.counters().spans_exported === 3);
  });

  it('shutdown flushes pending spans at once, is idempotent, and drops later spans', async () => {
    const r = await receiver();
    const e = exporter(config(r.port, { scheduleDelayMs: 60_000 }), RESOURCE, SCOPE, undefined, FAST);
    e.add(spans(3));
    const p1 = e.shutdown(2000);
    const p2 = e.shutdown(2000);
    assert.equal(p1, p2);
    await p1;
    assert.equal(r.spans().length, 3);
    e.add(spans(2));
    await e.shutdown(10);
    assert.deepEqual(e.counters(), { ...zero, spans_exported: 3, spans_dropped_shutdown: 2 });
  });

  it('shutdown with the collector down resolves by its deadline and counts the rest', async () => {
    const port = await freePort();
    const e = exporter(config(port, { maxExportBatchSize: 4 }), RESOURCE, SCOPE, undefined, FAST);
    e.add(spans(7));
    const t0 = Date.now();
    await e.shutdown(200);
    const took = Date.now() - t0;
    assert.ok(took >= 150 && took < 400, `shutdown took ${took} ms`);
    const c = e.counters();
    assert.equal(c.spans_dropped_shutdown, 7);
    assert.equal(c.spans_queued, 0);
    assert.equal(c.spans_exported, 0);
    assert.ok(c.span_export_failures >= 1);
  });
});
