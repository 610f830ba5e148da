/**
 * tcplife's text layouts. The expected lines are literals written by hand
 * from the seed's format strings (and checked once against Python's
 * %-formatting while writing them); nothing here computes them.
 */
import { strict as assert } from 'node:assert';
import type { TcpSession } from '../../src/sessions/tcp-session';
import { isPartial, localClock, pyFixed, tableHeader, tableRow, type TableOptions } from '../../src/output/table';
import { sampleSession } from '../support/sample-session';

// The layouts below were written for these times and this handshake.
function session(over: Partial<TcpSession>): TcpSession {
  return sampleSession({
    startTime: [1795673752, 0],
    endTime: [1795673752, 123456789],
    handshakeNs: 1000000,
    ...over,
  });
}

/** IPv4, 2548 B -> 2 KB, 1048577 B -> 1024 KB, 123.456789 ms. */
const s1 = session({});
/** IPv6, pid wider than its column, comm longer than 16, address longer than 26, 1.125 ms (an exact tie). */
const s2 = session({
  family: 6,
  pid: 4194304,
  comm: 'a-very-long-command',
  localAddress: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1',
  localPort: 8080,
  remoteAddress: '::1',
  remotePort: 55555,
  role: 'server',
  bytesSent: 0,
  bytesReceived: 1023,
  durationNs: 1125000,
});
/** Unknown owner, widest IPv4 addresses, 0.004 ms. */
const s3 = session({
  pid: 0,
  tid: 0,
  hostPid: 0,
  comm: '',
  ownerSource: 'none',
  localAddress: '192.168.100.200',
  localPort: 22,
  remoteAddress: '192.168.100.201',
  remotePort: 61000,
  bytesSent: 999999,
  bytesReceived: 10240,
  durationNs: 4000,
});
/** A 16-character comm (cut to 10 by default, fits -w), 1.005 ms (binary just below the tie). */
const s4 = session({
  pid: 42,
  comm: 'systemd-resolved',
  localAddress: '127.0.0.53',
  localPort: 53,
  remoteAddress: '127.0.0.1',
  remotePort: 40000,
  bytesSent: 100,
  bytesReceived: 200,
  durationNs: 1005000,
});
/** IPv4-mapped IPv6, 2.675 ms. */
const s5 = session({
  family: 6,
  pid: 7,
  comm: 'nginx',
  localAddress: '::ffff:10.1.2.3',
  localPort: 80,
  remoteAddress: '::ffff:10.9.8.7',
  remotePort: 51234,
  bytesSent: 5 * 1024 * 1024,
  bytesReceived: 3000,
  durationNs: 2675000,
});

const plain: TableOptions = { wide: false, csv: false, time: false, timestamp: false };
const wide: TableOptions = { ...plain, wide: true };
const csv: TableOptions = { ...plain, csv: true };

describe('table output', () => {
  describe('headers', () => {
    const cases: Array<[string, TableOptions, string]> = [
      ['default', plain, 'PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS'],
      ['wide', wide, 'PID   COMM             IP LADDR                      LPORT RADDR                      RPORT  TX_KB  RX_KB MS'],
      ['csv', csv, 'PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS'],
      ['csv wins over wide', { ...csv, wide: true }, 'PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS'],
      ['-T', { ...plain, time: true }, 'TIME     PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS'],
      ['-t', { ...plain, timestamp: true }, 'TIME(s)   PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS'],
      ['-Tt', { ...plain, time: true, timestamp: true }, 'TIME     TIME(s)   PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS'],
      ['-stT', { ...csv, time: true, timestamp: true }, 'TIME,TIME(s),PID,COMM,IP,LADDR,LPORT,RADDR,RPORT,TX_KB,RX_KB,MS'],
    ];
    for (const [name, opts, expected] of cases) {
      it(name, () => assert.equal(tableHeader(opts), expected));
    }
  });

  describe('rows', () => {
    const cases: Array<[string, TcpSession, TableOptions, string]> = [
      ['default IPv4', s1, plain, '1234  curl       10.0.0.5        45678 93.184.216.34   443       2  1024 123.46'],
      [
        'default: overlong pid and address are not cut, comm is cut to 10',
        s2,
        plain,
        '4194304 a-very-lon 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 8080  ::1             55555     0     0 1.12',
      ],
      ['default unknown owner', s3, plain, '0     ?          192.168.100.200 22    192.168.100.201 61000   976    10 0.00'],
      ['default long comm', s4, plain, '42    systemd-re 127.0.0.53      53    127.0.0.1       40000     0     0 1.00'],
      ['default IPv4-mapped', s5, plain, '7     nginx      ::ffff:10.1.2.3 80    ::ffff:10.9.8.7 51234  5120     2 2.67'],
      ['wide IPv4', s1, wide, '1234  curl             4  10.0.0.5                   45678 93.184.216.34              443        2   1024 123.46'],
      [
        'wide IPv6 with a long address',
        s2,
        wide,
        '4194304 a-very-long-comm 6  2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 8080  ::1                        55555      0      0 1.12',
      ],
      ['wide unknown owner', s3, wide, '0     ?                4  192.168.100.200            22    192.168.100.201            61000    976     10 0.00'],
      ['wide 16-char comm fits', s4, wide, '42    systemd-resolved 4  127.0.0.53                 53    127.0.0.1                  40000      0      0 1.00'],
      ['wide IPv4-mapped', s5, wide, '7     nginx            6  ::ffff:10.1.2.3            80    ::ffff:10.9.8.7            51234   5120      2 2.67'],
      ['csv IPv4', s1, csv, '1234,curl,4,10.0.0.5,45678,93.184.216.34,443,2,1024,123.46'],
      ['csv IPv6: nothing cut', s2, csv, '4194304,a-very-long-command,6,2001:db8:aaaa:bbbb:cccc:dddd:eeee:1,8080,::1,55555,0,0,1.12'],
      ['csv unknown owner', s3, csv, '0,?,4,192.168.100.200,22,192.168.100.201,61000,976,10,0.00'],
      ['csv long comm', s4, csv, '42,systemd-resolved,4,127.0.0.53,53,127.0.0.1,40000,0,0,1.00'],
      ['csv IPv4-mapped', s5, csv, '7,nginx,6,::ffff:10.1.2.3,80,::ffff:10.9.8.7,51234,5120,2,2.67'],
    ];
    for (const [name, s, opts, expected] of cases) {
      it(name, () => assert.equal(tableRow(s, opts, {}), expected));
    }
  });

  describe('-T and -t prefixes', () => {
    // First printed session closed at ...000.999999999; this one 1.500001 s later
    // once both are cut to whole microseconds, as the seed's ts_us are.
    const later = session({ endTime: [1002, 500000999] });
    const ctx = { firstEnd: [1000, 999999999] as [number, number], clock: '06:15:52' };
    const cases: Array<[string, TcpSession, TableOptions, { firstEnd?: [number, number]; clock?: string }, string]> = [
      ['-T', s1, { ...plain, time: true }, ctx, '06:15:52 1234  curl       10.0.0.5        45678 93.184.216.34   443       2  1024 123.46'],
      ['-t', later, { ...plain, timestamp: true }, ctx, '1.500001  1234  curl       10.0.0.5        45678 93.184.216.34   443       2  1024 123.46'],
      [
        '-t first row prints 0.000000',
        s1,
        { ...plain, timestamp: true },
        {},
        '0.000000  1234  curl       10.0.0.5        45678 93.184.216.34   443       2  1024 123.46',
      ],
      [
        '-t wider than its column is not cut',
        session({ endTime: [13346, 678901000] }),
        { ...plain, timestamp: true },
        { firstEnd: [1001, 0] },
        '12345.678901 1234  curl       10.0.0.5        45678 93.184.216.34   443       2  1024 123.46',
      ],
      [
        '-Tt',
        later,
        { ...plain, time: true, timestamp: true },
        ctx,
        '06:15:52 1.500001  1234  curl       10.0.0.5        45678 93.184.216.34   443       2  1024 123.46',
      ],
      [
        '-wTt',
        later,
        { ...wide, time: true, timestamp: true },
        ctx,
        '06:15:52 1.500001  1234  curl             4  10.0.0.5                   45678 93.184.216.34              443        2   1024 123.46',
      ],
      ['-stT', later, { ...csv, time: true, timestamp: true }, ctx, '06:15:52,1.500001,1234,curl,4,10.0.0.5,45678,93.184.216.34,443,2,1024,123.46'],
    ];
    for (const [name, s, opts, c, expected] of cases) {
      it(name, () => assert.equal(tableRow(s, opts, c), expected));
    }

    it('-T without a clock is a programming error', () => {
      assert.throws(() => tableRow(s1, { ...plain, time: true }, {}), /ctx\.clock/);
    });
  });

  describe('comm safety', () => {
    it('control characters cannot forge lines', () => {
      const s = session({ comm: 'evil\n1 fake\x1b[' });
      assert.equal(tableRow(s, csv, {}), '1234,evil?1 fake?[,4,10.0.0.5,45678,93.184.216.34,443,2,1024,123.46');
      assert.equal(tableRow(s, plain, {}).split('\n').length, 1);
    });
    it('a comma in comm keeps the CSV columns, and stays in the table', () => {
      const s = session({ comm: 'a,b' });
      assert.equal(tableRow(s, csv, {}), '1234,a?b,4,10.0.0.5,45678,93.184.216.34,443,2,1024,123.46');
      assert.equal(tableRow(s, plain, {}), '1234  a,b        10.0.0.5        45678 93.184.216.34   443       2  1024 123.46');
    });
    it('an unknown owner (host pid 0) prints "?" even with a comm', () => {
      assert.equal(tableRow(session({ pid: 0, hostPid: 0, comm: 'swapper/3' }), csv, {}).split(',')[1], '?');
    });
    it("an owner outside the agent's PID namespace prints pid 0 and its comm", () => {
      assert.deepEqual(
        tableRow(session({ pid: 0, hostPid: 9, comm: 'sshd' }), csv, {})
          .split(',')
          .slice(0, 2),
        ['0', 'sshd'],
      );
    });
  });

  describe('partial sessions', () => {
    const partial = session({ startTime: undefined, durationNs: undefined, handshakeNs: undefined });
    it('isPartial', () => {
      assert.equal(isPartial(partial), true);
      assert.equal(isPartial(s1), false);
    });
    it('tableRow refuses them', () => {
      assert.throws(() => tableRow(partial, plain, {}), /partial/);
    });
  });

  describe('localClock', () => {
    const cases: Array<[Date, string]> = [
      [new Date(2026, 10, 26, 6, 5, 9), '06:05:09'],
      [new Date(2026, 10, 26, 23, 59, 59, 999), '23:59:59'],
      [new Date(2026, 0, 1, 0, 0, 0), '00:00:00'],
    ];
    for (const [d, expected] of cases) {
      it(expected, () => assert.equal(localClock(d), expected));
    }
  });

  describe('pyFixed follows Python %.Nf', () => {
    // Python: "%.2f" % 1.125 == "1.12" (half to even on an exact tie), while
    // JavaScript's (1.125).toFixed(2) == "1.13".
    const cases: Array<[number, number, string]> = [
      [1.125, 2, '1.12'],
      [1.375, 2, '1.38'],
      [0.125, 2, '0.12'],
      [2.675, 2, '2.67'],
      [1.005, 2, '1.00'],
      [99.995, 2, '100.00'],
      [123.456789, 2, '123.46'],
      [1234567.891, 2, '1234567.89'],
      [1e-9, 2, '0.00'],
      [0, 6, '0.000000'],
      [-1e-7, 6, '-0.000000'],
      [0.5, 0, '0'],
      [1.5, 0, '2'],
      [2.5, 0, '2'],
      [1e20, 2, '100000000000000000000.00'],
    ];
    for (const [x, d, expected] of cases) {
      it(`${x} with ${d} digits`, () => assert.equal(pyFixed(x, d), expected));
    }
  });
});
