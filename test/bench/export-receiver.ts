/**
 * The OTLP/gRPC receiver of the export runs, its own process (forked by
 * run-storm.ts) so that its CPU is never counted as the agent's. A bare
 * @grpc/grpc-js server on TraceService/Export with pass-through serializers:
 * during the storm it only keeps each request's raw body and answers OK (an
 * empty ExportTraceServiceResponse is zero bytes). Decoding (protobufjs, the
 * hand-written protos of test/support/otlp) waits for the "count" message,
 * after the agent has stopped.
 */
import * as grpc from '@grpc/grpc-js';
import type * as protobuf from 'protobufjs';
import { EXPORT_PATH, otlpRoot } from '../support/otlp-receiver';
import type {
  ReceiverCountRequest,
  ReceiverCounted,
  ReceiverListen,
  ReceiverListening,
  ReceiverOutage,
  ReceiverStat,
  ReceiverStatRequest,
} from './storm-protocol';

const bodies: Buffer[] = [];
let bytes = 0;
/** Date.now() until which every request is refused (an outage), and how many were. */
let outageUntil = 0;
let refused = 0;

function send(msg: ReceiverListening | ReceiverStat | ReceiverCounted): void {
  if (process.send) process.send(msg);
}

const identity = (b: Buffer): Buffer => b;
const EMPTY = Buffer.alloc(0);
const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 << 20 });
server.addService(
  {
    Export: {
      path: EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
      originalName: 'Export',
    },
  },
  {
    Export: ((call, callback) => {
      if (Date.now() < outageUntil) {
        refused++;
        callback({ code: grpc.status.UNAVAILABLE, details: 'collector outage (bench)' } as grpc.ServiceError, null);
        return;
      }
      bodies.push(call.request);
      bytes += call.request.length;
      callback(null, EMPTY);
    }) as grpc.handleUnaryCall<Buffer, Buffer>,
  },
);

/** An int64 as protobufjs decodes it (a Long, or a number without long.js). */
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  return Number(String(v));
}

/** The attribute values we read, by key (AnyValue's oneof member `value` names the field set). */
function attributes(list: Array<{ key: string; value?: Record<string, unknown> }>): Map<string, string | number | boolean> {
  const out = new Map<string, string | number | boolean>();
  for (const kv of list) {
    const v = kv.value;
    switch (v?.value) {
      case 'stringValue':
        out.set(kv.key, v.stringValue as string);
        break;
      case 'intValue':
        out.set(kv.key, toNumber(v.intValue));
        break;
      case 'doubleValue':
        out.set(kv.key, v.doubleValue as number);
        break;
      case 'boolValue':
        out.set(kv.key, v.boolValue as boolean);
        break;
    }
  }
  return out;
}

const SERVER_KIND = 2;
const CLIENT_KIND = 3;

/** Same classification as the JSON-lines runs (run-storm.ts readAgentLines), from span attributes. */
function count(req: ReceiverCountRequest): ReceiverCounted {
  const type: protobuf.Type = otlpRoot().lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  const clientPids = new Set(req.clientPids);
  const c: ReceiverCounted = {
    kind: 'counted',
    requests: bodies.length,
    bytes,
    decodeErrors: 0,
    spansTotal: 0,
    spansInInterval: 0,
    server: 0,
    client: 0,
    ownerRight: 0,
    ownerUnknown: 0,
    ownerWrong: 0,
    partial: 0,
    bytesWrong: 0,
    roleOutcomeWrong: 0,
    outcomes: {},
  };
  bodies.forEach((body, i) => {
    let decoded: any;
    try {
      decoded = type.decode(body);
    } catch {
      c.decodeErrors++;
      return;
    }
    const inInterval = i >= req.fromRequest && i < req.toRequest;
    for (const rs of decoded.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          c.spansTotal++;
          if (inInterval) c.spansInInterval++;
          const a = attributes(span.attributes ?? []);
          const isServer = a.get('network.local.port') === req.port && a.get('network.local.address') === req.host;
          const isClient = a.get('network.peer.port') === req.port && a.get('network.peer.address') === req.host;
          if (!isServer && !isClient) continue;
          if (isServer) c.server++;
          else c.client++;
          const pid = (a.get('process.pid') as number | undefined) ?? 0;
          if (pid === 0) c.ownerUnknown++;
          else if (isServer ? pid === req.serverPid : clientPids.has(pid)) c.ownerRight++;
          else c.ownerWrong++;
          if (a.get('tcplife.partial') === true) c.partial++;
          if (a.get('tcplife.bytes_sent') !== 8 || a.get('tcplife.bytes_received') !== 8) c.bytesWrong++;
          const outcome = String(a.get('tcplife.outcome'));
          // The server closes first: its end closed locally, the client's by the peer.
          const expected = isServer ? [SERVER_KIND, 'closed_locally'] : [CLIENT_KIND, 'closed_by_peer'];
          if (span.kind !== expected[0] || outcome !== expected[1]) c.roleOutcomeWrong++;
          c.outcomes[outcome] = (c.outcomes[outcome] ?? 0) + 1;
        }
      }
    }
  });
  return c;
}

process.on('message', (msg: ReceiverListen | ReceiverOutage | ReceiverStatRequest | ReceiverCountRequest) => {
  if (msg.kind === 'listen') {
    server.bindAsync(`${msg.host}:0`, grpc.ServerCredentials.createInsecure(), (err, port) => {
      if (err) {
        process.stderr.write(`export-receiver: cannot listen: ${err.message}\n`);
        process.exit(1);
      }
      send({ kind: 'listening', port });
    });
  } else if (msg.kind === 'outage') {
    outageUntil = Date.now() + msg.ms;
  } else if (msg.kind === 'stat') {
    send({ kind: 'stat', requests: bodies.length, bytes, refused });
  } else if (msg.kind === 'count') {
    send(count(msg));
  }
});
// The orchestrator gone (crash, kill): never outlive it.
process.on('disconnect', () => process.exit(0));
