import { strict as assert } from 'node:assert';
import { ExportStatusLog } from '../../src/telemetry/export-status-log';
import type { CallStatus } from '../../src/telemetry/otlp-grpc-transport';

const UNAVAILABLE: CallStatus = { code: 14, name: 'UNAVAILABLE', details: 'connect ECONNREFUSED\n  127.0.0.1:4317' };
const DEADLINE: CallStatus = { code: 4, name: 'DEADLINE_EXCEEDED', details: 'Deadline exceeded' };
const INVALID: CallStatus = { code: 3, name: 'INVALID_ARGUMENT', details: 'bad span' };
const PREFIX = 'span export to http://c:4317 ';

describe('ExportStatusLog', () => {
  let lines: string[];
  let now: number;
  const statusLog = () =>
    new ExportStatusLog(
      'http://c:4317',
      (l) => lines.push(l),
      () => now,
    );
  beforeEach(() => {
    lines = [];
    now = 1_000_000;
  });

  it('tells the first failure, with the details on one line, not the retries of the same status', () => {
    const log = statusLog();
    log.retrying(UNAVAILABLE, 12);
    log.retrying(UNAVAILABLE, 13);
    log.retrying(UNAVAILABLE, 14);
    assert.deepEqual(lines, [`${PREFIX}failed: UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:4317; retrying with backoff while 12 spans wait`]);
  });

  it('tells each change of status', () => {
    const log = statusLog();
    log.retrying(UNAVAILABLE, 1);
    log.retrying(DEADLINE, 2);
    log.retrying(DEADLINE, 3);
    log.retrying(UNAVAILABLE, 4);
    assert.deepEqual(lines, [
      `${PREFIX}failed: UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:4317; retrying with backoff while 1 spans wait`,
      `${PREFIX}failed: DEADLINE_EXCEEDED: Deadline exceeded; retrying with backoff while 2 spans wait`,
      `${PREFIX}failed: UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:4317; retrying with backoff while 4 spans wait`,
    ]);
  });

  it('tells every dropped batch, even of the same status', () => {
    const log = statusLog();
    log.dropped(INVALID, 2);
    log.dropped(INVALID, 3);
    assert.deepEqual(lines, [
      `${PREFIX}failed: INVALID_ARGUMENT: bad span; 2 spans dropped (not retryable)`,
      `${PREFIX}failed: INVALID_ARGUMENT: bad span; 3 spans dropped (not retryable)`,
    ]);
  });

  it('tells the recovery once: the failed attempts since the status began, and for how long', () => {
    const log = statusLog();
    log.recovered();
    assert.deepEqual(lines, [], 'nothing failed: nothing to tell');
    log.retrying(UNAVAILABLE, 1);
    now += 400;
    log.retrying(DEADLINE, 1); // a new status: its count and time start here
    now += 1000;
    log.retrying(DEADLINE, 1);
    now += 2260;
    log.recovered();
    log.recovered();
    assert.equal(lines.length, 3);
    assert.equal(lines[2], `${PREFIX}works again, after 2 failed attempts in 3.3 s`);
  });

  it('cuts long details to 300 characters', () => {
    statusLog().dropped({ ...INVALID, details: 'x'.repeat(1000) }, 1);
    assert.equal(lines[0], `${PREFIX}failed: INVALID_ARGUMENT: ${'x'.repeat(300)}; 1 spans dropped (not retryable)`);
  });
});
