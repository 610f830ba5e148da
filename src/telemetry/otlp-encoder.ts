/**
 * Hand-rolled protobuf encoder for OTLP trace export requests
 * (opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest), with no
 * dependency. It is on the agent's hot path, so each encoding works in two
 * passes and allocates exactly one output buffer:
 *
 * 1. Size pass: walks the request in write order and records, in a reused
 *    scratch queue, every number the write pass needs but cannot cheaply
 *    recompute: the byte length of each nested message (a message's slot is
 *    reserved before its children and filled after them) and the UTF-8 length
 *    of each string.
 * 2. Write pass: walks the same structure in the same order, reading the queue
 *    front to back, into one Buffer of the exact final size.
 *
 * Layout: one ResourceSpans (the resource attributes) with one ScopeSpans (the
 * scope name/version) holding every span, in input order. Proto3 defaults are
 * omitted (empty strings, zero enums, absent parent id, zero times); the status
 * is omitted when it is UNSET without a message. AnyValue members are oneof
 * members, so they are always written, even when empty or zero.
 *
 * Timestamps (fixed64 nanoseconds) are computed exactly from [seconds, nanos]
 * as two 32-bit halves, never through one double (which is exact only up to
 * 2^53 ns, about 104 days). Ints are int64 varints; negatives take 10 bytes
 * (two's complement), as protobuf requires.
 *
 * Invalid input (ids that are not 32/16 hex digits, ints that are not safe
 * integers, negative or non-integer times, times past 2^64 ns) throws a
 * RangeError: these are programming errors upstream, and a silently wrong
 * span is worse than a failed batch.
 */
import type { Attribute, SpanRecord, WallTime } from './span-record';

export interface ExportTraceInput {
  /** Resource attributes (service.name, host.name, ...). */
  resource: Attribute[];
  /** The instrumentation scope shared by every span. */
  scope: { name: string; version: string };
  spans: readonly SpanRecord[];
}

// Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited).
// ExportTraceServiceRequest
const T_REQ_RESOURCE_SPANS = 0x0a; // 1: ResourceSpans
// ResourceSpans
const T_RS_RESOURCE = 0x0a; // 1: Resource
const T_RS_SCOPE_SPANS = 0x12; // 2: ScopeSpans
// Resource
const T_RES_ATTRIBUTES = 0x0a; // 1: KeyValue
// ScopeSpans
const T_SS_SCOPE = 0x0a; // 1: InstrumentationScope
const T_SS_SPANS = 0x12; // 2: Span
// InstrumentationScope
const T_SCOPE_NAME = 0x0a; // 1: string
const T_SCOPE_VERSION = 0x12; // 2: string
// Span
const T_TRACE_ID = 0x0a; // 1: bytes
const T_SPAN_ID = 0x12; // 2: bytes
const T_PARENT_SPAN_ID = 0x22; // 4: bytes
const T_NAME = 0x2a; // 5: string
const T_KIND = 0x30; // 6: enum
const T_START = 0x39; // 7: fixed64
const T_END = 0x41; // 8: fixed64
const T_ATTRIBUTES = 0x4a; // 9: KeyValue
const T_STATUS = 0x7a; // 15: Status
// Status
const T_STATUS_MESSAGE = 0x12; // 2: string
const T_STATUS_CODE = 0x18; // 3: enum
// KeyValue
const T_KV_KEY = 0x0a; // 1: string
const T_KV_VALUE = 0x12; // 2: AnyValue
// AnyValue
const T_STRING = 0x0a; // 1: string
const T_BOOL = 0x10; // 2: bool
const T_INT = 0x18; // 3: int64
const T_DOUBLE = 0x21; // 4: double

const TWO_32 = 4294967296;
const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
/** Strings up to this many ASCII chars are copied by a JS loop (cheaper than a native call). */
const SHORT_ASCII = 48;

// ---------------------------------------------------------------------------
// Size queue: filled by the size pass, consumed in the same order by the write pass.

let queue = new Int32Array(4096);
let qLen = 0;
let qPos = 0;

function push(v: number): number {
  if (qLen === queue.length) {
    const bigger = new Int32Array(queue.length * 2);
    bigger.set(queue);
    queue = bigger;
  }
  queue[qLen] = v;
  return qLen++;
}

// ---------------------------------------------------------------------------
// Sizes

/** Bytes of a varint of a non-negative number below 2^32 (lengths, enums). */
function varint32Size(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Bytes of an int64 varint of a safe integer. */
function int64Size(v: number): number {
  if (v < 0) return 10;
  if (v < 0x10000000) return varint32Size(v);
  let n = 4;
  v = Math.floor(v / 0x10000000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

/** Size of a length-delimited field whose payload is n bytes (tag is one byte everywhere here). */
function fieldSize(n: number): number {
  return 1 + varint32Size(n) + n;
}

/** Queues the UTF-8 length of s and returns it. */
function stringLength(s: string): number {
  // byteLength === length exactly when every char is ASCII (anything else takes 2+ bytes per char).
  const n = s.length <= SHORT_ASCII && isAscii(s) ? s.length : Buffer.byteLength(s, 'utf8');
  push(n);
  return n;
}

/**
 * A KeyValue's key field (tag, length, UTF-8), encoded once per key: a span
 * carries some twenty attributes whose keys never change. Bounded, since
 * resource keys come from the user.
 */
const KEY_FIELDS = new Map<string, Buffer>();
function keyField(key: string): Buffer {
  let field = KEY_FIELDS.get(key);
  if (field === undefined) {
    const utf8 = Buffer.from(key, 'utf8');
    const len: number[] = [];
    for (let n = utf8.length; ; n >>>= 7) {
      if (n < 0x80) {
        len.push(n);
        break;
      }
      len.push((n & 0x7f) | 0x80);
    }
    field = Buffer.concat([Buffer.from([T_KV_KEY, ...len]), utf8]);
    if (KEY_FIELDS.size < 4096) KEY_FIELDS.set(key, field);
  }
  return field;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Size of a KeyValue's payload; queues [kv length, key length?, AnyValue length, string length?]. */
function keyValueSize(a: Attribute): number {
  const slot = push(0);
  let size = 0;
  if (a.key.length > 0) size += keyField(a.key).length;
  const anySlot = push(0);
  const v = a.value;
  let anySize: number;
  if (v.string !== undefined) {
    anySize = fieldSize(stringLength(v.string));
  } else if (v.int !== undefined) {
    if (!Number.isSafeInteger(v.int)) throw new RangeError(`otlp-encoder: attribute ${a.key}: int ${v.int} is not a safe integer`);
    anySize = 1 + int64Size(v.int);
  } else if (v.double !== undefined) {
    anySize = 9;
  } else if (v.bool !== undefined) {
    anySize = 2;
  } else {
    throw new RangeError(`otlp-encoder: attribute ${a.key} has no value`);
  }
  queue[anySlot] = anySize;
  size += fieldSize(anySize);
  queue[slot] = size;
  return size;
}

function attributesSize(attrs: readonly Attribute[]): number {
  let size = 0;
  for (let i = 0; i < attrs.length; i++) size += fieldSize(keyValueSize(attrs[i]));
  return size;
}

/** Size of a Span's payload; queues its length first, then what its children need. */
function spanSize(s: SpanRecord): number {
  const slot = push(0);
  let size = fieldSize(TRACE_ID_BYTES) + fieldSize(SPAN_ID_BYTES);
  if (s.parentSpanId !== undefined && s.parentSpanId !== '') size += fieldSize(SPAN_ID_BYTES);
  if (s.name.length > 0) size += fieldSize(stringLength(s.name));
  if (s.kind !== 0) size += 1 + varint32Size(s.kind);
  if (!isZeroTime(s.startTime)) size += 9;
  if (!isZeroTime(s.endTime)) size += 9;
  size += attributesSize(s.attributes);
  const st = s.status;
  const hasMessage = st.message !== undefined && st.message.length > 0;
  if (st.code !== 0 || hasMessage) {
    let stSize = 0;
    if (hasMessage) stSize += fieldSize(stringLength(st.message as string));
    if (st.code !== 0) stSize += 1 + varint32Size(st.code);
    size += fieldSize(stSize);
  }
  queue[slot] = size;
  return size;
}

function isZeroTime(t: WallTime): boolean {
  return t[0] === 0 && t[1] === 0;
}

// ---------------------------------------------------------------------------
// Writing (buf and pos are module state during one encode call: no closures, no allocations)
const EMPTY = Buffer.alloc(0);
let buf: Buffer = EMPTY;
let pos = 0;

function writeVarint32(v: number): void {
  while (v > 0x7f) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
}

/** int64 varint of a safe integer; negatives as 64-bit two's complement (10 bytes). */
function writeInt64(v: number): void {
  if (v >= 0 && v < 0x80000000) {
    writeVarint32(v);
    return;
  }
  let hi: number;
  let lo: number;
  if (v >= 0) {
    hi = Math.floor(v / TWO_32);
    lo = v - hi * TWO_32;
  } else {
    const m = -v;
    const mHi = Math.floor(m / TWO_32);
    const mLo = m - mHi * TWO_32;
    // -m = ~m + 1 over 64 bits.
    lo = (~mLo + 1) >>> 0;
    hi = (~mHi + (lo === 0 ? 1 : 0)) >>> 0;
  }
  // 7 bits at a time from the 64-bit value hi:lo.
  while (hi > 0 || lo > 0x7f) {
    buf[pos++] = (lo & 0x7f) | 0x80;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  buf[pos++] = lo;
}

function writeString(s: string, n: number): void {
  if (n === s.length && n <= SHORT_ASCII) {
    for (let i = 0; i < n; i++) buf[pos + i] = s.charCodeAt(i);
  } else {
    buf.write(s, pos, n, 'utf8');
  }
  pos += n;
}

/** A tagged length-delimited string field, its length read from the queue. */
function writeStringField(tag: number, s: string): void {
  const n = queue[qPos++];
  buf[pos++] = tag;
  writeVarint32(n);
  writeString(s, n);
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[0x61 + i] = 10 + i;
  HEX[0x41 + i] = 10 + i;
}

function writeHexField(tag: number, hex: string, bytes: number, what: string): void {
  if (hex.length !== bytes * 2) throw new RangeError(`otlp-encoder: ${what} ${JSON.stringify(hex)} is not ${bytes * 2} hex digits`);
  buf[pos++] = tag;
  buf[pos++] = bytes;
  for (let i = 0; i < bytes; i++) {
    const c1 = hex.charCodeAt(2 * i);
    const c2 = hex.charCodeAt(2 * i + 1);
    const h = c1 < 128 ? HEX[c1] : -1;
    const l = c2 < 128 ? HEX[c2] : -1;
    if (h < 0 || l < 0) throw new RangeError(`otlp-encoder: ${what} ${JSON.stringify(hex)} is not ${bytes * 2} hex digits`);
    buf[pos++] = (h << 4) | l;
  }
}

function writeUint32LE(v: number): void {
  buf[pos++] = v & 0xff;
  buf[pos++] = (v >>> 8) & 0xff;
  buf[pos++] = (v >>> 16) & 0xff;
  buf[pos++] = v >>> 24;
}

/**
 * A fixed64 field with seconds * 1e9 + nanos, exact. With
 * seconds = a * 2^32 + bh * 2^16 + bl (bh, bl < 2^16):
 *   total = a*1e9 * 2^32 + bh*1e9 * 2^16 + (bl*1e9 + nanos)
 * and every product stays far below 2^53, so each term is exact in a double;
 * the terms are then added as 32-bit halves with an explicit carry.
 */
function writeTimeField(tag: number, t: WallTime, what: string): void {
  const s = t[0];
  const ns = t[1];
  if (!Number.isSafeInteger(s) || s < 0 || !Number.isSafeInteger(ns) || ns < 0 || ns >= TWO_32) {
    throw new RangeError(`otlp-encoder: ${what} [${s}, ${ns}] is not [seconds >= 0, 0 <= nanos < 2^32] in integers`);
  }
  const a = Math.floor(s / TWO_32);
  const b = s - a * TWO_32;
  const bh = b >>> 16;
  const bl = b & 0xffff;
  const x = bl * 1e9 + ns; // < 2^47
  const y = bh * 1e9; // < 2^46, to be shifted left 16
  const xHi = Math.floor(x / TWO_32);
  const yHi = Math.floor(y / 65536);
  let lo = x - xHi * TWO_32 + (y - yHi * 65536) * 65536; // < 2^33
  let carry = 0;
  if (lo >= TWO_32) {
    lo -= TWO_32;
    carry = 1;
  }
  const hi = a * 1e9 + xHi + yHi + carry;
  if (hi >= TWO_32) throw new RangeError(`otlp-encoder: ${what} [${s}, ${ns}] does not fit 64-bit nanoseconds`);
  buf[pos++] = tag;
  writeUint32LE(lo);
  writeUint32LE(hi);
}

function writeAttributes(tag: number, attrs: readonly Attribute[]): void {
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i];
    buf[pos++] = tag;
    writeVarint32(queue[qPos++]);
    if (a.key.length > 0) {
      const k = keyField(a.key);
      for (let j = 0; j < k.length; j++) buf[pos + j] = k[j];
      pos += k.length;
    }
    buf[pos++] = T_KV_VALUE;
    writeVarint32(queue[qPos++]);
    const v = a.value;
    if (v.string !== undefined) {
      writeStringField(T_STRING, v.string);
    } else if (v.int !== undefined) {
      buf[pos++] = T_INT;
      writeInt64(v.int);
    } else if (v.double !== undefined) {
      buf[pos++] = T_DOUBLE;
      pos = buf.writeDoubleLE(v.double, pos);
    } else {
      buf[pos++] = T_BOOL;
      buf[pos++] = v.bool ? 1 : 0;
    }
  }
}

function writeSpan(s: SpanRecord): void {
  buf[pos++] = T_SS_SPANS;
  writeVarint32(queue[qPos++]);
  writeHexField(T_TRACE_ID, s.traceId, TRACE_ID_BYTES, 'traceId');
  writeHexField(T_SPAN_ID, s.spanId, SPAN_ID_BYTES, 'spanId');
  if (s.parentSpanId !== undefined && s.parentSpanId !== '') writeHexField(T_PARENT_SPAN_ID, s.parentSpanId, SPAN_ID_BYTES, 'parentSpanId');
  if (s.name.length > 0) writeStringField(T_NAME, s.name);
  if (s.kind !== 0) {
    buf[pos++] = T_KIND;
    writeVarint32(s.kind);
  }
  if (!isZeroTime(s.startTime)) writeTimeField(T_START, s.startTime, 'startTime');
  if (!isZeroTime(s.endTime)) writeTimeField(T_END, s.endTime, 'endTime');
  writeAttributes(T_ATTRIBUTES, s.attributes);
  const st = s.status;
  const hasMessage = st.message !== undefined && st.message.length > 0;
  if (st.code !== 0 || hasMessage) {
    // The Status length is not queued (it is tiny): recompute it from the queued message length.
    let stSize = 0;
    const msgLen = hasMessage ? queue[qPos] : 0;
    if (hasMessage) stSize += fieldSize(msgLen);
    if (st.code !== 0) stSize += 1 + varint32Size(st.code);
    buf[pos++] = T_STATUS;
    writeVarint32(stSize);
    if (hasMessage) writeStringField(T_STATUS_MESSAGE, st.message as string);
    if (st.code !== 0) {
      buf[pos++] = T_STATUS_CODE;
      writeVarint32(st.code);
    }
  }
}

// ---------------------------------------------------------------------------

/**
 * Encodes an ExportTraceServiceRequest holding one ResourceSpans (the resource
 * attributes) with one ScopeSpans (the scope) holding every span, in order:
 * the spans' fields (encodeSpanFields) inside the request around them
 * (encodeRequestOfSpanFields), as the exporter sends them.
 */
export function encodeExportTraceRequest(input: ExportTraceInput): Uint8Array {
  return encodeRequestOfSpanFields(input.resource, input.scope, encodeSpanFields(input.spans));
}

// ---------------------------------------------------------------------------
// Encoding at ingest: spans become bytes when they enter the exporter's queue,
// so that the queue holds one small Buffer per span instead of the ~50 objects
// of a SpanRecord. Objects that wait in a queue for hundreds of milliseconds
// outlive V8's young generation and are copied into the old one: that, and
// the page faults of the growing heap, cost more than the encoding itself.

/**
 * Encodes spans, each as one `ScopeSpans.spans` field (tag, length, Span),
 * all into one Buffer; returns a view per span, in order. Throws RangeError on
 * an invalid record (nothing is returned then: see encodeSpansOneByOne).
 */
export function encodeSpanFields(spans: readonly SpanRecord[]): Buffer[] {
  qLen = 0;
  qPos = 0;
  let total = 0;
  for (let i = 0; i < spans.length; i++) total += fieldSize(spanSize(spans[i]));
  const out = Buffer.allocUnsafe(total);
  const views: Buffer[] = new Array(spans.length);
  buf = out;
  pos = 0;
  try {
    for (let i = 0; i < spans.length; i++) {
      const start = pos;
      writeSpan(spans[i]);
      views[i] = out.subarray(start, pos);
    }
    if (pos !== total || qPos !== qLen) {
      throw new Error(`otlp-encoder: internal size mismatch (wrote ${pos} of ${total} bytes, read ${qPos} of ${qLen} sizes)`);
    }
  } finally {
    buf = EMPTY;
  }
  return views;
}

/**
 * An ExportTraceServiceRequest around spans already encoded by
 * encodeSpanFields: the same bytes encodeExportTraceRequest gives for them.
 */
export function encodeRequestOfSpanFields(resource: readonly Attribute[], scope: { name: string; version: string }, fields: readonly Buffer[]): Buffer {
  qLen = 0;
  qPos = 0;
  const resSize = attributesSize(resource);
  let scopeSize = 0;
  if (scope.name.length > 0) scopeSize += fieldSize(stringLength(scope.name));
  if (scope.version.length > 0) scopeSize += fieldSize(stringLength(scope.version));
  let spansBytes = 0;
  for (let i = 0; i < fields.length; i++) spansBytes += fields[i].length;
  const ssSize = fieldSize(scopeSize) + spansBytes;
  const rsSize = fieldSize(resSize) + fieldSize(ssSize);
  const total = fieldSize(rsSize);

  const out = Buffer.allocUnsafe(total);
  buf = out;
  pos = 0;
  try {
    buf[pos++] = T_REQ_RESOURCE_SPANS;
    writeVarint32(rsSize);
    buf[pos++] = T_RS_RESOURCE;
    writeVarint32(resSize);
    writeAttributes(T_RES_ATTRIBUTES, resource);
    buf[pos++] = T_RS_SCOPE_SPANS;
    writeVarint32(ssSize);
    buf[pos++] = T_SS_SCOPE;
    writeVarint32(scopeSize);
    if (scope.name.length > 0) writeStringField(T_SCOPE_NAME, scope.name);
    if (scope.version.length > 0) writeStringField(T_SCOPE_VERSION, scope.version);
    for (let i = 0; i < fields.length; i++) pos += fields[i].copy(out, pos);
    if (pos !== total || qPos !== qLen) {
      throw new Error(`otlp-encoder: internal size mismatch (wrote ${pos} of ${total} bytes, read ${qPos} of ${qLen} sizes)`);
    }
  } finally {
    buf = EMPTY;
  }
  return out;
}
