// Fuzz: random and hostile values for every setting, through flags, variables
// and files. Each must load or be refused with ConfigError messages: never
// another exception, never a stack trace, never an unbounded message; and
// what loads gives the kernel numbers only (addresses as normalized networks).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kernelFiltersFrom, type FilterIo } from '../../src/config/kernel-filters';
import { ConfigError, loadSettings } from '../../src/config/load';
import { settings } from '../../src/config/schema';
import { rng } from '../support/rng';

/** Values chosen to hurt: numbers at and past every limit, syntax fragments, encodings. */
const HOSTILE: unknown[] = [
  '',
  ' ',
  ',',
  ',,,',
  '-',
  '--',
  '-1',
  '0',
  '1',
  '65535',
  '65536',
  '4194304',
  '4194305',
  '2147483647',
  '2147483648',
  '9007199254740993',
  '99999999999999999999999999',
  '1e3',
  '0x10',
  '1.5',
  'NaN',
  'Infinity',
  '+1',
  ' 80 ',
  '80,abc',
  '80-',
  '-80',
  '80--90',
  '90-80',
  '1-65535',
  '0-65535',
  '10.0.0.0/33',
  '10.0.0.0/-1',
  '10.0.0.256/8',
  '::/129',
  ':::1',
  '1.2.3.4/32/1',
  '10.0.0.1/8',
  'fe80::1%eth0',
  '::ffff:10.0.0.1',
  '$(reboot)',
  '`id`',
  '; rm -rf /',
  '|| true',
  "'; DROP TABLE x;--",
  '%s%s%n',
  '%00',
  '\u0000',
  '\n',
  'a\nb',
  '\r\n',
  '\t',
  '\u202e',
  '\ud800',
  'ünïcødé',
  '名前',
  '🙂',
  '../../etc/passwd',
  '/..',
  '/a/../../b',
  '/proc/self/ns/net',
  '*',
  '[',
  '[]',
  '[a-',
  'a'.repeat(10_000),
  '1,'.repeat(5000),
  'true',
  'TRUE',
  'yes',
  'null',
  'undefined',
  '{}',
  '[]',
  '__proto__',
  'constructor',
  'http://',
  'https://[::1',
  'http://u:p@h:1',
  'k=v',
  '=v',
  'k=',
  'k=%zz',
  'all',
  'own',
  'ipv4',
  'json',
  'failed',
  // file-only shapes
  0,
  -1,
  1.5,
  2 ** 53,
  -(2 ** 53),
  Number.MAX_VALUE,
  true,
  false,
  null,
  [],
  [null],
  [[1]],
  [{}],
  { a: 1 },
  { a: { b: 1 } },
  ['80', 80, '8000-8001'],
  Array(5000).fill(1),
];

function randomText(r: () => number): string {
  const alphabet = '0123456789-,./:*?[]!abcxyzAFf% \t\n\\"\'$`;|&<>(){}=+e\u0000\u00e9\u4e2d\ud83d\ude00';
  const chars = [...alphabet];
  const n = Math.floor(r() * 24);
  let s = '';
  for (let i = 0; i < n; i++) s += chars[Math.floor(r() * chars.length)];
  return s;
}

const FAKE_IO: FilterIo = { inode: () => 4026531840, pid: 4242, cgroupRoot: () => '/sys/fs/cgroup' };

let dir: string;
before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'tlo-fuzz-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Loads; a refusal must be a clean ConfigError. Returns whether it loaded. */
function attempt(argv: string[], env: Record<string, string>, what: string): boolean {
  try {
    const l = loadSettings(argv, env);
    if (!l.help) checkKernelInput(l.settings.filters, what);
    return true;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `${what}: threw ${(err as Error)?.stack ?? err}`);
    assert.ok(err.problems.length > 0, what);
    for (const p of err.problems) {
      assert.ok(p.length < 700, `${what}: message of ${p.length} characters`);
      assert.doesNotMatch(p, /\n\s+at /, `${what}: stack trace in message`);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
      assert.doesNotMatch(p, /[\u0000-\u0009\u000b-\u001f]/, `${what}: raw control character in message`);
    }
    return false;
  }
}

/** What reaches the kernel: integers in range, family 0/4/6, normalized networks. */
function checkKernelInput(filters: Parameters<typeof kernelFiltersFrom>[0], what: string): void {
  let k: ReturnType<typeof kernelFiltersFrom>;
  try {
    k = kernelFiltersFrom(filters, FAKE_IO);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `${what}: kernelFiltersFrom threw ${err}`);
    return;
  }
  const ints = (xs: number[] | undefined, max: number) => (xs ?? []).forEach((x) => assert.ok(Number.isInteger(x) && x >= 1 && x <= max, `${what}: ${x}`));
  ints(k.pids, 4194304);
  ints(k.excludePids, 4194304);
  ints(k.localPorts, 65535);
  ints(k.remotePorts, 65535);
  ints(k.netns, 2 ** 32 - 1);
  ints(k.cgroupIds, Number.MAX_SAFE_INTEGER);
  assert.ok([0, 4, 6].includes(k.family), what);
  for (const c of [...(k.localCidrs ?? []), ...(k.remoteCidrs ?? [])]) {
    // RFC 5952 text: dotted IPv4, compressed IPv6, IPv4-mapped as ::ffff:a.b.c.d.
    assert.ok(typeof c === 'object', `${what}: the configuration hands the kernel parsed CIDRs`);
    assert.match(c.text, /^(\d+\.\d+\.\d+\.\d+|[0-9a-f:]+|::ffff:\d+\.\d+\.\d+\.\d+)\/\d{1,3}$/, `${what}: cidr ${c.text}`);
  }
}

describe('configuration fuzz', function () {
  this.timeout(60_000);
  const all = settings();

  it('hostile values through every flag', () => {
    let refused = 0;
    for (const [key, s] of all) {
      for (const v of HOSTILE.filter((x): x is string => typeof x === 'string')) {
        if (s.arg) refused += attempt([`--${s.arg}`, v], {}, `--${s.arg} ${JSON.stringify(v).slice(0, 40)}`) ? 0 : 1;
        if (s.arg) attempt([`--${s.arg}=${v}`], {}, `--${s.arg}=${JSON.stringify(v).slice(0, 40)}`);
        for (const sw of s.switches ?? []) attempt([`--${sw.flag}=${v}`], {}, `--${sw.flag}=... (${key})`);
      }
    }
    assert.ok(refused > 500, `only ${refused} refusals: the fuzz is not reaching the parsers`);
  });

  /** A seeded sample of the hostile values (each load costs about a millisecond). */
  const sample = (r: () => number, n: number) => Array.from({ length: n }, () => HOSTILE[Math.floor(r() * HOSTILE.length)]);

  it('hostile values through every environment variable', () => {
    const r = rng(11);
    for (const [, s] of all) {
      if (!s.env || s.env === 'TCPLIFE_CONFIG') continue;
      for (const v of sample(r, 40).filter((x): x is string => typeof x === 'string'))
        attempt([], { [s.env]: v }, `${s.env}=${JSON.stringify(v).slice(0, 40)}`);
    }
  });

  it('hostile values and shapes through every key of a file, JSON and YAML', () => {
    let n = 0;
    const r = rng(12);
    for (const [key] of all) {
      if (key === 'config') continue;
      for (const v of sample(r, 40)) {
        if (typeof v === 'string' && v.includes('\ud800')) continue; // not representable in a UTF-8 file
        const obj: Record<string, unknown> = {};
        let o = obj;
        const parts = key.split('.');
        for (const p of parts.slice(0, -1)) o = (o[p] = {}) as Record<string, unknown>;
        o[parts[parts.length - 1]] = v;
        const file = path.join(dir, `f${n++ % 2 ? '.json' : '.yaml'}`);
        writeFileSync(file, JSON.stringify(obj)); // JSON is YAML too
        attempt(['--config', file], {}, `${key}: ${JSON.stringify(v)?.slice(0, 40)} in ${path.extname(file)}`);
      }
    }
  });

  it('random text: 4,000 seeded draws over random settings and sources', () => {
    const r = rng(0x7c9f);
    for (let i = 0; i < 4000; i++) {
      const [key, s] = all[Math.floor(r() * all.length)];
      const v = randomText(r);
      const how = r();
      if (how < 0.4 && s.arg) attempt([`--${s.arg}`, v], {}, `#${i} --${s.arg} ${JSON.stringify(v)}`);
      else if (how < 0.8 && s.env && s.env !== 'TCPLIFE_CONFIG') attempt([], { [s.env]: v }, `#${i} ${s.env}=${JSON.stringify(v)}`);
      else {
        const file = path.join(dir, 'r.yaml');
        writeFileSync(
          file,
          `${key
            .split('.')
            .map((p, d) => `${'  '.repeat(d)}${p}:`)
            .join('\n')} ${JSON.stringify(v)}\n`,
        );
        attempt(['--config', file], {}, `#${i} ${key}: ${JSON.stringify(v)} in a file`);
      }
    }
  });

  it('random garbage as whole files and whole command lines', () => {
    const r = rng(0xbeef);
    for (let i = 0; i < 400; i++) {
      const file = path.join(dir, i % 2 ? 'g.yaml' : 'g.json');
      writeFileSync(file, randomText(r) + randomText(r));
      attempt(['--config', file], {}, `#${i} garbage file`);
      attempt(
        Array.from({ length: 1 + Math.floor(r() * 4) }, () => randomText(r)),
        {},
        `#${i} garbage argv`,
      );
    }
  });
});
