// The configuration: one schema, four sources in precedence order, strict validation.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { ConfigError, loadSettings, type Loaded } from '../../src/config/load';
import { printConfig } from '../../src/config/print';
import { SCHEMA, settings } from '../../src/config/schema';

let dir: string;
before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'tlo-config-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | object): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : name.endsWith('.json') ? JSON.stringify(content) : YAML.stringify(content));
  return p;
}

function load(argv: string[], env: Record<string, string> = {}): Loaded {
  return loadSettings(argv, env);
}

/** The problems a bad configuration gives (fails if it loads). */
function problems(argv: string[], env: Record<string, string> = {}): string[] {
  try {
    loadSettings(argv, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `not a ConfigError: ${err}`);
    return err.problems;
  }
  assert.fail(`loaded: ${argv.join(' ')} ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('defaults: every setting from the schema, origin default', () => {
    const l = load([]);
    assert.equal(l.settings.attach, 'auto');
    assert.equal(l.settings.output.format, 'table');
    assert.deepEqual(l.settings.filters.local_ports, []);
    assert.equal(l.settings.filters.exclude_self, true);
    assert.equal(l.settings.filters.netns, 'all');
    assert.equal(l.settings.shutdown_timeout_ms, 5000);
    assert.equal(l.settings.stats_interval_s, 60);
    for (const [key] of settings()) assert.deepEqual(l.origins.get(key), { kind: 'default' }, key);
    assert.deepEqual(l.otelEnv, {}, 'defaults are left to the OTLP resolvers');
  });

  describe('precedence: flags, then environment, then file, then defaults', () => {
    it('for a filter', () => {
      const cfg = file('p.yaml', { filters: { local_ports: [80] } });
      assert.deepEqual(load(['--config', cfg]).settings.filters.local_ports, [80]);
      assert.deepEqual(load(['--config', cfg], { TCPLIFE_LOCAL_PORTS: '81' }).settings.filters.local_ports, [81]);
      const l = load(['--config', cfg, '-L', '82'], { TCPLIFE_LOCAL_PORTS: '81' });
      assert.deepEqual(l.settings.filters.local_ports, [82]);
      assert.deepEqual(l.origins.get('filters.local_ports'), { kind: 'flag', flag: '-L' });
    });

    it('for an OTEL_* setting', () => {
      const cfg = file('o.yaml', { otel: { exporter_otlp: { endpoint: 'http://file:1' } } });
      assert.equal(load(['--config', cfg]).otelEnv.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://file:1');
      const l = load(['--config', cfg], { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:2' });
      assert.equal(l.otelEnv.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://env:2');
      assert.equal(
        load(['--config', cfg, '--otlp-endpoint', 'http://flag:3'], { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:2' }).otelEnv.OTEL_EXPORTER_OTLP_ENDPOINT,
        'http://flag:3',
      );
    });

    it('an empty variable is unset: the file value stands', () => {
      const cfg = file('e.yaml', { filters: { pids: [7] } });
      assert.deepEqual(load(['--config', cfg], { TCPLIFE_PIDS: '  ' }).settings.filters.pids, [7]);
    });

    it('the file may come from TCPLIFE_CONFIG; the flag wins over it', () => {
      const a = file('a.json', { attach: 'tp_btf' });
      const b = file('b.json', { attach: 'tracepoint' });
      assert.equal(load([], { TCPLIFE_CONFIG: a }).settings.attach, 'tp_btf');
      assert.equal(load(['--config', b], { TCPLIFE_CONFIG: a }).settings.attach, 'tracepoint');
    });
  });

  describe('files', () => {
    it('JSON and YAML give the same settings', () => {
      const content = { filters: { remote_cidrs: ['10.0.0.0/8'], outcomes: ['failed'], comms: ['nginx*'] }, output: { format: 'json' } };
      const j = load(['--config', file('same.json', content)]).settings;
      const y = load(['--config', file('same.yml', content)]).settings;
      assert.deepEqual(j, { ...y, config: j.config });
      assert.deepEqual(
        j.filters.remote_cidrs.map((c) => c.text),
        ['10.0.0.0/8'],
      );
      assert.deepEqual(j.filters.outcomes, ['refused', 'timeout', 'connect_failed', 'handshake_aborted', 'reset_by_peer', 'reset_locally']);
    });

    it('lists may be arrays or comma-separated text, numbers or strings', () => {
      const l = load(['--config', file('lists.yaml', 'filters:\n  local_ports: [80, "443", 8000-8002]\n  remote_ports: "22,23"\n  pids: 1\n')]);
      assert.deepEqual(l.settings.filters.local_ports, [80, 443, 8000, 8001, 8002]);
      assert.deepEqual(l.settings.filters.remote_ports, [22, 23]);
      assert.deepEqual(l.settings.filters.pids, [1]);
    });

    it('headers and resource attributes may be maps', () => {
      const l = load([
        '--config',
        file('maps.yaml', { otel: { exporter_otlp: { headers: { authorization: 'Bearer a=b' } }, resource_attributes: { 'team.name': 'x y' } } }),
      ]);
      assert.equal(l.otelEnv.OTEL_EXPORTER_OTLP_HEADERS, 'authorization=Bearer%20a%3Db');
      assert.equal(l.otelEnv.OTEL_RESOURCE_ATTRIBUTES, 'team.name=x%20y');
    });

    const bad: Array<[string, string, RegExp]> = [
      ['unknown.yaml', 'filterz: {}\n', /^filterz in .*unknown\.yaml: unknown key: expected one of config, scope, attach, verbose, output, filters,/],
      [
        'nested.yaml',
        'filters:\n  prots: [80]\n',
        /^filters\.prots in .*nested\.yaml: unknown key in filters: expected one of pids, exclude_self, comms, local_ports,/,
      ],
      ['self.yaml', 'config: other.yaml\n', /^config in .*self\.yaml: a configuration file cannot name another one$/],
      ['list.yaml', '- a\n- b\n', /^the top level in .*list\.yaml: expected a mapping of keys to values, found a list$/],
      ['scalar.yaml', 'filters: 3\n', /^filters in .*scalar\.yaml: expected a mapping of keys to values, found "3"$/],
      ['broken.yaml', 'filters: [\n', /^configuration file .*broken\.yaml: not valid YAML: /],
      ['broken.json', '{"a":', /^configuration file .*broken\.json: not valid JSON: /],
      ['dup.yaml', 'attach: auto\nattach: tp_btf\n', /^configuration file .*dup\.yaml: not valid YAML: Map keys must be unique/],
      ['config.toml', 'a = 1\n', /^configuration file .*config\.toml: expected a name ending in \.json, \.yaml or \.yml$/],
      ['null.yaml', 'attach:\n', /^attach in .*null\.yaml: empty value: how to attach/],
      [
        'badvalue.yaml',
        'filters:\n  local_ports: [80, abc]\n',
        /^filters\.local_ports in .*badvalue\.yaml: "\[80,\\"abc\\"\]" is not allowed: item 2 \("abc"\): expected a port from 1 to 65535/,
      ],
    ];
    for (const [name, content, message] of bad) {
      it(`rejects ${name}`, () => {
        const p = problems(['--config', file(name, content)]);
        assert.ok(
          p.some((m) => message.test(m)),
          p.join('\n'),
        );
      });
    }

    it('a missing file names the file and the reason', () => {
      assert.deepEqual(problems(['--config', '/nonexistent/x.yaml']), ['configuration file /nonexistent/x.yaml: cannot be read: ENOENT']);
    });

    it('a YAML alias bomb is refused, not expanded', () => {
      const bomb =
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' +
        Array.from(
          { length: 8 },
          (_, i) =>
            `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
              .fill(`*${String.fromCharCode(97 + i)}`)
              .join(',')}]`,
        ).join('\n') +
        '\n';
      const p = problems(['--config', file('bomb.yaml', bomb)]);
      assert.equal(p.length, 1);
      assert.match(p[0], /bomb\.yaml: not valid YAML|unknown key/);
    });

    it('__proto__ and constructor keys pollute nothing', () => {
      const p = problems(['--config', file('proto.json', '{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}')]);
      assert.ok(
        p.every((m) => /unknown key/.test(m)),
        p.join('\n'),
      );
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });

  describe('flags', () => {
    it("keep bcc tcplife's spellings", () => {
      const l = load(['-p', '1,2', '-L', '80', '-D', '8000-8001', '-4', '-w', '-T', '-t']);
      assert.deepEqual(l.settings.filters.pids, [1, 2]);
      assert.deepEqual(l.settings.filters.local_ports, [80]);
      assert.deepEqual(l.settings.filters.remote_ports, [8000, 8001]);
      assert.equal(l.settings.filters.family, 'ipv4');
      assert.deepEqual([l.settings.output.wide, l.settings.output.time, l.settings.output.timestamp], [true, true, true]);
      assert.equal(load(['-s']).settings.output.format, 'csv');
      assert.equal(load(['-j']).settings.output.format, 'json');
      assert.equal(load(['-6']).settings.filters.family, 'ipv6');
    });

    it('list flags add up when repeated', () => {
      assert.deepEqual(load(['-p', '1', '-p', '2', '--pid=3']).settings.filters.pids, [1, 2, 3]);
      assert.deepEqual(
        load(['--remote-cidr', '10.0.0.0/8', '--remote-cidr', '::1']).settings.filters.remote_cidrs.map((c) => c.text),
        ['10.0.0.0/8', '::1/128'],
      );
    });

    it('a flag giving a setting two different values is an error naming both', () => {
      assert.deepEqual(problems(['-4', '-6']), [
        '-4 and -6 cannot be used together: they set filters.family to different values ("ipv4" and "ipv6"); give one',
      ]);
      assert.deepEqual(problems(['-j', '-s']), ['-j and -s cannot be used together: they set output.format to different values ("json" and "csv"); give one']);
      assert.deepEqual(problems(['--attach', 'tp_btf', '--attach', 'tracepoint']), [
        '--attach and --attach cannot be used together: they set attach to different values ("tp_btf" and "tracepoint"); give one',
      ]);
    });

    it('JSON lines exclude table-only flags, with the reason', () => {
      assert.deepEqual(problems(['-j', '-T']), [
        '-j (JSON lines) and -T cannot be used together: each JSON line already carries its start and end as RFC 3339 UTC timestamps',
      ]);
    });

    it('unknown options, missing values, values on switches and positionals are errors', () => {
      assert.deepEqual(problems(['--bogus']), ["unknown option '--bogus' (see --help)"]);
      assert.deepEqual(problems(['-p']), ['-p: missing value: only sessions owned by these process ids']);
      assert.deepEqual(problems(['--wide=yes']), ['--wide: takes no value (got "yes")']);
      assert.match(problems(['5'])[0], /^unexpected argument "5": tcplife-otel takes no positional arguments/);
    });

    it('--help wins over errors; --print-config is an action', () => {
      assert.equal(load(['--bogus', '-h']).help, true);
      assert.equal(load(['--print-config']).printConfig, true);
    });
  });

  describe('values', () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['-p', '0'], {}, '-p: "0" is not allowed: item 1 ("0"): expected a process id from 1 to 4194304'],
      [['-p', '4194305'], {}, '-p: "4194305" is not allowed: item 1 ("4194305"): expected a process id from 1 to 4194304'],
      [['-L', '80,abc'], {}, '-L: "80,abc" is not allowed: item 2 ("abc"): expected a port from 1 to 65535 or a range like 8000-8080'],
      [['-D', '-1'], {}, '-D: "-1" is not allowed: item 1 ("-1"): expected a port from 1 to 65535 or a range like 8000-8080'],
      [
        ['-L', '90-80'],
        {},
        '-L: "90-80" is not allowed: item 1 ("90-80"): expected a port from 1 to 65535 or a range like 8000-8080 (a range\'s low end must not exceed its high end)',
      ],
      [
        ['--local-cidr', '10.0.0.0/33'],
        {},
        '--local-cidr: "10.0.0.0/33" is not allowed: item 1 ("10.0.0.0/33"): expected a prefix length from 0 to 32 for an IPv4 network',
      ],
      [
        ['--remote-cidr', '10.1.2.3/8'],
        {},
        '--remote-cidr: "10.1.2.3/8" is not allowed: item 1 ("10.1.2.3/8"): expected no host bits after the prefix: did you mean 10.0.0.0/8?',
      ],
      [
        ['--remote-cidr', '2001:db8::1/32'],
        {},
        '--remote-cidr: "2001:db8::1/32" is not allowed: item 1 ("2001:db8::1/32"): expected no host bits after the prefix: did you mean 2001:db8::/32?',
      ],
      [
        ['--remote-cidr', 'fe80::1%eth0'],
        {},
        '--remote-cidr: "fe80::1%eth0" is not allowed: item 1 ("fe80::1%eth0"): expected IPv4 or IPv6 networks like 10.0.0.0/8 or 2001:db8::/32',
      ],
      [[], { TCPLIFE_FAMILY: 'ipv5' }, 'TCPLIFE_FAMILY: "ipv5" is not allowed: expected any, ipv4, ipv6'],
      [[], { TCPLIFE_ROLES: 'client,peer' }, 'TCPLIFE_ROLES: "client,peer" is not allowed: item 2 ("peer"): expected client, server'],
      [['--min-duration', '1.5'], {}, '--min-duration: "1.5" is not allowed: expected milliseconds from 0 to 2147483647'],
      [['--min-bytes', '1e9'], {}, '--min-bytes: "1e9" is not allowed: expected a byte count from 0 to 9007199254740991'],
      [
        ['--stats-interval', '99999999999999999999'],
        {},
        '--stats-interval: "99999999999999999999" is not allowed: expected seconds (0: only at exit) from 0 to 86400',
      ],
      [
        ['--cgroup', 'system.slice'],
        {},
        '--cgroup: "system.slice" is not allowed: item 1 ("system.slice"): expected cgroup v2 paths starting with \'/\' (relative to the cgroup2 mount, e.g. /system.slice/app.service)',
      ],
      [
        ['--cgroup', '/a/../b'],
        {},
        '--cgroup: "/a/../b" is not allowed: item 1 ("/a/../b"): expected cgroup v2 paths starting with \'/\' (relative to the cgroup2 mount, e.g. /system.slice/app.service)',
      ],
      [['--netns', 'mine'], {}, '--netns: "mine" is not allowed: item 1 ("mine"): expected a namespace inode from 1 to 4294967295 or an absolute path'],
      [[], { TCPLIFE_VERBOSE: 'yes' }, 'TCPLIFE_VERBOSE: "yes" is not allowed: expected true or false'],
      [
        ['--otlp-endpoint', 'ftp://x:1'],
        {},
        '--otlp-endpoint: "ftp://x:1" is not allowed: expected the scheme http or https (http://host[:port], https://host[:port] or host:port, with a port from 1 to 65535)',
      ],
      [[], { OTEL_BSP_MAX_QUEUE_SIZE: '-3' }, 'OTEL_BSP_MAX_QUEUE_SIZE: "-3" is not allowed: expected an integer from 1 to 2147483647'],
    ];
    for (const [argv, env, message] of cases) {
      it(`${[...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}`, () => {
        assert.deepEqual(problems(argv, env), [message]);
      });
    }

    it('every problem is reported at once', () => {
      assert.equal(problems(['-p', 'x', '-L', 'y'], { TCPLIFE_FAMILY: 'z' }).length, 3);
    });

    it('secrets are never echoed', () => {
      const secret = 'Bearer s3cr3t';
      const p = problems([], { OTEL_EXPORTER_OTLP_HEADERS: secret });
      assert.equal(p.length, 1);
      assert.ok(!p[0].includes('s3cr3t'), p[0]);
      const cfg = file('secret.yaml', { otel: { exporter_otlp: { headers: { authorization: { nested: 's3cr3t' } } } } });
      const q = problems(['--config', cfg]);
      assert.ok(
        q.every((m) => !m.includes('s3cr3t')),
        q.join('\n'),
      );
    });

    it("a long process name that could never match is refused, with the kernel's cut", () => {
      assert.deepEqual(problems(['--comm', 'averyverylongname']), [
        '--comm: "averyverylongname" is not allowed: item 1 ("averyverylongname"): expected a process name of 1 to 15 characters (the kernel\'s comm), exact or with the wildcards * ? [...]; the kernel keeps only the first 15 (averyverylongna)',
      ]);
    });
  });

  describe('--print-config', () => {
    it('shows where each value came from, redacts secrets, and is itself a configuration file that loads to the same settings', () => {
      const cfg = file('print.yaml', {
        filters: { local_ports: ['8000-8002'], outcomes: ['reset'] },
        otel: { exporter_otlp: { headers: 'authorization=Bearer s3cr3t' } },
      });
      const l = load(['--config', cfg, '-p', '42'], { OTEL_SERVICE_NAME: 'svc' });
      const text = printConfig(l);
      assert.ok(!text.includes('s3cr3t'));
      assert.match(text, /^ {2}pids: "42" {2}# flag -p$/m);
      assert.match(text, /^ {2}local_ports: \[8000-8002\] {2}# file .*print\.yaml$/m);
      assert.match(text, /^ {2}service_name: svc {2}# environment OTEL_SERVICE_NAME$/m);
      assert.match(text, /^ {4}# headers: \*\*\* {2}# file .*print\.yaml \(redacted\)$/m);
      assert.match(text, /^# config: /m);
      // Loaded back (secrets aside), it gives the same settings.
      const again = load(['--config', file('printed.yaml', text)]);
      assert.deepEqual(again.settings.filters, l.settings.filters);
      assert.equal(again.settings.otel.service_name, 'svc');
    });
  });

  it('config/default.yaml is every default, as --print-config prints them, and loads to the defaults', () => {
    const defaultFile = path.resolve(__dirname, '../../../config/default.yaml');
    const text = require('node:fs').readFileSync(defaultFile, 'utf8') as string;
    const printed = printConfig(load([]))
      .split('\n')
      .slice(1)
      .map((l) => l.replace(/ {2}# default$/, ''))
      .join('\n');
    assert.equal(
      text
        .split('\n')
        .filter((l) => !l.startsWith('# tcplife-otel') && !l.startsWith('# `') && !l.startsWith('# start'))
        .join('\n'),
      printed,
    );
    const fromFile = load(['--config', defaultFile]).settings;
    assert.deepEqual({ ...fromFile, config: '' }, load([]).settings);
  });

  it('config/example.yaml loads', () => {
    const l = load(['--config', path.resolve(__dirname, '../../../config/example.yaml')]);
    assert.equal(l.settings.output.format, 'json');
    assert.deepEqual(l.settings.filters.comms, ['nginx', 'php-fpm*']);
    assert.deepEqual(
      l.settings.services.map((r) => r.name),
      ['web', 'reports'],
    );
  });

  it('the schema declares doc, format and default for every setting, and env names are unique', () => {
    const envs = new Set<string>();
    for (const [key, s] of settings(SCHEMA)) {
      assert.ok(s.doc.length > 10, key);
      if (s.env) {
        assert.ok(!envs.has(s.env), `${s.env} used twice`);
        envs.add(s.env);
      }
    }
  });
});
