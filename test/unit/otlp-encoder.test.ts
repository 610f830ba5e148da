// The hand-rolled OTLP encoder, checked ONLY against the independent protobufjs
// decoder of test/support/otlp-receiver (hand-written protos): nothing here
// decodes with encoder code.
import { strict as assert } from 'node:assert';
import { encodeExportTraceRequest, encodeRequestOfSpanFields, encodeSpanFields, type ExportTraceInput } from '../../src/telemetry/otlp-encoder';
import { type Attribute, type AttributeValue, type SpanRecord, type WallTime, SpanKind, StatusCode } from '../../src/telemetry/span-record';
import { sessionToSpan } from '../../src/telemetry/session-to-span';
import { decodeExportRequest, flattenSpans, otlpRoot, type AttrValue, type ReceivedSpan } from '../support/otlp-receiver';
import { sampleSession } from '../support/sample-session';

const S = (key: string, v: string): Attribute => ({ key, value: { string: v } });
const I = (key: string, v: number): Attribute => ({ key, value: { int: v } });
const D = (key: string, v: number): Attribute => ({ key, value: { double: v } });
const B = (key: string, v: boolean): Attribute => ({ key, value: { bool: v } });

const RESOURCE: Attribute[] = [
  S('service.name', 'tcplife-otel'),
  S('host.name', 'höst-1'),
  I('process.pid', 4242),
  B('tcplife.test', true),
  D('tcplife.version.float', 0.5),
];
const SCOPE = { name: 'tcplife-otel', version: '0.1.0' };

/** Exact nanoseconds of a WallTime, the oracle for the encoder's 32-bit halves. */
const ns = (t: WallTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

function otlpValue(v: AttributeValue): AttrValue {
  if (v.string !== undefined) return v.string;
  if (v.int !== undefined) return BigInt(v.int);
  if (v.double !== undefined) return v.double;
  return v.bool as boolean;
}

function otlpAttributes(attrs: readonly Attribute[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const a of attrs) out[a.key] = otlpValue(a.value);
  return out;
}

/** What the decoder must report for a record. */
function expected(r: SpanRecord) {
  return {
    traceId: r.traceId,
    spanId: r.spanId,
    parentSpanId: r.parentSpanId ?? '',
    name: r.name,
    kind: r.kind,
    startTimeUnixNano: ns(r.startTime),
    endTimeUnixNano: ns(r.endTime),
    attributes: otlpAttributes(r.attributes),
    status: { code: r.status.code, message: r.status.message ?? '' },
  };
}

function received(s: ReceivedSpan) {
  return {
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId,
    name: s.name,
    kind: s.kind,
    startTimeUnixNano: s.startTimeUnixNano,
    endTimeUnixNano: s.endTimeUnixNano,
    attributes: s.attributes,
    status: s.status,
  };
}

function roundTrip(spans: readonly SpanRecord[], input: Partial<ExportTraceInput> = {}): { decoded: any; spans: ReceivedSpan[] } {
  const body = encodeExportTraceRequest({ resource: RESOURCE, scope: SCOPE, spans, ...input });
  assert.ok(body instanceof Uint8Array);
  const decoded = decodeExportRequest(body);
  return { decoded, spans: flattenSpans(decoded) };
}

/** The raw protobufjs messages (no toObject), to see which fields are present on the wire. */
function rawSpans(body: Uint8Array): any[] {
  const type = otlpRoot().lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  const msg: any = type.decode(body);
  return msg.resourceSpans[0].scopeSpans[0].spans;
}
const has = (o: object, k: string): boolean => Object.hasOwn(o, k);

const LONG_ASCII = 'x'.repeat(49) + '/' + 'y'.repeat(250); // > 48 chars and > 127 bytes (2-byte length)
const UNICODE = 'naïve café ✓ 日本語 🚀 Ελληνικά'; // 2-, 3- and 4-byte UTF-8

const cases: Array<[string, SpanRecord]> = [
  [
    'client, unset status, every attribute type',
    {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      name: 'tcp connect 443',
      kind: SpanKind.CLIENT,
      startTime: [1795673752, 123456789],
      endTime: [1795674113, 999999999],
      attributes: [
        S('network.peer.address', '93.184.216.34'),
        I('network.peer.port', 443),
        D('tcplife.duration_ms', 123.456789),
        B('tcplife.partial', false),
        S('empty.string', ''),
        I('int.zero', 0),
        D('double.zero', 0),
        B('bool.true', true),
      ],
      status: { code: StatusCode.UNSET },
    },
  ],
  [
    'server with parent id, error status with message, unicode',
    {
      traceId: 'ffffffffffffffffffffffffffffffff',
      spanId: 'ffffffffffffffff',
      parentSpanId: '0102030405060708',
      name: `accept ${UNICODE}`,
      kind: SpanKind.SERVER,
      startTime: [1795674113, 999999999],
      endTime: [1795674114, 0],
      attributes: [S('unicode.value', UNICODE), S(`unicode.key.${UNICODE}`, 'v'), S('long.ascii', LONG_ASCII), S('long.unicode', UNICODE.repeat(20))],
      status: { code: StatusCode.ERROR, message: `connection refused — ${UNICODE}` },
    },
  ],
  [
    'internal, no attributes, OK status, largest representable time',
    {
      traceId: '00000000000000000000000000000001',
      spanId: '0000000000000001',
      name: 'internal',
      kind: SpanKind.INTERNAL,
      startTime: [4294967296, 1], // 2^32 s: a seconds value whose high half is set
      endTime: [18446744073, 709551615], // 2^64 - 1 ns exactly
      attributes: [],
      status: { code: StatusCode.OK },
    },
  ],
  [
    'ints: 7-bit edges, above 2^32, MAX/MIN_SAFE_INTEGER, negatives',
    {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      name: 'ints',
      kind: SpanKind.CLIENT,
      startTime: [0, 1],
      endTime: [1, 0],
      attributes: [
        I('i.127', 127),
        I('i.128', 128),
        I('i.2^28', 2 ** 28),
        I('i.2^31', 2 ** 31),
        I('i.2^32-1', 2 ** 32 - 1),
        I('i.2^32', 2 ** 32),
        I('i.2^32+1', 2 ** 32 + 1),
        I('i.bytes', 1099511627777),
        I('i.max', Number.MAX_SAFE_INTEGER),
        I('i.-1', -1),
        I('i.-128', -128),
        I('i.-2^31', -(2 ** 31)),
        I('i.-2^32', -(2 ** 32)),
        I('i.-2^32-1', -(2 ** 32) - 1),
        I('i.min', Number.MIN_SAFE_INTEGER),
      ],
      status: { code: StatusCode.ERROR, message: 'timeout' },
    },
  ],
  [
    'doubles',
    {
      traceId: '11111111111111111111111111111111',
      spanId: '2222222222222222',
      parentSpanId: 'abcdefabcdefabcd',
      name: 'doubles',
      kind: SpanKind.SERVER,
      startTime: [1795673752, 5],
      endTime: [1795673752, 6],
      attributes: [
        D('d.half', 0.5),
        D('d.neg', -1234.5678),
        D('d.tiny', 5e-324),
        D('d.huge', Number.MAX_VALUE),
        D('d.negzero', -0),
        D('d.integral', 3),
        D('d.inf', Infinity),
        D('d.nan', NaN),
      ],
      status: { code: StatusCode.UNSET },
    },
  ],
  [
    'unset code with a message keeps the message',
    {
      traceId: '33333333333333333333333333333333',
      spanId: '4444444444444444',
      name: 'note',
      kind: SpanKind.PRODUCER,
      startTime: [1, 999999999],
      endTime: [2, 1],
      attributes: [S('k', 'v')],
      status: { code: StatusCode.UNSET, message: 'partial: birth not observed' },
    },
  ],
];

/** Realistic spans: what sessionToSpan makes of sample sessions. */
function batch(n: number, offset = 0): SpanRecord[] {
  const out: SpanRecord[] = [];
  for (let i = 0; i < n; i++) {
    const k = i + offset;
    const session = sampleSession({
      localPort: 10000 + (k % 50000),
      role: k % 3 === 0 ? 'server' : 'client',
      bytesSent: k * 4099,
      bytesReceived: 2 ** 33 + k,
      startTime: [1795673752 + k, (k * 7919) % 1e9],
      endTime: [1795673752 + k + 1, (k * 104729) % 1e9],
      outcome: k % 5 === 0 ? 'refused' : 'closed_locally',
    });
    out.push(
      sessionToSpan(session, {
        traceId: (k + 1).toString(16).padStart(32, '0'),
        spanId: (k + 1).toString(16).padStart(16, 'a'),
      }),
    );
  }
  return out;
}

describe('otlp-encoder', () => {
  describe('round-trips each record exactly through the independent decoder', () => {
    let all: ReturnType<typeof roundTrip>;
    before(() => {
      all = roundTrip(cases.map((c) => c[1]));
    });
    cases.forEach(([title, record], i) => {
      it(title, () => {
        const one = roundTrip([record]);
        assert.equal(one.spans.length, 1);
        assert.deepEqual(received(one.spans[0]), expected(record));
        // The same record inside a mixed batch decodes identically.
        assert.deepEqual(received(all.spans[i]), expected(record));
      });
    });

    it('resource attributes and scope name/version, one ResourceSpans with one ScopeSpans', () => {
      assert.equal(all.decoded.resourceSpans.length, 1);
      assert.equal(all.decoded.resourceSpans[0].scopeSpans.length, 1);
      assert.equal(all.spans.length, cases.length);
      for (const s of all.spans) {
        assert.deepEqual(s.resource.attributes, {
          'service.name': 'tcplife-otel',
          'host.name': 'höst-1',
          'process.pid': 4242n,
          'tcplife.test': true,
          'tcplife.version.float': 0.5,
        });
        assert.equal(s.scope.name, 'tcplife-otel');
        assert.equal(s.scope.version, '0.1.0');
      }
    });

    it('times are exact nanoseconds, including ones far above 2^53', () => {
      const t = (i: number): bigint => all.spans[i].endTimeUnixNano;
      assert.equal(all.spans[0].endTimeUnixNano, 1795674113999999999n);
      assert.equal(all.spans[1].startTimeUnixNano, 1795674113999999999n);
      assert.equal(all.spans[2].startTimeUnixNano, 4294967296000000001n);
      assert.equal(t(2), 18446744073709551615n);
    });

    it('every attribute keeps its OTLP type (int -> int_value, double -> double_value, ...)', () => {
      const any = (i: number, key: string): any => all.decoded.resourceSpans[0].scopeSpans[0].spans[i].attributes.find((kv: any) => kv.key === key).value;
      assert.equal(any(0, 'network.peer.address').value, 'stringValue');
      assert.equal(any(0, 'network.peer.port').value, 'intValue');
      assert.equal(any(0, 'tcplife.duration_ms').value, 'doubleValue');
      assert.equal(any(0, 'tcplife.partial').value, 'boolValue');
      // Oneof members are written even when they hold the default.
      assert.equal(any(0, 'empty.string').value, 'stringValue');
      assert.equal(any(0, 'int.zero').value, 'intValue');
      assert.equal(any(0, 'double.zero').value, 'doubleValue');
      assert.equal(any(4, 'd.integral').value, 'doubleValue');
      assert.equal(any(3, 'i.-1').intValue, '-1');
      assert.equal(any(3, 'i.min').intValue, String(Number.MIN_SAFE_INTEGER));
      assert.equal(any(3, 'i.max').intValue, String(Number.MAX_SAFE_INTEGER));
    });
  });

  describe('proto3 presence', () => {
    it('omits status when UNSET without a message, and zero/empty defaults', () => {
      const body = encodeExportTraceRequest({
        resource: [],
        scope: { name: '', version: '' },
        spans: [
          {
            traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
            spanId: '00f067aa0ba902b7',
            name: '',
            kind: SpanKind.UNSPECIFIED,
            startTime: [1, 0],
            endTime: [2, 0],
            attributes: [],
            status: { code: StatusCode.UNSET, message: '' },
          },
        ],
      });
      const [span] = rawSpans(body);
      for (const k of ['status', 'parentSpanId', 'name', 'kind', 'traceState', 'flags']) assert.ok(!has(span, k), `${k} must be omitted`);
      for (const k of ['traceId', 'spanId', 'startTimeUnixNano', 'endTimeUnixNano']) assert.ok(has(span, k), `${k} must be present`);
      // 18 (trace id) + 10 (span id) + 9 + 9 (times) = 46-byte span, framed by
      // Span(2) + Scope(2) + ScopeSpans(2) + Resource(2) + ResourceSpans(2).
      assert.equal(body.length, 46 + 2 + 2 + 2 + 2 + 2);
    });

    it('writes status with only the code, or only the message, when only that is set', () => {
      const spans = rawSpans(encodeExportTraceRequest({ resource: RESOURCE, scope: SCOPE, spans: cases.map((c) => c[1]) }));
      assert.ok(!has(spans[0], 'status'));
      assert.ok(has(spans[2].status, 'code') && !has(spans[2].status, 'message')); // OK
      assert.ok(has(spans[5].status, 'message') && !has(spans[5].status, 'code')); // UNSET + message
      assert.ok(has(spans[1].status, 'message') && has(spans[1].status, 'code')); // ERROR + message
      assert.ok(has(spans[1], 'parentSpanId') && !has(spans[0], 'parentSpanId'));
    });

    it('an empty batch still decodes (resource and scope, no spans)', () => {
      const { decoded, spans } = roundTrip([]);
      assert.equal(spans.length, 0);
      assert.equal(decoded.resourceSpans[0].scopeSpans[0].scope.name, 'tcplife-otel');
    });
  });

  describe('times', () => {
    it('1000 random [seconds, nanos] up to 2^64 ns encode exactly', () => {
      let seed = 12345;
      const rnd = (): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const spans: SpanRecord[] = [];
      for (let i = 0; i < 1000; i++) {
        const sec = i % 3 === 0 ? Math.floor(rnd() * 18446744073) : i % 3 === 1 ? 1795000000 + Math.floor(rnd() * 1e7) : Math.floor(rnd() * 2 ** 32);
        const start: WallTime = [sec, Math.floor(rnd() * 1e9)];
        const end: WallTime = [sec, 999999999 - (i % 7)];
        spans.push({ ...cases[0][1], spanId: (i + 1).toString(16).padStart(16, '0'), startTime: start, endTime: end, attributes: [] });
      }
      const got = roundTrip(spans).spans;
      assert.equal(got.length, spans.length);
      got.forEach((s, i) => {
        assert.equal(s.startTimeUnixNano, ns(spans[i].startTime), `start ${spans[i].startTime}`);
        assert.equal(s.endTimeUnixNano, ns(spans[i].endTime), `end ${spans[i].endTime}`);
      });
    });

    it('rejects negative, fractional and past-2^64 times', () => {
      const span = (t: WallTime): SpanRecord => ({ ...cases[0][1], startTime: t });
      for (const t of [
        [-1, 0],
        [1.5, 0],
        [1, -1],
        [1, 0.5],
        [18446744073, 709551616],
        [2 ** 40, 0],
      ] as WallTime[]) {
        assert.throws(() => encodeExportTraceRequest({ resource: [], scope: SCOPE, spans: [span(t)] }), RangeError, String(t));
      }
    });
  });

  describe('invalid input', () => {
    const base = cases[0][1];
    it('rejects ids that are not 32/16 hex digits', () => {
      for (const bad of [
        { traceId: '4bf92f3577b34da6a3ce929d0e0e473' },
        { traceId: '4bf92f3577b34da6a3ce929d0e0e473g' },
        { spanId: '00f067aa0ba902b' },
        { spanId: '00f067aa0ba902bé' },
        { parentSpanId: 'zz' },
      ]) {
        assert.throws(() => encodeExportTraceRequest({ resource: [], scope: SCOPE, spans: [{ ...base, ...bad }] }), RangeError);
      }
    });
    it('accepts upper-case hex ids (decoded lower-case)', () => {
      const { spans } = roundTrip([{ ...base, traceId: base.traceId.toUpperCase(), spanId: base.spanId.toUpperCase() }]);
      assert.equal(spans[0].traceId, base.traceId);
      assert.equal(spans[0].spanId, base.spanId);
    });
    it('rejects ints that are not safe integers', () => {
      for (const v of [2 ** 53, -(2 ** 53), 1.5, NaN]) {
        assert.throws(() => encodeExportTraceRequest({ resource: [I('x', v)], scope: SCOPE, spans: [] }), RangeError, String(v));
      }
    });
    it('recovers after a throw (scratch state is reset)', () => {
      assert.throws(() => encodeExportTraceRequest({ resource: [], scope: SCOPE, spans: [{ ...base, spanId: 'nope' }] }));
      const { spans } = roundTrip([base]);
      assert.deepEqual(received(spans[0]), expected(base));
    });
  });

  describe('batches', () => {
    it('512 spans round-trip in order', () => {
      const spans = batch(512);
      assert.ok(spans.some((s) => s.status.code === StatusCode.ERROR) && spans.some((s) => s.kind === SpanKind.SERVER));
      const got = roundTrip(spans).spans;
      assert.equal(got.length, 512);
      got.forEach((s, i) => assert.deepEqual(received(s), expected(spans[i]), `span ${i}`));
    });

    it('consecutive encodes of different batches do not leak into each other', () => {
      const a = batch(300);
      const b = batch(7, 1000);
      encodeExportTraceRequest({ resource: RESOURCE, scope: SCOPE, spans: a });
      const got = roundTrip(b).spans;
      got.forEach((s, i) => assert.deepEqual(received(s), expected(b[i])));
      const got2 = roundTrip(a).spans;
      got2.forEach((s, i) => assert.deepEqual(received(s), expected(a[i])));
    });
  });
});

describe('otlp-encoder: spans encoded at ingest (the exporter queue holds bytes)', () => {
  it('a request built from encodeSpanFields is byte for byte the one-pass request, and decodes independently', () => {
    const spans = batch(300);
    const fields = encodeSpanFields(spans);
    assert.equal(fields.length, 300);
    // Fields from separate calls, joined in any grouping, give the same bytes.
    const mixed = [...encodeSpanFields(spans.slice(0, 7)), ...encodeSpanFields(spans.slice(7, 8)), ...encodeSpanFields(spans.slice(8))];
    const a = Buffer.from(encodeExportTraceRequest({ resource: RESOURCE, scope: SCOPE, spans }));
    assert.ok(a.equals(encodeRequestOfSpanFields(RESOURCE, SCOPE, fields)));
    assert.ok(a.equals(encodeRequestOfSpanFields(RESOURCE, SCOPE, mixed)));
    const got = flattenSpans(decodeExportRequest(encodeRequestOfSpanFields(RESOURCE, SCOPE, fields.slice(100, 110))));
    assert.deepEqual(got.map(received), spans.slice(100, 110).map(expected));
  });

  it('an invalid record throws, and the fields stay independent of each other', () => {
    const bad = { ...batch(1)[0], traceId: 'xyz' };
    assert.throws(() => encodeSpanFields([...batch(2), bad]), RangeError);
    const empty = encodeRequestOfSpanFields(RESOURCE, SCOPE, []);
    assert.ok(empty.equals(Buffer.from(encodeExportTraceRequest({ resource: RESOURCE, scope: SCOPE, spans: [] }))));
  });
});
