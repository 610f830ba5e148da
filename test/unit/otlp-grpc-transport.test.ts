import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { encodeExportTraceRequest } from '../../src/telemetry/otlp-encoder';
import { OtlpGrpcTransport, outcomeOf, RETRYABLE_CODES, type ExportOutcome, type TransportConnection } from '../../src/telemetry/otlp-grpc-transport';
import { SpanKind, StatusCode } from '../../src/telemetry/span-record';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver';

const error = (code: grpc.status, details = '', message = ''): grpc.ServiceError =>
  Object.assign(new Error(message), { code, details, metadata: new grpc.Metadata() });

const REQUEST = Buffer.from(
  encodeExportTraceRequest({
    resource: [{ key: 'service.name', value: { string: 'transport-test' } }],
    scope: { name: 'tcplife-otel', version: '0.0.1' },
    spans: [
      {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        name: 'one',
        kind: SpanKind.CLIENT,
        startTime: [1795673752, 0],
        endTime: [1795673753, 0],
        attributes: [],
        status: { code: StatusCode.UNSET },
      },
    ],
  }),
);

describe('OTLP/gRPC transport', function () {
  this.timeout(10000);

  describe('outcomeOf', () => {
    it('no error: ok', () => {
      assert.deepEqual(outcomeOf(null), { kind: 'ok' });
    });

    it("retryable: the OTLP spec's codes and RESOURCE_EXHAUSTED", () => {
      const names = ['CANCELLED', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED', 'OUT_OF_RANGE', 'UNAVAILABLE', 'DATA_LOSS'];
      assert.deepEqual([...RETRYABLE_CODES].map((c) => grpc.status[c]).sort(), [...names].sort());
      for (const name of names) {
        const code = grpc.status[name as keyof typeof grpc.status];
        assert.deepEqual(outcomeOf(error(code, 'd')), { kind: 'retryable', status: { code, name, details: 'd' } });
      }
    });

    it('rejected: every other code', () => {
      for (const name of [
        'UNKNOWN',
        'INVALID_ARGUMENT',
        'NOT_FOUND',
        'ALREADY_EXISTS',
        'PERMISSION_DENIED',
        'FAILED_PRECONDITION',
        'UNIMPLEMENTED',
        'INTERNAL',
        'UNAUTHENTICATED',
      ]) {
        const code = grpc.status[name as keyof typeof grpc.status];
        assert.deepEqual(outcomeOf(error(code, 'd')), { kind: 'rejected', status: { code, name, details: 'd' } });
      }
    });

    it("details: gRPC's, else the error's message, else empty; a code without a name by its number", () => {
      assert.equal((outcomeOf(error(grpc.status.UNAVAILABLE, '', 'msg')) as { status: { details: string } }).status.details, 'msg');
      assert.equal((outcomeOf(error(grpc.status.UNAVAILABLE)) as { status: { details: string } }).status.details, '');
      assert.deepEqual(outcomeOf(error(99 as grpc.status, 'x')), { kind: 'rejected', status: { code: 99, name: '99', details: 'x' } });
    });
  });

  describe('calls', () => {
    let receiver: OtlpReceiver | undefined;
    let transport: OtlpGrpcTransport | undefined;
    afterEach(async () => {
      transport?.close();
      await receiver?.close();
      receiver = transport = undefined;
    });

    const connection = (port: number, over: Partial<TransportConnection> = {}): TransportConnection => ({
      endpoint: { host: '127.0.0.1', port, secure: false },
      headers: [],
      compression: 'none',
      ...over,
    });
    const exported = (t: OtlpGrpcTransport, timeoutMs = 2000) => new Promise<ExportOutcome>((resolve) => t.export(REQUEST, timeoutMs, resolve));

    it('sends the request as it is, with the headers as metadata, gzip or not', async () => {
      receiver = await startOtlpReceiver();
      transport = new OtlpGrpcTransport(connection(receiver.port, { headers: [['x-api-key', 's1']], compression: 'gzip' }), undefined, 50);
      assert.equal(transport.target, `http://127.0.0.1:${receiver.port}`);
      assert.deepEqual(await exported(transport), { kind: 'ok' });
      assert.equal(receiver.requests.length, 1);
      assert.deepEqual(receiver.requests[0].body, REQUEST);
      assert.equal(receiver.requests[0].metadata['x-api-key'], 's1');
      assert.equal(receiver.spans()[0].name, 'one');
    });

    it("the collector's status, read as retryable or rejected", async () => {
      const answers = [
        { code: grpc.status.UNAVAILABLE, details: 'restarting' },
        { code: grpc.status.INVALID_ARGUMENT, details: 'bad span' },
      ];
      receiver = await startOtlpReceiver({ respond: (i) => answers[i] ?? grpc.status.OK });
      transport = new OtlpGrpcTransport(connection(receiver.port), undefined, 50);
      assert.deepEqual(await exported(transport), { kind: 'retryable', status: { code: grpc.status.UNAVAILABLE, name: 'UNAVAILABLE', details: 'restarting' } });
      assert.deepEqual(await exported(transport), {
        kind: 'rejected',
        status: { code: grpc.status.INVALID_ARGUMENT, name: 'INVALID_ARGUMENT', details: 'bad span' },
      });
      assert.deepEqual(await exported(transport), { kind: 'ok' });
    });

    it('no collector: UNAVAILABLE, retryable; https in the target when secure', async () => {
      transport = new OtlpGrpcTransport(connection(1), undefined, 50);
      const outcome = await exported(transport);
      assert.equal(outcome.kind, 'retryable');
      assert.equal((outcome as { status: { name: string } }).status.name, 'UNAVAILABLE');
      const secure = new OtlpGrpcTransport(connection(1, { endpoint: { host: 'collector', port: 4317, secure: true } }), undefined, 50);
      assert.equal(secure.target, 'https://collector:4317');
      secure.close();
    });

    it('cancel: the outcome is CANCELLED, told once', async () => {
      receiver = await startOtlpReceiver();
      transport = new OtlpGrpcTransport(connection(receiver.port), undefined, 50);
      const outcomes: ExportOutcome[] = [];
      const cancel = transport.export(REQUEST, 2000, (o) => outcomes.push(o));
      assert.ok(cancel);
      cancel();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(outcomes.length, 1);
      assert.equal(outcomes[0].kind, 'retryable');
      assert.equal((outcomes[0] as { status: { code: number } }).status.code, grpc.status.CANCELLED);
    });

    it('after close: retryable without a status, told before export returns, nothing to cancel', () => {
      transport = new OtlpGrpcTransport(connection(1), undefined, 50);
      transport.close();
      transport.close(); // twice is harmless
      const outcomes: ExportOutcome[] = [];
      const cancel = transport.export(REQUEST, 2000, (o) => outcomes.push(o));
      assert.equal(cancel, undefined);
      assert.deepEqual(outcomes, [{ kind: 'retryable' }]);
    });
  });
});
