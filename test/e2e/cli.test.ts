/**
 * The CLI as a user runs it: `node dist/src/cli.js FLAGS`, stdout piped.
 * Real sessions between separately named peer processes on loopback.
 */
import { strict as assert } from 'node:assert';
import { CliRun, killAllCliRuns, runCliToExit, type CliExit } from '../support/cli-run';
import { converse, killPeersAfterEachTest, type Conversation } from '../support/peers';

/** The seed's headers (bcc tcplife 2018), byte for byte. */
const HEADER = 'PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS';
const HEADER_WIDE = 'PID   COMM             IP LADDR                      LPORT RADDR                      RPORT  TX_KB  RX_KB MS';
const HEADER_CSV = 'PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS';

const JSON_KEYS = [
  'pid',
  'comm',
  'family',
  'laddr',
  'lport',
  'raddr',
  'rport',
  'tx_bytes',
  'rx_bytes',
  'duration_ms',
  'handshake_ms',
  'role',
  'outcome',
  'error',
  'state_before_close',
  'partial',
  'start',
  'end',
  'host_pid',
  'container_id',
  'rtt_ms',
  'retrans_segments',
  'retrans_bytes',
  'segs_in',
  'segs_out',
  'trace_id',
  'found_at',
];

/** A line appears this soon after the session closed, while the CLI still runs. */
const LINE_LATENCY_MS = 1_000;
/** After the wanted lines arrived: how long an excluded line gets to show up (it must not). */
const EXCLUSION_WAIT_MS = 400;

const CLIENT_SENDS = 100_000;
const SERVER_SENDS = 54_321;

function assertNoStackTrace(text: string, what: string): void {
  assert.ok(!text.includes('    at '), `a stack trace in ${what}: ${text}`);
}

/** Stops with SIGINT and checks the orderly exit every run must make. */
async function stopCleanly(cli: CliRun, signal: NodeJS.Signals = 'SIGINT'): Promise<CliExit> {
  const exit = await cli.stop(signal);
  assert.deepEqual([exit.code, exit.signal], [0, null], `exit status on ${signal}; stderr: ${exit.stderr}`);
  assertNoStackTrace(exit.stderr, `stderr of ${cli.args.join(' ')}`);
  return exit;
}

async function startCli(args: string[]): Promise<CliRun> {
  const cli = new CliRun(args);
  await cli.ready();
  return cli;
}

function loopbackConversation(host = '127.0.0.1', beforeConnect?: Parameters<typeof converse>[0]['beforeConnect']) {
  return converse({ host, clientSends: CLIENT_SENDS, serverSends: SERVER_SENDS, clientClose: 'first', serverClose: 'second', beforeConnect });
}

/** Table columns (default and -w layouts) split on blanks: our comms have no blanks. */
function columns(line: string): string[] {
  return line.trim().split(/\s+/);
}

/** Matches a JSON line by its two ports. */
function jsonEnd(lport: number, rport: number) {
  return (text: string) => {
    if (!text.startsWith('{')) return false;
    const o = JSON.parse(text) as { lport: number; rport: number };
    return o.lport === lport && o.rport === rport;
  };
}

function ends(c: Conversation) {
  const cp = c.clientDone.localPort;
  return { client: jsonEnd(cp, c.serverPort), server: jsonEnd(c.serverPort, cp) };
}

async function assertAbsent(cli: CliRun, match: (text: string) => boolean, what: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, EXCLUSION_WAIT_MS));
  const leaked = cli.lines.filter((l) => match(l.text));
  assert.equal(leaked.length, 0, `${what} should be excluded, got: ${leaked.map((l) => l.text).join(' | ')}`);
}

describe('CLI (node dist/src/cli.js)', function () {
  killPeersAfterEachTest();
  afterEach(function () {
    killAllCliRuns();
  });

  describe('headers', function () {
    const cases: Array<[string[], string]> = [
      [[], HEADER],
      [['-w'], HEADER_WIDE],
      [['-s'], HEADER_CSV],
      [['-T'], 'TIME     ' + HEADER],
      [['-t'], 'TIME(s)   ' + HEADER],
      [['-s', '-T', '-t'], 'TIME,TIME(s),' + HEADER_CSV],
    ];
    for (const [args, header] of cases) {
      it(`${args.join(' ') || '(default)'}: the seed's header line, first on stdout`, async function () {
        const cli = await startCli(args);
        const first = await cli.waitForLine(() => true, 'the header line');
        assert.equal(cli.lines[0].text, header);
        assert.equal(first.text, header);
        await stopCleanly(cli);
      });
    }

    it('-j: no header; every stdout line is one JSON object with the documented keys', async function () {
      const cli = await startCli(['-j']);
      const c = await loopbackConversation();
      await cli.waitForLine(ends(c).client, 'the client session as JSON');
      const exit = await stopCleanly(cli);
      const lines = exit.stdout.split('\n').filter((l) => l !== '');
      assert.ok(lines.length >= 1);
      for (const l of lines) {
        const o = JSON.parse(l) as Record<string, unknown>;
        assert.deepEqual(Object.keys(o), JSON_KEYS, `keys of ${l}`);
      }
    });
  });

  describe('sessions as lines, while it runs', function () {
    it('default: a known IPv4 loopback session appears within 1 s of its close, exact columns', async function () {
      const cli = await startCli([]);
      const c = await loopbackConversation();
      const cp = c.clientDone.localPort;
      const line = await cli.waitForLine((t) => columns(t)[3] === String(cp) && columns(t)[5] === String(c.serverPort), 'the client row', 3_000);
      assert.ok(line.atMs - c.endedMs <= LINE_LATENCY_MS, `row came ${line.atMs - c.endedMs} ms after the session closed`);
      assert.ok(cli.isRunning, 'the CLI still runs: the row was flushed, not printed at exit');
      const [pid, comm, laddr, lport, raddr, rport, txKb, rxKb, ms] = columns(line.text);
      assert.deepEqual(
        [pid, comm, laddr, lport, raddr, rport, txKb, rxKb],
        [String(c.client.pid), c.client.name.slice(0, 10), '127.0.0.1', String(cp), '127.0.0.1', String(c.serverPort), '97', '53'],
        line.text,
      );
      assert.match(ms, /^\d+\.\d\d$/);
      const server = await cli.waitForLine((t) => columns(t)[3] === String(c.serverPort) && columns(t)[5] === String(cp), 'the server row');
      assert.deepEqual(columns(server.text).slice(0, 8), [
        String(c.server.pid),
        c.server.name.slice(0, 10),
        '127.0.0.1',
        String(c.serverPort),
        '127.0.0.1',
        String(cp),
        '53',
        '97',
      ]);
      await stopCleanly(cli);
    });

    it('-w: an IPv6 session with IP 6 and both addresses', async function () {
      const cli = await startCli(['-w']);
      const c = await loopbackConversation('::1');
      const cp = c.clientDone.localPort;
      const line = await cli.waitForLine((t) => columns(t)[4] === String(cp) && columns(t)[6] === String(c.serverPort), 'the client row', 3_000);
      assert.deepEqual(columns(line.text).slice(0, 9), [String(c.client.pid), c.client.name, '6', '::1', String(cp), '::1', String(c.serverPort), '97', '53']);
      await stopCleanly(cli);
    });

    it('-s: a CSV row with exact fields', async function () {
      const cli = await startCli(['-s']);
      const c = await loopbackConversation();
      const cp = c.clientDone.localPort;
      const line = await cli.waitForLine((t) => t.split(',')[4] === String(cp) && t.split(',')[6] === String(c.serverPort), 'the client row', 3_000);
      const f = line.text.split(',');
      assert.equal(f.length, 10, line.text);
      assert.deepEqual(f.slice(0, 9), [String(c.client.pid), c.client.name, '4', '127.0.0.1', String(cp), '127.0.0.1', String(c.serverPort), '97', '53']);
      assert.match(f[9], /^\d+\.\d\d$/);
      await stopCleanly(cli);
    });

    it('-j: exact bytes, role, outcome and times of both ends', async function () {
      const cli = await startCli(['-j']);
      const c = await loopbackConversation();
      const e = ends(c);
      const clientLine = await cli.waitForLine(e.client, 'the client session', 3_000);
      assert.ok(clientLine.atMs - c.endedMs <= LINE_LATENCY_MS, `line came ${clientLine.atMs - c.endedMs} ms after the close`);
      assert.ok(cli.isRunning);
      const serverLine = await cli.waitForLine(e.server, 'the server session');
      const client = JSON.parse(clientLine.text);
      const server = JSON.parse(serverLine.text);
      const cp = c.clientDone.localPort;
      assert.deepEqual(
        [
          client.pid,
          client.comm,
          client.family,
          client.laddr,
          client.lport,
          client.raddr,
          client.rport,
          client.tx_bytes,
          client.rx_bytes,
          client.role,
          client.outcome,
          client.error,
          client.partial,
        ],
        [c.client.pid, c.client.name, 4, '127.0.0.1', cp, '127.0.0.1', c.serverPort, CLIENT_SENDS, SERVER_SENDS, 'client', 'closed_locally', null, false],
      );
      assert.deepEqual(
        [server.pid, server.comm, server.lport, server.rport, server.tx_bytes, server.rx_bytes, server.role, server.outcome, server.state_before_close],
        [c.server.pid, c.server.name, c.serverPort, cp, SERVER_SENDS, CLIENT_SENDS, 'server', 'closed_by_peer', 'LAST_ACK'],
      );
      for (const s of [client, server]) {
        assert.ok(s.duration_ms > 0 && s.handshake_ms >= 0 && s.handshake_ms <= s.duration_ms, JSON.stringify(s));
        const start = Date.parse(s.start);
        const end = Date.parse(s.end);
        assert.ok(start >= c.startedMs - 300 && start <= end && end <= c.endedMs + 300, `start ${s.start} end ${s.end}`);
      }
      await stopCleanly(cli);
    });
  });

  describe('filters', function () {
    it('-L PORT: the end with that local port (server) is shown, the other is not', async function () {
      let cli!: CliRun;
      const c = await loopbackConversation('127.0.0.1', async (_s, _c, port) => {
        cli = await startCli(['-j', '-L', String(port)]);
      });
      const e = ends(c);
      await cli.waitForLine(e.server, 'the server end');
      await assertAbsent(cli, e.client, 'the client end');
      await stopCleanly(cli);
    });

    it('-D PORT: the end with that remote port (client) is shown, the other is not', async function () {
      let cli!: CliRun;
      const c = await loopbackConversation('127.0.0.1', async (_s, _c, port) => {
        cli = await startCli(['-j', '-D', String(port)]);
      });
      const e = ends(c);
      await cli.waitForLine(e.client, 'the client end');
      await assertAbsent(cli, e.server, 'the server end');
      await stopCleanly(cli);
    });

    it("-p PID: only that process's end is shown", async function () {
      let cli!: CliRun;
      const c = await loopbackConversation('127.0.0.1', async (_s, client) => {
        cli = await startCli(['-j', '-p', String(client.pid)]);
      });
      const e = ends(c);
      const line = await cli.waitForLine(e.client, 'the client end');
      assert.equal(JSON.parse(line.text).pid, c.client.pid);
      await assertAbsent(cli, e.server, 'the server end (another pid)');
      await stopCleanly(cli);
    });

    for (const [flag, family] of [
      ['-4', 4],
      ['-6', 6],
    ] as const) {
      it(`${flag}: only IPv${family} sessions are shown`, async function () {
        const cli = await startCli(['-j', flag]);
        const v4 = await loopbackConversation('127.0.0.1');
        const v6 = await loopbackConversation('::1');
        const [wanted, unwanted] = family === 4 ? [v4, v6] : [v6, v4];
        const w = ends(wanted);
        const u = ends(unwanted);
        for (const m of [w.client, w.server]) {
          const line = await cli.waitForLine(m, `an IPv${family} end`);
          assert.equal(JSON.parse(line.text).family, family);
        }
        await assertAbsent(cli, (t) => u.client(t) || u.server(t), `the other family's ends`);
        await stopCleanly(cli);
      });
    }
  });

  describe('attach mechanism', function () {
    for (const mode of ['tracepoint', 'tp_btf'] as const) {
      it(`--attach ${mode}: says so on stderr and traces`, async function () {
        const cli = new CliRun(['-j', '--attach', mode]);
        const said = await cli.ready();
        assert.match(said, new RegExp(`\\b${mode}\\b`));
        assert.doesNotMatch(said, new RegExp(`\\b${mode === 'tp_btf' ? 'tracepoint' : 'tp_btf'}\\b`));
        const c = await loopbackConversation();
        await cli.waitForLine(ends(c).client, 'the client end');
        await stopCleanly(cli);
      });
    }
  });

  describe('stopping', function () {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      it(`${signal}: exits 0 and prints its loss counters on stderr`, async function () {
        const cli = await startCli([]);
        const exit = await stopCleanly(cli, signal);
        const last = exit.stderr.trim().split('\n').pop() ?? '';
        assert.match(last, /\blost\w*=\d+/, `loss counters on stderr's last line: ${exit.stderr}`);
      });
    }
  });

  describe('bad usage', function () {
    const cases: Array<[string[], string]> = [
      [['--bogus'], '--bogus'],
      [['-x'], '-x'],
      [['-p', 'abc'], '-p'],
      [['-L', '70000'], '-L'],
      [['-D'], '-D'],
      [['--attach', 'kprobe'], '--attach'],
      [['-4', '-6'], '-6'],
    ];
    for (const [args, named] of cases) {
      it(`${args.join(' ')}: exits 2 naming ${named}, pointing to --help, no stack`, async function () {
        const exit = await runCliToExit(args);
        assert.equal(exit.code, 2, `exit code; stderr: ${exit.stderr}`);
        assert.ok(exit.stderr.includes(named), `stderr names ${named}: ${exit.stderr}`);
        assert.match(exit.stderr, /^tcplife-otel: \(see --help for the settings and what they allow\)$/m, 'a pointer to --help follows');
        assertNoStackTrace(exit.stderr, 'stderr');
        assert.equal(exit.stdout, '', 'nothing on stdout');
      });
    }
  });
});
