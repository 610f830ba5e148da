/**
 * Each optional part of the kernel program fails alone: the test-only
 * TCPLIFE_TEST_REJECT_PARTS gives the named parts a real verifier error, and
 * the agent must still report every session of a known workload exactly,
 * name the part that is off (with the verifier's words) in one start-up
 * line, and differ from a full run only where that part matters.
 */
import { strict as assert } from 'node:assert';
import { AgentProcess, killAllAgents, runAgentToExit } from '../support/agent-process';
import { allReported, compareEnds, runKnownWorkload, type ExpectedEnd } from '../support/known-workload';
import { driverName, killAllDrivers, startSessionDriver, type SessionDriver } from '../support/session-driver';

const PARTS = {
  'nested-state-changes': { program: 'set_state_nested', what: /off: state changes nested in an interrupt/ },
  'owners-from-io': { program: 'owner_on_send', what: /off: owners of accepted sockets from their first send\/recv/ },
  'open-sessions': { program: 'find_open_owners', what: /off: sessions open at start/ },
} as const;
type Part = keyof typeof PARTS;
const VERIFIER_WORDS = "R0 invalid mem access 'map_value_or_null'";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function linesWith(agent: AgentProcess, expected: ExpectedEnd[], timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!allReported(expected, agent.jsonLines()) && Date.now() < deadline) await sleep(20);
  return agent.jsonLines();
}

describe('kernel parts that fail alone (TCPLIFE_TEST_REJECT_PARTS)', function () {
  this.timeout(30_000);
  let driver: SessionDriver;
  beforeEach(async function () {
    driver = await startSessionDriver(driverName('kp'));
  });
  afterEach(function () {
    killAllAgents();
    killAllDrivers();
  });

  /**
   * A session opened before the agent, the agent with `rejected` parts,
   * the known workload, then the old session closed: returns what the
   * agent said.
   */
  async function runWith(rejected: Part[]) {
    const listener = await driver.listen('127.0.0.1');
    const old = await driver.open('127.0.0.1', listener);
    const env: Record<string, string> = rejected.length ? { TCPLIFE_TEST_REJECT_PARTS: rejected.join(',') } : {};
    const agent = new AgentProcess(['-j', '--stats-interval', '0'], env);
    await agent.ready();
    const expected = await runKnownWorkload(driver, { ownersFromIo: !rejected.includes('owners-from-io') });
    await driver.closeOpen(old.handle);
    const oldEnds = (l: Record<string, unknown>) =>
      (l.lport === old.clientPort && l.rport === listener) || (l.lport === listener && l.rport === old.clientPort);
    const deadline = Date.now() + 5_000;
    let lines = await linesWith(agent, expected);
    while (lines.filter(oldEnds).length < 2 && Date.now() < deadline) {
      await sleep(20);
      lines = agent.jsonLines();
    }
    const exit = await agent.stop();
    assert.equal(exit.code, 0, exit.stderr);
    return { exit, expected, lines, oldEnds: lines.filter(oldEnds), oldClientPort: old.clientPort };
  }

  function assertStartReport(stderr: string, rejected: Part[]) {
    for (const [name, part] of Object.entries(PARTS) as [Part, (typeof PARTS)[Part]][]) {
      const line = stderr.split('\n').find((l) => part.what.test(l));
      if (rejected.includes(name)) {
        assert.ok(line, `no start-up line says ${name} is off: ${stderr}`);
        assert.ok(line.includes(`loading ${part.program}: ${VERIFIER_WORDS}`), `the line names the program and the verifier's words: ${line}`);
      } else {
        assert.equal(line, undefined, `${name} is said to be off but was not rejected: ${stderr}`);
      }
    }
    assert.match(stderr, /tracing TCP sessions via tp_btf\/inet_sock_set_state/);
  }

  it('with every part on: no part is said to be off, every session exact, sessions open at start found with their role', async function () {
    const r = await runWith([]);
    assertStartReport(r.exit.stderr, []);
    assert.deepEqual(compareEnds(r.expected, r.lines), []);
    assert.match(r.exit.stderr, /found [1-9]\d* TCP sessions open at start/);
    assert.deepEqual(r.oldEnds.map((l) => [l.role, l.pid, l.partial, l.found_at !== null]).sort(), [
      ['client', driver.pid, true, true],
      ['server', driver.pid, true, true],
    ]);
    const client = r.oldEnds.find((l) => l.lport === r.oldClientPort)!;
    assert.deepEqual([client.tx_bytes, client.rx_bytes], [1, 1], 'payload bytes of a session found at start: its SYN is not counted');
  });

  for (const part of Object.keys(PARTS) as Part[]) {
    it(`${part} rejected: the start-up line names it with the verifier's words; the core reports every session exactly`, async function () {
      const r = await runWith([part]);
      assertStartReport(r.exit.stderr, [part]);
      assert.deepEqual(compareEnds(r.expected, r.lines), []);
      if (part === 'open-sessions') {
        // Still reported at close, partial, with the owner close() shows, but without role.
        assert.doesNotMatch(r.exit.stderr, /found \d+ TCP sessions open at start/);
        assert.deepEqual(r.oldEnds.map((l) => [l.role, l.pid, l.partial]).sort(), [
          ['unknown', driver.pid, true],
          ['unknown', driver.pid, true],
        ]);
      } else {
        assert.deepEqual(r.oldEnds.map((l) => [l.role, l.partial]).sort(), [
          ['client', true],
          ['server', true],
        ]);
      }
    });
  }

  it('all three rejected at once: three start-up lines, and the core alone still reports every session exactly', async function () {
    const all = Object.keys(PARTS) as Part[];
    const r = await runWith(all);
    assertStartReport(r.exit.stderr, all);
    assert.deepEqual(compareEnds(r.expected, r.lines), []);
    assert.equal(r.oldEnds.length, 2);
  });

  it('--verbose prints the whole verifier log of a part that is off', async function () {
    const agent = new AgentProcess(['-j', '--verbose', '--stats-interval', '0'], { TCPLIFE_TEST_REJECT_PARTS: 'owners-from-io' });
    await agent.ready();
    const exit = await agent.stop();
    assert.equal(exit.code, 0, exit.stderr);
    assert.match(exit.stderr, /-- BEGIN PROG LOAD LOG --/);
    assert.match(exit.stderr, /processed \d+ insns/, "the log runs to the verifier's last words");
    assert.ok(exit.stderr.indexOf("prog 'owner_on_send'") >= 0, exit.stderr);
  });

  it("the core rejected with --attach tp_btf: exit 1, the core named with the verifier's words, nothing attached", async function () {
    const exit = await runAgentToExit(['--attach', 'tp_btf'], { TCPLIFE_TEST_REJECT_PARTS: 'core' });
    assert.equal(exit.code, 1, exit.stderr);
    assert.match(exit.stderr, new RegExp(`the kernel's verifier rejected the core program \\(tp_btf\\): ${VERIFIER_WORDS}`));
    assert.doesNotMatch(exit.stderr, /attached in|off: /);
    assert.doesNotMatch(exit.stderr, /\n\s+at /, 'no stack trace');
  });

  it('the core rejected with --attach auto: the classic tracepoint is tried too, and both refusals are named', async function () {
    const exit = await runAgentToExit([], { TCPLIFE_TEST_REJECT_PARTS: 'core' });
    assert.equal(exit.code, 1, exit.stderr);
    assert.match(exit.stderr, /rejected the core program \(tracepoint\): R0 invalid mem access/);
    assert.match(exit.stderr, /tp_btf was tried first: loading: R0 invalid mem access/);
  });

  it('an unknown part name: exit 2 naming it and the allowed ones', async function () {
    const exit = await runAgentToExit([], { TCPLIFE_TEST_REJECT_PARTS: 'owners-from-io,iterator' });
    assert.equal(exit.code, 2, exit.stderr);
    assert.match(exit.stderr, /TCPLIFE_TEST_REJECT_PARTS: unknown part iterator \(allowed: core, nested-state-changes, owners-from-io, open-sessions\)/);
  });
});
