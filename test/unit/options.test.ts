import { strict as assert } from 'node:assert';
import { parseCliArgs, UsageError, USAGE, type CliOptions } from '../../src/cli/options';

const DEFAULTS: CliOptions = {
  help: false,
  table: { wide: false, csv: false, time: false, timestamp: false },
  json: false,
  filters: { pids: [], localPorts: [], remotePorts: [], family: 0 },
  attach: 'auto',
  verbose: false,
  shutdownTimeoutMs: 5000,
  statsIntervalS: 60,
};

/** DEFAULTS with some parts replaced (one level deep for table and filters). */
function expect(over: {
  help?: boolean;
  table?: Partial<CliOptions['table']>;
  json?: boolean;
  filters?: Partial<CliOptions['filters']>;
  attach?: CliOptions['attach'];
  verbose?: boolean;
  shutdownTimeoutMs?: number;
  statsIntervalS?: number;
}): CliOptions {
  return {
    ...DEFAULTS,
    ...over,
    table: { ...DEFAULTS.table, ...over.table },
    filters: { ...DEFAULTS.filters, ...over.filters },
  };
}

describe('command line', () => {
  describe('good command lines', () => {
    const cases: Array<[string[], CliOptions]> = [
      [[], DEFAULTS],
      [['-T'], expect({ table: { time: true } })],
      [['--time'], expect({ table: { time: true } })],
      [['-t'], expect({ table: { timestamp: true } })],
      [['--timestamp'], expect({ table: { timestamp: true } })],
      [['-w'], expect({ table: { wide: true } })],
      [['--wide'], expect({ table: { wide: true } })],
      [['-s'], expect({ table: { csv: true } })],
      [['--csv'], expect({ table: { csv: true } })],
      [['-stT'], expect({ table: { csv: true, time: true, timestamp: true } })],
      [['-wTt'], expect({ table: { wide: true, time: true, timestamp: true } })],
      [['-sw'], expect({ table: { csv: true, wide: true } })], // allowed, CSV wins as in the seed
      [['-j'], expect({ json: true })],
      [['--json', '-6'], expect({ json: true, filters: { family: 6 } })],
      [['-p', '181'], expect({ filters: { pids: [181] } })],
      [['-p181'], expect({ filters: { pids: [181] } })],
      [['--pid=181'], expect({ filters: { pids: [181] } })],
      [['--pid', '300,1,300,4194304'], expect({ filters: { pids: [1, 300, 4194304] } })],
      [['-p', '5', '-p', '3'], expect({ filters: { pids: [3, 5] } })], // repeated list flags add up
      [['-L', '80'], expect({ filters: { localPorts: [80] } })],
      [['-L', '81,80'], expect({ filters: { localPorts: [80, 81] } })],
      [['--localport', '8080-8083,80,8081'], expect({ filters: { localPorts: [80, 8080, 8081, 8082, 8083] } })],
      [['-D', '443'], expect({ filters: { remotePorts: [443] } })],
      [['--remoteport=1,65535,7-7'], expect({ filters: { remotePorts: [1, 7, 65535] } })],
      [['-4'], expect({ filters: { family: 4 } })],
      [['--ipv4'], expect({ filters: { family: 4 } })],
      [['-6'], expect({ filters: { family: 6 } })],
      [['--ipv6'], expect({ filters: { family: 6 } })],
      [['--attach', 'tp_btf'], expect({ attach: 'tp_btf' })],
      [['--attach=tracepoint'], expect({ attach: 'tracepoint' })],
      [['--attach', 'auto', '--attach', 'auto'], DEFAULTS],
      [['--shutdown-timeout', '0'], expect({ shutdownTimeoutMs: 0 })],
      [['--shutdown-timeout=25000'], expect({ shutdownTimeoutMs: 25000 })],
      [['--shutdown-timeout', '600000'], expect({ shutdownTimeoutMs: 600000 })],
      [['--stats-interval', '0'], expect({ statsIntervalS: 0 })],
      [['--stats-interval', '10', '--stats-interval', '86400'], expect({ statsIntervalS: 86400 })],
      [['--verbose'], expect({ verbose: true })],
      [['-swTtL', '22', '-D80'], expect({ table: { csv: true, wide: true, time: true, timestamp: true }, filters: { localPorts: [22], remotePorts: [80] } })],
      [['--'], DEFAULTS],
      [['-h'], expect({ help: true })],
      [['--help'], expect({ help: true })],
      [['-p', 'junk', '--help'], expect({ help: true })], // asking for help never fails
      [['-sh'], expect({ help: true })],
    ];
    for (const [argv, expected] of cases) {
      it(JSON.stringify(argv), () => assert.deepEqual(parseCliArgs(argv), expected));
    }

    it('a full range expands to every port', () => {
      const o = parseCliArgs(['-L', '1-65535,80,1-100']);
      assert.equal(o.filters.localPorts.length, 65535);
      assert.equal(o.filters.localPorts[0], 1);
      assert.equal(o.filters.localPorts[65534], 65535);
    });
  });

  describe('bad command lines', () => {
    const PORTS = 'expected comma-separated ports 1-65535 or ranges like 8000-8080';
    const PIDS = 'expected comma-separated process ids 1-4194304';
    const cases: Array<[string[], string]> = [
      [['-p', 'abc'], `-p: "abc" is not a PID list: ${PIDS}`],
      [['-p', '0'], `-p: "0" is not a PID list: ${PIDS} (0 is out of range)`],
      [['-p', '-5'], `-p: "-5" is not a PID list: ${PIDS}`],
      [['--pid=-5'], `--pid: "-5" is not a PID list: ${PIDS}`],
      [['-p', '4194305'], `-p: "4194305" is not a PID list: ${PIDS} (4194305 is out of range)`],
      [['-p', '99999999999999999999999'], `-p: "99999999999999999999999" is not a PID list: ${PIDS} (99999999999999999999999 is out of range)`],
      [['-p', '1.5'], `-p: "1.5" is not a PID list: ${PIDS}`],
      [['-p', '12,'], `-p: "12," is not a PID list: ${PIDS}`],
      [['-p', ''], `-p: "" is not a PID list: ${PIDS}`],
      [['-p'], `-p: missing value: ${PIDS}`],
      [['--pid', '--wide'], `--pid: "--wide" is not a PID list: ${PIDS} ("--wide" looks like an option: is the value missing?)`],
      [['-L', '80,abc'], `-L: "80,abc" is not a port list: ${PORTS}`],
      [['-L', '70000'], `-L: "70000" is not a port list: ${PORTS} (70000 is out of range)`],
      [['-L', '0'], `-L: "0" is not a port list: ${PORTS} (0 is out of range)`],
      [['-D', '9000-8000'], `-D: "9000-8000" is not a port list: ${PORTS} (range 9000-8000 is reversed: low must not exceed high)`],
      [['-D', '1-70000'], `-D: "1-70000" is not a port list: ${PORTS} (70000 is out of range)`],
      [['-D', '80-'], `-D: "80-" is not a port list: ${PORTS}`],
      [['-D', '-80'], `-D: "-80" is not a port list: ${PORTS}`],
      [['--localport', ''], `--localport: "" is not a port list: ${PORTS}`],
      [['--remoteport=80,,81'], `--remoteport: "80,,81" is not a port list: ${PORTS}`],
      [['-L', '80 81'], `-L: "80 81" is not a port list: ${PORTS}`],
      [['-L', '80;rm -rf /'], `-L: "80;rm -rf /" is not a port list: ${PORTS}`],
      [['-L', '$(reboot)'], `-L: "$(reboot)" is not a port list: ${PORTS}`],
      [['-L', '80\n81'], `-L: "80\\n81" is not a port list: ${PORTS}`],
      [['-D'], `-D: missing value: ${PORTS}`],
      [['--attach', 'kprobe'], '--attach: "kprobe" is not an attach mode: expected auto, tp_btf, tracepoint'],
      [['--attach'], '--attach: missing value: expected auto, tp_btf, tracepoint'],
      [['--shutdown-timeout'], '--shutdown-timeout: missing value: expected milliseconds from 0 to 600000'],
      [['--shutdown-timeout', '600001'], '--shutdown-timeout: "600001" is not allowed: expected milliseconds from 0 to 600000'],
      [['--shutdown-timeout', '-1'], '--shutdown-timeout: "-1" is not allowed: expected milliseconds from 0 to 600000'],
      [['--shutdown-timeout', '5s'], '--shutdown-timeout: "5s" is not allowed: expected milliseconds from 0 to 600000'],
      [['--stats-interval', '1e3'], '--stats-interval: "1e3" is not allowed: expected seconds from 0 (only at exit) to 86400'],
      [['--stats-interval', '99999999999999999999'], '--stats-interval: "99999999999999999999" is not allowed: expected seconds from 0 (only at exit) to 86400'],
      [['--attach', 'tp_btf', '--attach', 'tracepoint'], '--attach: given twice with different modes (tp_btf and tracepoint): choose one'],
      [['-4', '-6'], '-4 and -6 cannot be used together: give one family, or neither for both'],
      [['--ipv6', '--ipv4'], '--ipv4 and --ipv6 cannot be used together: give one family, or neither for both'],
      [['-j', '-s'], '-j (JSON lines) and -s (CSV) cannot be used together: choose one output format'],
      [['-js'], '-j (JSON lines) and -s (CSV) cannot be used together: choose one output format'],
      [
        ['--json', '-w'],
        '--json (JSON lines) and -w (wide table) cannot be used together: -w only widens the table\'s columns; JSON lines always carry full addresses',
      ],
      [
        ['-jT'],
        '-j (JSON lines) and -T (HH:MM:SS column) cannot be used together: each JSON line already carries its start and end as RFC 3339 UTC timestamps',
      ],
      [
        ['-j', '--timestamp'],
        '-j (JSON lines) and --timestamp (seconds column) cannot be used together: each JSON line already carries its start and end as RFC 3339 UTC timestamps',
      ],
      [['--foo'], "unknown option '--foo'"],
      [['--foo=bar'], "unknown option '--foo'"],
      [['-x'], "unknown option '-x'"],
      [['-sx'], "unknown option '-x'"],
      [['-C'], "unknown option '-C'"], // the seed's usage line mentions -C/-S; it never had them
      [['--ebpf'], "unknown option '--ebpf'"],
      [['--Wide'], "unknown option '--Wide'"],
      [['--wide=yes'], '--wide: takes no value (got "yes")'],
      [['-L', '80;rm', '-rf', '/'], `-L: "80;rm" is not a port list: ${PORTS}`], // the first error, in order
      [['-w', '-rf', '/'], "unknown option '-r'"],
      [
        ['1'],
        'unexpected argument "1": tcplife-otel takes no positional arguments (bcc tcplife\'s interval and count are not supported; it runs until interrupted)',
      ],
      [
        ['-s', '1', '5'],
        'unexpected argument "1": tcplife-otel takes no positional arguments (bcc tcplife\'s interval and count are not supported; it runs until interrupted)',
      ],
      [
        ['--', '-p'],
        'unexpected argument "-p": tcplife-otel takes no positional arguments (bcc tcplife\'s interval and count are not supported; it runs until interrupted)',
      ],
      [
        ['-'],
        'unexpected argument "-": tcplife-otel takes no positional arguments (bcc tcplife\'s interval and count are not supported; it runs until interrupted)',
      ],
    ];
    for (const [argv, message] of cases) {
      it(JSON.stringify(argv), () => {
        assert.throws(
          () => parseCliArgs(argv),
          (err: unknown) => {
            assert.ok(err instanceof UsageError, `not a UsageError: ${String(err)}`);
            assert.equal(err.message, message);
            return true;
          },
        );
      });
    }

    it('an enormous value is cut in the message', () => {
      const huge = '1,'.repeat(10000) + 'x';
      assert.throws(
        () => parseCliArgs(['-p', huge]),
        (err: unknown) => err instanceof UsageError && err.message.length < 200 && err.message.includes('..."'),
      );
    });
  });

  describe('USAGE', () => {
    it('documents every flag and the seed examples', () => {
      for (const flag of [
        '-h, --help', '-T, --time', '-t, --timestamp', '-w, --wide', '-s, --csv', '-j, --json', '--pid', '--localport',
        '--remoteport', '-4, --ipv4', '-6, --ipv6', '--attach', '--verbose', '--shutdown-timeout', '--stats-interval', '-stT', '-L 80,81', '8000-8080',
      ]) {
        assert.ok(USAGE.includes(flag), flag);
      }
    });
  });
});
