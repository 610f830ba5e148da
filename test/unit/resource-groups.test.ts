// Requests checked with the independent protobufjs decoder of test/support/otlp-receiver.
import { strict as assert } from 'node:assert';
import { encodeExportTraceRequest } from '../../src/telemetry/otlp-encoder';
import { encodeBatchRequest, encodeForQueue, serviceResource, ServiceResources } from '../../src/telemetry/resource-groups';
import { SpanKind, StatusCode, type Attribute, type SpanRecord } from '../../src/telemetry/span-record';
import { decodeExportRequest, flattenSpans } from '../support/otlp-receiver';

const S = (key: string, v: string): Attribute => ({ key, value: { string: v } });
const OWN: Attribute[] = [S('host.name', 'h1'), S('service.name', 'agent'), S('container.id', 'c1')];
const SCOPE = { name: 'tcplife-otel', version: '0.0.1' };

function span(i: number, service?: string): SpanRecord {
  const hex = (n: number, digits: number) => (n + 1).toString(16).padStart(digits, '0');
  return {
    traceId: hex(i, 32),
    spanId: hex(i, 16),
    name: `span ${i}`,
    kind: SpanKind.CLIENT,
    startTime: [1795673752, i],
    endTime: [1795673753, i],
    attributes: [{ key: 'i', value: { int: i } }],
    status: { code: StatusCode.UNSET },
    ...(service === undefined ? {} : { service }),
  };
}

/** Decoded: per ResourceSpans, its service.name and its spans' names. */
function layout(request: Buffer): Array<[string, string[]]> {
  const decoded = decodeExportRequest(request);
  return decoded.resourceSpans.map((rs: any) => [
    rs.resource.attributes.find((a: any) => a.key === 'service.name').value.stringValue,
    rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => s.name)),
  ]);
}

describe('resource groups', () => {
  it("serviceResource: the service's name first, then the other attributes in their order", () => {
    assert.deepEqual(serviceResource(OWN, 'checkout'), [S('service.name', 'checkout'), S('host.name', 'h1'), S('container.id', 'c1')]);
    assert.deepEqual(serviceResource([], 'x'), [S('service.name', 'x')]);
    assert.deepEqual(OWN[1], S('service.name', 'agent'), 'the base is not changed');
  });

  it("ServiceResources: the agent's own for no service, one shared array per service", () => {
    const r = new ServiceResources(OWN);
    assert.equal(r.of(undefined), OWN);
    const checkout = r.of('checkout');
    assert.equal(r.of('checkout'), checkout, 'made once');
    assert.notEqual(r.of('db'), checkout);
    assert.deepEqual(r.of('db'), serviceResource(OWN, 'db'));
  });

  it('encodeForQueue: each span its own field, with its resource', () => {
    const r = new ServiceResources(OWN);
    const spans = [span(0), span(1, 'db'), span(2)];
    const { encoded, invalid } = encodeForQueue(spans, r);
    assert.equal(invalid, 0);
    assert.deepEqual(
      encoded.map((e) => e.resource),
      [OWN, r.of('db'), OWN],
    );
    const request = encodeBatchRequest(encoded, SCOPE);
    assert.deepEqual(layout(request), [
      ['agent', ['span 0', 'span 2']],
      ['db', ['span 1']],
    ]);
    const got = flattenSpans(decodeExportRequest(request));
    assert.deepEqual(got.map((s) => s.spanId).sort(), spans.map((s) => s.spanId).sort(), 'every span, decoded');
  });

  it('encodeForQueue: an invalid record is left out alone and counted', () => {
    const bad = { ...span(1), traceId: 'not hex' };
    const unsafe = { ...span(3), attributes: [{ key: 'n', value: { int: 2 ** 60 } }] };
    const { encoded, invalid } = encodeForQueue([span(0), bad, span(2), unsafe, span(4, 'db')], new ServiceResources(OWN));
    assert.equal(invalid, 2);
    assert.deepEqual(layout(encodeBatchRequest(encoded, SCOPE)), [
      ['agent', ['span 0', 'span 2']],
      ['db', ['span 4']],
    ]);
  });

  it('one resource: exactly the request the encoder gives for those spans', () => {
    const spans = [span(0), span(1), span(2)];
    const { encoded } = encodeForQueue(spans, new ServiceResources(OWN));
    assert.deepEqual(encodeBatchRequest(encoded, SCOPE), Buffer.from(encodeExportTraceRequest({ resource: OWN, scope: SCOPE, spans })));
  });

  it('mixed resources: one ResourceSpans each, in order of first appearance, spans in batch order', () => {
    const r = new ServiceResources(OWN);
    const spans = [span(0, 'checkout'), span(1), span(2, 'db'), span(3, 'checkout'), span(4), span(5, 'db')];
    const request = encodeBatchRequest(encodeForQueue(spans, r).encoded, SCOPE);
    assert.deepEqual(layout(request), [
      ['checkout', ['span 0', 'span 3']],
      ['agent', ['span 1', 'span 4']],
      ['db', ['span 2', 'span 5']],
    ]);
    const got = flattenSpans(decodeExportRequest(request));
    const checkout = got.find((s) => s.name === 'span 0')!;
    assert.deepEqual(checkout.resource.attributes, { 'service.name': 'checkout', 'host.name': 'h1', 'container.id': 'c1' });
    assert.deepEqual(checkout.scope.name, SCOPE.name);
    // The concatenation of one request per resource, byte for byte.
    const part = (resource: Attribute[], ids: number[]) => Buffer.from(encodeExportTraceRequest({ resource, scope: SCOPE, spans: ids.map((i) => spans[i]) }));
    assert.deepEqual(request, Buffer.concat([part(serviceResource(OWN, 'checkout'), [0, 3]), part(OWN, [1, 4]), part(serviceResource(OWN, 'db'), [2, 5])]));
  });

  it('an empty batch is an empty request', () => {
    const request = encodeBatchRequest([], SCOPE);
    assert.equal(request.length, 0);
    assert.deepEqual(decodeExportRequest(request).resourceSpans, []);
  });

  it('invalid resource attributes throw RangeError (no retry can fix them)', () => {
    const r = new ServiceResources([{ key: 'n', value: { int: 2 ** 60 } }]);
    assert.throws(() => encodeBatchRequest(encodeForQueue([span(0)], r).encoded, SCOPE), RangeError);
  });
});
