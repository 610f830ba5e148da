// Proves test/support/otlp-receiver decodes what the STOCK OTLP/gRPC exporter
// sends, so later tests can trust it when checking our own exporter.
import { strict as assert } from "node:assert";
import * as grpc from "@grpc/grpc-js";
import { context, trace, SpanKind as ApiSpanKind, SpanStatusCode, type HrTime } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { resources } from "@opentelemetry/sdk-node";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import {
  makeSelfSignedCert,
  startOtlpReceiver,
  SpanKind,
  StatusCode,
  type OtlpReceiver,
  type SelfSignedCert,
} from "../support/otlp-receiver";

type ExportResult = { code: number; error?: Error };
const SUCCESS = 0; // ExportResultCode.SUCCESS in @opentelemetry/core
const FAILED = 1;
// The exporter types compression as an enum of the transitive otlp-exporter-base package.
type ExporterConfig = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>;
const GZIP = "gzip" as ExporterConfig["compression"];

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

describe("otlp-receiver (against the stock OTLP/gRPC exporter)", function () {
  this.timeout(20000);

  let provider: BasicTracerProvider;
  let spans: ReadableSpan[];
  const receivers: OtlpReceiver[] = [];
  const exporters: OTLPTraceExporter[] = [];
  let cert: SelfSignedCert | undefined;

  before(async function () {
    const memory = new InMemorySpanExporter();
    provider = new BasicTracerProvider({
      resource: resources.resourceFromAttributes({ "service.name": "tcplife-otel-test", "host.name": "h1" }),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    });
    const tracer = provider.getTracer("receiver-test", "1.2.3");
    const parent = tracer.startSpan("tcp 10.0.0.1:443", {
      kind: ApiSpanKind.CLIENT,
      startTime: START_A,
      attributes: {
        "net.peer.name": "example.test",
        "net.peer.port": 443,
        "tcp.rtt_ms": 1.25,
        "tcp.ipv6": false,
        "tcp.tags": ["a", "b"],
      },
    });
    parent.addEvent("retransmit", { "tcp.seq": 42 }, hr(1_700_000_001, 1));
    parent.setStatus({ code: SpanStatusCode.ERROR, message: "reset by peer" });
    const child = tracer.startSpan(
      "accept",
      { kind: ApiSpanKind.SERVER, startTime: START_B, attributes: { "bytes.received": 7 } },
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

  it("decodes names, kinds, attributes, status, times, ids, resource and metadata", async function () {
    const receiver = await startOtlpReceiver();
    receivers.push(receiver);
    const metadata = new grpc.Metadata();
    metadata.set("x-test-token", "secret-123");
    const exporter = new OTLPTraceExporter({ url: `http://${receiver.address}`, metadata, timeoutMillis: 5000 });
    exporters.push(exporter);

    const result = await exportSpans(exporter, spans);
    assert.equal(result.code, SUCCESS, String(result.error));
    const got = await receiver.waitForSpans(2, 5000);
    assert.equal(receiver.requests.length, 1);
    assert.equal(receiver.requests[0].responseCode, grpc.status.OK);
    assert.deepEqual(receiver.requests[0].metadata["x-test-token"], "secret-123");
    assert.match(String(receiver.requests[0].metadata["user-agent"]), /OTel-OTLP-Exporter-JavaScript/);
    assert.equal(receiver.requests[0].request.resourceSpans.length, 1);

    const byName = new Map(got.map((s) => [s.name, s]));
    assert.deepEqual([...byName.keys()].sort(), ["accept", "tcp 10.0.0.1:443"]);
    const a = byName.get("tcp 10.0.0.1:443")!;
    const b = byName.get("accept")!;
    const [pa, pb] = [spans.find((s) => s.name === a.name)!, spans.find((s) => s.name === b.name)!];

    // ids: hex, as the SDK generated them; the child points at the parent
    assert.match(a.traceId, /^[0-9a-f]{32}$/);
    assert.match(a.spanId, /^[0-9a-f]{16}$/);
    assert.equal(a.traceId, pa.spanContext().traceId);
    assert.equal(a.spanId, pa.spanContext().spanId);
    assert.equal(a.parentSpanId, "");
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
      "net.peer.name": "example.test",
      "net.peer.port": 443n,
      "tcp.rtt_ms": 1.25,
      "tcp.ipv6": false,
      "tcp.tags": ["a", "b"],
    });
    assert.deepEqual(b.attributes, { "bytes.received": 7n });
    assert.deepEqual(a.status, { code: StatusCode.ERROR, message: "reset by peer" });
    assert.equal(b.status.code, StatusCode.OK);
    assert.deepEqual(a.events, [
      { timeUnixNano: ns(hr(1_700_000_001, 1)), name: "retransmit", attributes: { "tcp.seq": 42n }, droppedAttributesCount: 0 },
    ]);

    assert.equal(a.resource.attributes["service.name"], "tcplife-otel-test");
    assert.equal(a.resource.attributes["host.name"], "h1");
    assert.equal(a.scope.name, "receiver-test");
    assert.equal(a.scope.version, "1.2.3");
  });

  it("decodes gzip-compressed requests (grpc-js inflates them before the handler)", async function () {
    const receiver = await startOtlpReceiver();
    receivers.push(receiver);
    const exporter = new OTLPTraceExporter({ url: `http://${receiver.address}`, compression: GZIP, timeoutMillis: 5000 });
    exporters.push(exporter);

    const result = await exportSpans(exporter, spans);
    assert.equal(result.code, SUCCESS, String(result.error));
    const got = await receiver.waitForSpans(2, 5000);
    assert.deepEqual(got.map((s) => s.name).sort(), ["accept", "tcp 10.0.0.1:443"]);
  });

  it("serves TLS with a self-signed certificate", async function () {
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

  it("answers UNAVAILABLE when told to, and the export fails", async function () {
    const receiver = await startOtlpReceiver({ respond: () => grpc.status.UNAVAILABLE });
    receivers.push(receiver);
    // The exporter may or may not retry UNAVAILABLE (0.223 does not); either way it ends in failure.
    const exporter = new OTLPTraceExporter({ url: `http://${receiver.address}`, timeoutMillis: 1500 });
    exporters.push(exporter);

    const result = await exportSpans(exporter, spans, 8000);
    assert.equal(result.code, FAILED);
    assert.ok(receiver.requests.length >= 1, "the receiver saw the attempt");
    for (const r of receiver.requests) {
      assert.equal(r.responseCode, grpc.status.UNAVAILABLE);
      assert.equal(r.request.resourceSpans[0].scopeSpans[0].spans.length, 2, "still decoded and recorded");
    }
  });

  it("answers per request index: RESOURCE_EXHAUSTED first, then OK", async function () {
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
