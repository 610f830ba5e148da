/**
 * Spans as the export queue holds them, and the request a batch of them
 * becomes. A span is encoded when it enters the queue (otlp-encoder's
 * encodeSpanFields), so the queue holds bytes rather than SpanRecords, which
 * keeps a long queue out of V8's heap. Beside its bytes, each span keeps the
 * resource it goes out under: the agent's own, or, when a service rule named
 * the span (SpanRecord.service), that resource with service.name replaced.
 * A batch's request holds one ResourceSpans per resource in it.
 */
import { encodeRequestOfSpanFields, encodeSpanFields } from './otlp-encoder';
import type { Attribute, SpanRecord } from './span-record';

export interface EncodedSpan {
  /** The span as one ScopeSpans.spans field (see encodeSpanFields). */
  readonly field: Buffer;
  /** Compared by identity: spans of one resource share this array (see ServiceResources). */
  readonly resource: readonly Attribute[];
}

/** `base` under another service.name: that name first, the other attributes as they were. */
export function serviceResource(base: readonly Attribute[], service: string): Attribute[] {
  return [{ key: 'service.name', value: { string: service } }, ...base.filter((a) => a.key !== 'service.name')];
}

/** The agent's resource, and one per service a rule named, each made once. */
export class ServiceResources {
  private readonly byService = new Map<string, readonly Attribute[]>();

  constructor(readonly own: readonly Attribute[]) {}

  /** The resource of a span named `service` (undefined: the agent's own). */
  of(service: string | undefined): readonly Attribute[] {
    if (service === undefined) return this.own;
    let resource = this.byService.get(service);
    if (!resource) {
      resource = serviceResource(this.own, service);
      this.byService.set(service, resource);
    }
    return resource;
  }
}

/**
 * Encodes spans for the queue. An invalid record (a bug upstream: bad id,
 * unsafe integer) makes the encoder throw; it is then left out alone, and
 * counted in `invalid`: the others still go.
 */
export function encodeForQueue(spans: readonly SpanRecord[], resources: ServiceResources): { encoded: EncodedSpan[]; invalid: number } {
  let fields: Buffer[];
  try {
    fields = encodeSpanFields(spans);
  } catch {
    return encodeOneByOne(spans, resources);
  }
  const encoded = new Array<EncodedSpan>(fields.length);
  for (let i = 0; i < fields.length; i++) encoded[i] = { field: fields[i], resource: resources.of(spans[i].service) };
  return { encoded, invalid: 0 };
}

function encodeOneByOne(spans: readonly SpanRecord[], resources: ServiceResources): { encoded: EncodedSpan[]; invalid: number } {
  const encoded: EncodedSpan[] = [];
  let invalid = 0;
  for (const span of spans) {
    try {
      encoded.push({ field: encodeSpanFields([span])[0], resource: resources.of(span.service) });
    } catch {
      invalid++;
    }
  }
  return { encoded, invalid };
}

/**
 * The ExportTraceServiceRequest of a batch: one ResourceSpans per resource,
 * in the order each first appears, its spans in batch order. resourceSpans is
 * a repeated field, so requests of one resource each, concatenated, are one
 * request. Throws RangeError on invalid resource attributes.
 */
export function encodeBatchRequest(batch: readonly EncodedSpan[], scope: { name: string; version: string }): Buffer {
  if (batch.length === 0) return Buffer.alloc(0); // an empty request: no ResourceSpans at all
  const first = batch[0].resource;
  // The common case, no service rules: one resource, no grouping to pay for.
  if (batch.every((s) => s.resource === first))
    return encodeRequestOfSpanFields(
      first,
      scope,
      batch.map((s) => s.field),
    );
  const groups = new Map<readonly Attribute[], Buffer[]>();
  for (const { field, resource } of batch) {
    const fields = groups.get(resource);
    if (fields) fields.push(field);
    else groups.set(resource, [field]);
  }
  return Buffer.concat([...groups].map(([resource, fields]) => encodeRequestOfSpanFields(resource, scope, fields)));
}
