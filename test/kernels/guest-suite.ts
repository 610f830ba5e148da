/**
 * Runs inside a guest kernel of the matrix (matrix.test.ts boots it): one
 * agent, started as a user would (the CLI, JSON lines and OTLP export), a
 * session opened before it, the known workload, then the checks.
 * TCPLIFE_MATRIX_EXPECT_OFF names the parts this kernel must refuse
 * (comma-separated NAME or NAME=WORDS, WORDS being what the off line must
 * say; empty: none). Everything is slow here (software
 * emulation): timeouts are generous, counts and contents exact.
 */
import { strict as assert } from 'node:assert';
import { AgentProcess, killAllAgents } from '../support/agent-process';
import { allReported, compareEnds, runKnownWorkload, type ExpectedEnd } from '../support/known-workload';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { driverName, killAllDrivers, startSessionDriver } from '../support/session-driver';
import { GUEST_CASES } from './guest-cases';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const expectations = (process.env.TCPLIFE_MATRIX_EXPECT_OFF ?? '')
  .split(',')
  .filter(Boolean)
  .map((e) => {
    const eq = e.indexOf('=');
    return eq < 0 ? [e, ''] : [e.slice(0, eq), e.slice(eq + 1)];
  });
const expectOff = expectations.map(([name]) => name);

describe(`kernel ${process.env.TCPLIFE_MATRIX_KERNEL ?? '?'}`, function () {
  this.timeout(300_000);
  let receiver: OtlpReceiver;
  let stderr = '';
  let lines: Array<Record<string, unknown>> = [];
  let expected: ExpectedEnd[] = [];
  let oldEnds: Array<Record<string, unknown>> = [];
  let oldPorts: { client: number; server: number };
  let spans: ReceivedSpan[] = [];
  let driverPid = 0;

  before(async function () {
    receiver = await startOtlpReceiver();
    const driver = await startSessionDriver(driverName('mx'), { timeoutMs: 60_000 });
    driverPid = driver.pid;
    const listener = await driver.listen('127.0.0.1');
    const old = await driver.open('127.0.0.1', listener);
    oldPorts = { client: old.clientPort, server: listener };
    const agent = new AgentProcess(['-j', '--stats-interval', '0'], {
      OTEL_TRACES_EXPORTER: 'otlp,console',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.address}`,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
    await agent.ready(180_000);
    expected = await runKnownWorkload(driver, { ownersFromIo: !expectOff.includes('owners-from-io') });
    await driver.closeOpen(old.handle);
    const isOld = (l: Record<string, unknown>) =>
      (l.lport === oldPorts.client && l.rport === oldPorts.server) || (l.lport === oldPorts.server && l.rport === oldPorts.client);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(allReported(expected, agent.jsonLines()) && agent.jsonLines().filter(isOld).length >= 2)) await sleep(100);
    const exit = await agent.stop('SIGINT', 60_000);
    stderr = exit.stderr;
    lines = agent.jsonLines();
    oldEnds = lines.filter(isOld);
    spans = receiver.spans();
    await driver.stop();
  });

  after(async function () {
    killAllAgents();
    killAllDrivers();
    await receiver?.close();
  });

  it(GUEST_CASES.startReport, function () {
    assert.match(stderr, /tracing TCP sessions via tp_btf\/inet_sock_set_state/, stderr);
    const offLines = stderr.split('\n').filter((l) => /: off: /.test(l));
    const names: Record<string, RegExp> = {
      'nested-state-changes': /off: state changes nested/,
      'owners-from-io': /off: owners of accepted sockets/,
      'open-sessions': /off: sessions open at start/,
    };
    const off = Object.keys(names).filter((n) => offLines.some((l) => names[n].test(l)));
    assert.deepEqual(
      off,
      Object.keys(names).filter((n) => expectOff.includes(n)),
      `parts off: ${offLines.join(' | ')}`,
    );
    for (const [name, words] of expectations) {
      const line = offLines.find((l) => names[name].test(l))!;
      if (words) assert.ok(line.includes(words), `the off line of ${name} should say "${words}": ${line}`);
    }
  });

  it(GUEST_CASES.sessions, function () {
    assert.deepEqual(compareEnds(expected, lines), []);
  });

  it(GUEST_CASES.openAtStart, function () {
    assert.match(stderr, /found [1-9]\d* TCP sessions open at start/);
    assert.deepEqual(oldEnds.map((l) => [l.lport === oldPorts.client ? 'client' : 'server', l.role, l.pid, l.partial, l.tx_bytes, l.rx_bytes]).sort(), [
      ['client', 'client', driverPid, true, 1, 1],
      ['server', 'server', driverPid, true, 1, 1],
    ]);
  });

  it(GUEST_CASES.spans, function () {
    const num = (s: ReceivedSpan, k: string) => Number(s.attributes[k]); // OTLP ints decode as bigint
    const problems: string[] = [];
    for (const e of expected) {
      const hits = spans.filter((s) => num(s, 'network.peer.port') === e.rport && (e.lport < 0 || num(s, 'network.local.port') === e.lport));
      if (hits.length !== 1) {
        problems.push(`${e.what}: ${hits.length} spans`);
        continue;
      }
      const [sent, received, outcome] = [num(hits[0], 'tcplife.bytes_sent'), num(hits[0], 'tcplife.bytes_received'), hits[0].attributes['tcplife.outcome']];
      if (sent !== e.tx_bytes || received !== e.rx_bytes || outcome !== e.outcome)
        problems.push(`${e.what}: sent ${sent} received ${received} outcome ${String(outcome)}`);
    }
    assert.deepEqual(problems, []);
  });
});
