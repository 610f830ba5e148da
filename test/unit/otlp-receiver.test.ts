// Proves test/support/otlp-receiver decodes what the STOCK OTLP/gRPC exporters
// (traces and metrics) send, so later tests can trust it when checking ours.
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { context, trace, SpanKind as ApiSpanKind, SpanStatusCode, ValueType, type HrTime } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { AggregationTemporality as SdkTemporality, AggregationType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { resources } from '@opentelemetry/sdk-node';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality,
  makeSelfSignedCert,
  startOtlpReceiver,
  SpanKind,
  StatusCode,
  type OtlpReceiver,
  type SelfSignedCert,
} from '../support/otlp-receiver';

type ExportResult = { code: number; error?: Error };
const SUCCESS = 0; // ExportResultCode.SUCCESS in @opentelemetry/core
const FAILED = 1;
// The exporter types compression as an enum of the transitive otlp-exporter-base package.
type ExporterConfig = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>;
const GZIP = 'gzip' as ExporterConfig['compression'];

/** exporter.export as a promise, bounded so a hung export fails the test instead of hanging it. */
function exportSpans(exporter: OTLPTraceExporter, spans: ReadableSpan[], timeoutMs = 8000): Promise<ExportResult> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`export did not finish in ${timeoutMs} ms`)), timeoutMs);
    exporter.export(spans, (result) => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}

const hr = (sec: number, nanos: number): HrTime => [sec, nanos];
const START_A = hr(1_700_000_000, 123_456_789);
const END_A = hr(1_700_000_001, 987_654_321);
const START_B = hr(1_700_000_000, 500_000_000);
const END_B = hr(1_700_000_000, 750_000_001);
const ns = (t: HrTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

describe('otlp-receiver (against the stock OTLP/gRPC exporter)', function () {
  this.timeout(20000);

  let provider: BasicTracerProvider;
  let spans: ReadableSpan[];
  const receivers: OtlpReceiver[] = [];
  const exporters: OTLPTraceExporter[] = [];
  let cert: SelfSignedCert | undefined;

  before(async function () {
    const memory = new InMemorySpanExporter();
    provider = new BasicTracerProvider({
      resource: resources.resourceFromAttributes({ 'service.name': 'tcplife-otel-test', 'host.name': 'h1' }),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    });
    const tracer = provider.getTracer('receiver-test', '1.2.3');
    const parent = tracer.startSpan('tcp 10.0.0.1:443', {
      kind: ApiSpanKind.CLIENT,
      startTime: START_A,
      attributes: {
        'net.peer.name': 'example.test',
        'net.peer.port': 443,
        'tcp.rtt_ms': 1.25,
        'tcp.ipv6': false,
        'tcp.tags': ['a', 'b'],
      },
    });
    parent.addEvent('retransmit', { 'tcp.seq': 42 }, hr(1_700_000_001, 1));
    parent.setStatus({ code: SpanStatusCode.ERROR, message: 'reset by peer' });
    const child = tracer.startSpan(
      'accept',
      { kind: ApiSpanKind.SERVER, startTime: START_B, attributes: { 'bytes.received': 7 } },
      trace.setSpan(context.active(), parent),
    );
    child.setStatus({ code: SpanStatusCode.OK });
    child.end(END_B);
    parent.end(END_A);
    spans = memory.getFinishedSpans();
    assert.equal(spans.length, 2);
  });

  after(async function () {
    for (const e of exporters) await e.shutdown().catch(() => undefined);
    for (const r of receivers) await r.close();
    await provider?.shutdown();
    cert?.cleanup();
  });

  it('decodes names, kinds, attributes, status, times, ids, resource and metadata', async function () {
    const receiver = await startOtlpReceiver();
    receivers.push(receiver);
    const metadata = new grpc.Metadata();
    metadata.set('x-test-token', 'secret-123');
    const exporter = new OTLPTraceExporter({ url: `http://${receiver.address}`, metadata, timeoutMillis: 5000 });
    exporters.push(exporter);

    const result = await exportSpans(exporter, spans);
    assert.equal(result.code, SUCCESS, String(result.error));
    const got = await receiver.waitForSpans(2, 5000);
    assert.equal(receiver.requests.length, 1);
    assert.equal(receiver.requests[0].responseCode, grpc.status.OK);
    assert.deepEqual(receiver.requests[0].metadata['x-test-token'], 'secret-123');
    assert.match(String(receiver.requests[0].metadata['user-agent']), /OTel-OTLP-Exporter-JavaScript/);
    assert.equal(receiver.requests[0].request.resourceSpans.length, 1);

    const byName = new Map(got.map((s) => [s.name, s]));
    assert.deepEqual([...byName.keys()].sort(), ['accept', 'tcp 10.0.0.1:443']);
    const a = byName.get('tcp 10.0.0.1:443')!;
    const b = byName.get('accept')!;
    const [pa, pb] = [spans.find((s) => s.name === a.name)!, spans.find((s) => s.name === b.name)!];

    // ids: hex, as the SDK generated them; the child points at the parent
    assert.match(a.traceId, /^[0-9a-f]{32}$/);
    assert.match(a.spanId, /^[0-9a-f]{16}$/);
    assert.equal(a.traceId, pa.spanContext().traceId);
    assert.equal(a.spanId, pa.spanContext().spanId);
    assert.equal(a.parentSpanId, '');
    assert.equal(b.traceId, a.traceId);
    assert.equal(b.spanId, pb.spanContext().spanId);
    assert.equal(b.parentSpanId, a.spanId);
    assert.equal(a.flags & 0xff, 1); // sampled

    assert.equal(a.kind, SpanKind.CLIENT);
    assert.equal(b.kind, SpanKind.SERVER);
    assert.equal(a.startTimeUnixNano, ns(START_A));
    assert.equal(a.endTimeUnixNano, ns(END_A));
    assert.equal(b.startTimeUnixNano, ns(START_B));
    assert.equal(b.endTimeUnixNano, ns(END_B));

    // attribute types survive: int -> bigint, double -> number
    assert.deepEqual(a.attributes, {
      'net.peer.name': 'example.test',
      'net.peer.port': 443n,
      'tcp.rtt_ms': 1.25,
      'tcp.ipv6': false,
      'tcp.tags': ['a', 'b'],
    });
    assert.deepEqual(b.attributes, { 'bytes.received': 7n });
    assert.deepEqual(a.status, { code: StatusCode.ERROR, message: 'reset by peer' });
    assert.equal(b.status.code, StatusCode.OK);
    assert.deepEqual(a.events, [{ timeUnixNano: ns(hr(1_700_000_001, 1)), name: 'retransmit', attributes: { 'tcp.seq': 42n }, droppedAttributesCount: 0 }]);

    assert.equal(a.resource.attributes['service.name'], 'tcplife-otel-test');
    assert.equal(a.resource.attributes['host.name'], 'h1');
    assert.equal(a.scope.name, 'receiver-test');
    assert.equal(a.scope.version, '1.2.3');
  });

  it('decodes gzip-compressed requests (grpc-js inflates them before the handler)', async function () {
    const receiver = await startOtlpReceiver();
    receivers.push(receiver);
    const exporter = new OTLPTraceExporter({ url: `http://${receiver.address}`, compression: GZIP, timeoutMillis: 5000 });
    exporters.push(exporter);

    const result = await exportSpans(exporter, spans);
    assert.equal(result.code, SUCCESS, String(result.error));
    const got = await receiver.waitForSpans(2, 5000);
    assert.deepEqual(got.map((s) => s.name).sort(), ['accept', 'tcp 10.0.0.1:443']);
  });

  it('serves TLS with a self-signed certificate', async function () {
    cert = makeSelfSignedCert();
    const receiver = await startOtlpReceiver({ tls: { cert: cert.cert, key: cert.key } });
    receivers.push(receiver);
    const exporter = new OTLPTraceExporter({
      url: `https://localhost:${receiver.port}`, // a host name: TLS SNI may not be an IP (DEP0123)
      credentials: grpc.credentials.createSsl(cert.cert),
      timeoutMillis: 5000,
    });
    exporters.push(exporter);

    const result = await exportSpans(exporter, spans.slice(0, 1));
    assert.equal(result.code, SUCCESS, String(result.error));
    const got = await receiver.waitForSpans(1, 5000);
    assert.equal(got.length, 1);
    assert.equal(got[0].name, spans[0].name);
    assert.equal(got[0].spanId, spans[0].spanContext().spanId);
  });

  it('answers UNAVAILABLE when told to, and the export fails', async function () {
    const receiver = await startOtlpReceiver({ respond: () => grpc.status.UNAVAILABLE });
    receivers.push(receiver);
    // The exporter may or may not retry UNAVAILABLE (0.223 does not); either way it ends in failure.
    const exporter = new OTLPTraceExporter({ url: `http://${receiver.address}`, timeoutMillis: 1500 });
    exporters.push(exporter);

    const result = await exportSpans(exporter, spans, 8000);
    assert.equal(result.code, FAILED);
    assert.ok(receiver.requests.length >= 1, 'the receiver saw the attempt');
    for (const r of receiver.requests) {
      assert.equal(r.responseCode, grpc.status.UNAVAILABLE);
      assert.equal(r.request.resourceSpans[0].scopeSpans[0].spans.length, 2, 'still decoded and recorded');
    }
  });

  it('answers per request index: RESOURCE_EXHAUSTED first, then OK', async function () {
    const receiver = await startOtlpReceiver({
      respond: (i) => (i === 0 ? grpc.status.RESOURCE_EXHAUSTED : grpc.status.OK),
    });
    receivers.push(receiver);
    const exporter = new OTLPTraceExporter({ url: `http://${receiver.address}`, timeoutMillis: 3000 });
    exporters.push(exporter);

    // The stock gRPC exporter (0.223) does not retry on any gRPC status: each
    // export is one request, and an error status fails that export.
    assert.equal((await exportSpans(exporter, spans.slice(1))).code, FAILED);
    const second = await exportSpans(exporter, spans.slice(1));
    assert.equal(second.code, SUCCESS, String(second.error));
    assert.deepEqual(
      receiver.requests.map((r) => r.responseCode),
      [grpc.status.RESOURCE_EXHAUSTED, grpc.status.OK],
    );
    assert.equal((await receiver.waitForSpans(2, 1000)).length, 2); // the same span, recorded once per request
  });
});

/** A pull reader: collect() on demand (the tests export what it returns themselves). */
class PullReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

/** exporter.export as a promise, bounded (see exportSpans). */
function exportMetrics(exporter: OTLPMetricExporter, rm: ResourceMetrics, timeoutMs = 8000): Promise<ExportResult> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`metric export did not finish in ${timeoutMs} ms`)), timeoutMs);
    exporter.export(rm, (result) => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}

/** What the SDK collected, for one metric: [attributes, value, start, end] per point. */
function sdkPoints(rm: ResourceMetrics, name: string): Array<{ attributes: object; value: unknown; start: bigint; end: bigint }> {
  const metric = rm.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  assert.ok(metric, `the SDK collected ${name}`);
  return (metric.dataPoints as Array<{ attributes: object; value: unknown; startTime: HrTime; endTime: HrTime }>).map((p) => ({
    attributes: p.attributes,
    value: p.value,
    start: ns(p.startTime),
    end: ns(p.endTime),
  }));
}

describe('otlp-receiver metrics (against the stock OTLP/gRPC metric exporter)', function () {
  this.timeout(20000);

  const receivers: OtlpReceiver[] = [];
  const exporters: Array<{ shutdown(): Promise<void> }> = [];
  const providers: MeterProvider[] = [];
  const certs: SelfSignedCert[] = [];

  const receiver = async (opts: Parameters<typeof startOtlpReceiver>[0] = {}): Promise<OtlpReceiver> => {
    const r = await startOtlpReceiver(opts);
    receivers.push(r);
    return r;
  };
  const metricExporter = (config: ConstructorParameters<typeof OTLPMetricExporter>[0]): OTLPMetricExporter => {
    const e = new OTLPMetricExporter({ timeoutMillis: 5000, ...config });
    exporters.push(e);
    return e;
  };
  /** A MeterProvider with a pull reader; views optional. */
  const meterProvider = (reader: MetricReader, views: ConstructorParameters<typeof MeterProvider>[0] = {}): MeterProvider => {
    const p = new MeterProvider({
      resource: resources.resourceFromAttributes({ 'service.name': 'tcplife-otel-test', 'host.name': 'h1' }),
      readers: [reader],
      ...views,
    });
    providers.push(p);
    return p;
  };

  afterEach(async function () {
    for (const e of exporters.splice(0)) await e.shutdown().catch(() => undefined);
    for (const p of providers.splice(0)) await p.shutdown().catch(() => undefined);
    for (const r of receivers.splice(0)) await r.close();
    for (const c of certs.splice(0)) c.cleanup();
  });

  it('decodes sums, gauges and histograms: types, int/double values, attributes, times, resource, scope, metadata', async function () {
    const r = await receiver();
    const reader = new PullReader();
    const provider = meterProvider(reader, {
      views: [{ instrumentName: 'tlo.test.latency.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
    });
    const meter = provider.getMeter('receiver-metrics-test', '4.5.6');
    const sessions = meter.createCounter('tlo.test.sessions', { description: 'sessions seen', unit: '{session}', valueType: ValueType.INT });
    sessions.add(3, { role: 'client' });
    sessions.add(4, { role: 'server' });
    sessions.add(2, { role: 'client' });
    const inFlight = meter.createUpDownCounter('tlo.test.in_flight', { valueType: ValueType.INT });
    inFlight.add(5);
    inFlight.add(-7); // a negative sfixed64 must survive
    const ratio = meter.createGauge('tlo.test.ratio', { unit: '1', valueType: ValueType.DOUBLE });
    ratio.record(0.25, { queue: 'spans' });
    const latency = meter.createHistogram('tlo.test.latency', { unit: 'ms', advice: { explicitBucketBoundaries: [1, 10] } });
    for (const v of [0.5, 5, 50, 7]) latency.record(v);
    const latencyExp = meter.createHistogram('tlo.test.latency.exp', { unit: 'ms' });
    for (const v of [1, 2, 4]) latencyExp.record(v);

    const { resourceMetrics, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    const metadata = new grpc.Metadata();
    metadata.set('x-test-token', 'metric-secret');
    const result = await exportMetrics(metricExporter({ url: `http://${r.address}`, metadata }), resourceMetrics);
    assert.equal(result.code, SUCCESS, String(result.error));

    assert.equal(r.metricRequests.length, 1);
    assert.equal(r.requests.length, 0, 'metrics are not recorded as trace requests');
    assert.deepEqual(r.spans(), []);
    assert.equal(r.metricRequests[0].responseCode, grpc.status.OK);
    assert.equal(r.metricRequests[0].metadata['x-test-token'], 'metric-secret');
    assert.match(String(r.metricRequests[0].metadata['user-agent']), /OTel-OTLP-Exporter-JavaScript/);

    const points = r.metrics();
    const by = (name: string) => points.filter((p) => p.name === name);

    // Monotonic cumulative sum of ints: values are BigInts, one point per attribute set.
    const sdkSessions = sdkPoints(resourceMetrics, 'tlo.test.sessions');
    assert.deepEqual(
      by('tlo.test.sessions').map((p) => [p.type, p.isMonotonic, p.aggregationTemporality, p.description, p.unit, p.attributes, p.value]),
      [
        ['sum', true, AggregationTemporality.CUMULATIVE, 'sessions seen', '{session}', { role: 'client' }, 5n],
        ['sum', true, AggregationTemporality.CUMULATIVE, 'sessions seen', '{session}', { role: 'server' }, 4n],
      ],
    );
    for (const [i, p] of by('tlo.test.sessions').entries()) {
      assert.equal(p.startTimeUnixNano, sdkSessions[i].start, 'start time, to the nanosecond');
      assert.equal(p.timeUnixNano, sdkSessions[i].end, 'time, to the nanosecond');
      assert.ok(p.timeUnixNano >= p.startTimeUnixNano && p.startTimeUnixNano > 1_600_000_000n * 1_000_000_000n);
      assert.equal(p.flags, 0);
      assert.equal(p.exemplarCount, 0);
    }

    // Non-monotonic sum (up-down counter) with a negative int.
    const [upDown] = by('tlo.test.in_flight');
    assert.deepEqual([upDown.type, upDown.isMonotonic, upDown.aggregationTemporality, upDown.value], ['sum', false, AggregationTemporality.CUMULATIVE, -2n]);

    // Gauge of doubles: a number, no temporality, no monotonicity.
    const [gauge] = by('tlo.test.ratio');
    assert.deepEqual(
      [gauge.type, gauge.value, gauge.unit, gauge.attributes, gauge.isMonotonic, gauge.aggregationTemporality],
      ['gauge', 0.25, '1', { queue: 'spans' }, undefined, undefined],
    );
    assert.equal(typeof gauge.value, 'number');

    // Explicit-bucket histogram: value is the sum; the details keep counts as BigInts.
    const [hist] = by('tlo.test.latency');
    assert.equal(hist.type, 'histogram');
    assert.equal(hist.aggregationTemporality, AggregationTemporality.CUMULATIVE);
    assert.equal(hist.value, 62.5);
    assert.deepEqual(hist.histogram, { count: 4n, sum: 62.5, min: 0.5, max: 50, bucketCounts: [1n, 2n, 1n], explicitBounds: [1, 10] });

    // Exponential histogram (through a view).
    const [exp] = by('tlo.test.latency.exp');
    assert.equal(exp.type, 'exponentialHistogram');
    assert.equal(exp.aggregationTemporality, AggregationTemporality.CUMULATIVE);
    const sdkExp = sdkPoints(resourceMetrics, 'tlo.test.latency.exp')[0].value as {
      count: number;
      sum: number;
      min: number;
      max: number;
      scale: number;
      zeroCount: number;
      positive: { offset: number; bucketCounts: number[] };
      negative: { offset: number; bucketCounts: number[] };
    };
    assert.deepEqual(exp.exponentialHistogram, {
      count: 3n,
      sum: 7,
      min: 1,
      max: 4,
      scale: sdkExp.scale,
      zeroCount: BigInt(sdkExp.zeroCount),
      zeroThreshold: 0,
      positive: { offset: sdkExp.positive.offset, bucketCounts: sdkExp.positive.bucketCounts.map(BigInt) },
      negative: { offset: sdkExp.negative.offset, bucketCounts: sdkExp.negative.bucketCounts.map(BigInt) },
    });
    assert.equal(
      exp.exponentialHistogram!.positive.bucketCounts.reduce((a, b) => a + b, 0n),
      3n,
      'every value in a positive bucket',
    );

    for (const p of points) {
      assert.equal(p.resource.attributes['service.name'], 'tcplife-otel-test');
      assert.equal(p.resource.attributes['host.name'], 'h1');
      assert.equal(p.scope.name, 'receiver-metrics-test');
      assert.equal(p.scope.version, '4.5.6');
      assert.deepEqual(p.metadata, {});
      assert.equal(p.requestIndex, 0);
    }
    assert.deepEqual([...new Set(points.map((p) => p.name))].sort(), [
      'tlo.test.in_flight',
      'tlo.test.latency',
      'tlo.test.latency.exp',
      'tlo.test.ratio',
      'tlo.test.sessions',
    ]);
  });

  it('decodes delta temporality and gzip-compressed metric requests', async function () {
    const r = await receiver();
    const exporter = metricExporter({ url: `http://${r.address}`, compression: GZIP, temporalityPreference: SdkTemporality.DELTA });
    const reader = new PullReader({ aggregationTemporalitySelector: (t) => exporter.selectAggregationTemporality(t) });
    const counter = meterProvider(reader).getMeter('delta-test').createCounter('tlo.test.bytes', { unit: 'By', valueType: ValueType.INT });

    counter.add(3);
    assert.equal((await exportMetrics(exporter, (await reader.collect()).resourceMetrics)).code, SUCCESS);
    counter.add(4);
    assert.equal((await exportMetrics(exporter, (await reader.collect()).resourceMetrics)).code, SUCCESS);

    const points = r.metrics().filter((p) => p.name === 'tlo.test.bytes');
    assert.deepEqual(
      points.map((p) => [p.requestIndex, p.type, p.isMonotonic, p.aggregationTemporality, p.unit, p.value]),
      [
        [0, 'sum', true, AggregationTemporality.DELTA, 'By', 3n],
        [1, 'sum', true, AggregationTemporality.DELTA, 'By', 4n], // delta: 4, not 7
      ],
    );
    assert.equal(points[1].startTimeUnixNano, points[0].timeUnixNano, 'delta intervals are contiguous');
  });

  it('waitForMetric resolves with the latest matching point, and rejects naming what arrived', async function () {
    const r = await receiver();
    const exporter = metricExporter({ url: `http://${r.address}` });
    const reader = new PullReader();
    const counter = meterProvider(reader).getMeter('wait-test').createCounter('tlo.test.spans', { valueType: ValueType.INT });
    const send = async () => assert.equal((await exportMetrics(exporter, (await reader.collect()).resourceMetrics)).code, SUCCESS);

    counter.add(1);
    await send();
    const waiting = r.waitForMetric('tlo.test.spans', (p) => p.value === 3n, 5000);
    counter.add(2);
    await send();
    const got = await waiting;
    assert.deepEqual([got.value, got.requestIndex], [3n, 1]);

    // Without a predicate: the latest point of that name.
    counter.add(1);
    await send();
    assert.equal((await r.waitForMetric('tlo.test.spans')).value, 4n);

    await assert.rejects(
      r.waitForMetric('tlo.test.nope', undefined, 200),
      /waitForMetric\("tlo\.test\.nope"\): none of it; names seen: \["tlo\.test\.spans"\]/,
    );
    await assert.rejects(
      r.waitForMetric('tlo.test.spans', (p) => p.value === 99n, 200),
      /3 point\(s\) of it, none matching; the last: .*"value":"4n"/,
    );
  });

  it('answers metric requests as respondMetrics says, independently of traces on the same server', async function () {
    const r = await receiver({
      respond: () => grpc.status.OK,
      respondMetrics: (i) => (i === 0 ? grpc.status.UNAVAILABLE : grpc.status.OK),
    });
    const exporter = metricExporter({ url: `http://${r.address}` });
    const reader = new PullReader();
    meterProvider(reader).getMeter('respond-test').createCounter('tlo.test.c').add(1);
    const rm = (await reader.collect()).resourceMetrics;

    assert.equal((await exportMetrics(exporter, rm)).code, FAILED);
    assert.equal((await exportMetrics(exporter, rm)).code, SUCCESS);
    assert.deepEqual(
      r.metricRequests.map((q) => q.responseCode),
      [grpc.status.UNAVAILABLE, grpc.status.OK],
    );
    assert.equal(r.metrics().length, 2, 'a refused request is still decoded and recorded');

    const traces = new OTLPTraceExporter({ url: `http://${r.address}`, timeoutMillis: 5000 });
    exporters.push(traces);
    assert.equal((await exportSpans(traces, [])).code, SUCCESS);
    assert.equal(r.requests.length, 1, 'the trace service on the same port');
    assert.equal(r.metricRequests.length, 2);
  });

  it("mutual TLS: records the client's certificate; a client without one fails the handshake", async function () {
    const server = makeSelfSignedCert();
    const client = makeSelfSignedCert({ commonName: 'tlo-test-client' });
    certs.push(server, client);
    const r = await receiver({ tls: { cert: server.cert, key: server.key, clientCa: client.cert } });
    const url = `https://localhost:${r.port}`;
    const reader = new PullReader();
    meterProvider(reader).getMeter('mtls-test').createCounter('tlo.test.c').add(1);
    const rm = (await reader.collect()).resourceMetrics;

    const withCert = metricExporter({ url, credentials: grpc.credentials.createSsl(server.cert, client.key, client.cert) });
    const ok = await exportMetrics(withCert, rm);
    assert.equal(ok.code, SUCCESS, String(ok.error));
    assert.deepEqual(r.metricRequests[0].peerCertificate, {
      subjectCN: 'tlo-test-client',
      issuerCN: 'tlo-test-client',
      fingerprint256: new X509Certificate(client.cert).fingerprint256,
    });

    const withoutCert = metricExporter({ url, credentials: grpc.credentials.createSsl(server.cert), timeoutMillis: 2000 });
    assert.equal((await exportMetrics(withoutCert, rm)).code, FAILED);
    assert.equal(r.metricRequests.length, 1, 'the handshake failed: nothing reached the handler');
  });
});
