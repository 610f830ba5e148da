// resolveOtlpTraceConfig: the OTEL_* environment variables of an OTLP/gRPC trace exporter.
import { strict as assert } from 'node:assert';
import { resolveOtlpMetricsConfig, resolveOtlpTraceConfig, type Env } from '../../src/config/otel-env';
import type { OtlpTraceConfig } from '../../src/telemetry/export-config';

const DEFAULTS: OtlpTraceConfig = {
  endpoint: { host: 'localhost', port: 4317, secure: false },
  headers: [],
  compression: 'none',
  timeoutMs: 10000,
  batch: {
    maxQueueSize: undefined,
    maxQueueBytes: 64 * 2 ** 20,
    maxExportBatchSize: 512,
    maxConcurrentExports: 4,
    scheduleDelayMs: 5000,
    exportTimeoutMs: 30000,
  },
  exporters: [],
  disabled: false,
};

const G = 'OTEL_EXPORTER_OTLP_';
const T = 'OTEL_EXPORTER_OTLP_TRACES_';

function resolve(env: Env): { config: OtlpTraceConfig; errors: string[] } {
  return resolveOtlpTraceConfig(env);
}

/** Resolves env, expects no errors, and returns the config. */
function ok(env: Env): OtlpTraceConfig {
  const { config, errors } = resolve(env);
  assert.deepEqual(errors, [], `unexpected errors for ${JSON.stringify(env)}`);
  return config;
}

describe('OTLP trace exporter configuration from the environment', () => {
  it('has the spec defaults for an empty environment', () => {
    assert.deepEqual(resolve({}), { config: DEFAULTS, errors: [] });
  });

  it('treats empty and whitespace-only values as unset', () => {
    const env: Env = { OTEL_TRACES_EXPORTER: '', OTEL_SDK_DISABLED: ' ', OTEL_BSP_MAX_QUEUE_SIZE: '' };
    for (const s of ['ENDPOINT', 'HEADERS', 'COMPRESSION', 'TIMEOUT', 'INSECURE', 'CERTIFICATE', 'CLIENT_KEY', 'CLIENT_CERTIFICATE']) {
      env[G + s] = '';
      env[T + s] = '  ';
    }
    assert.deepEqual(resolve(env), { config: DEFAULTS, errors: [] });
  });

  describe('traces-specific variables win over generic ones', () => {
    const cases: Array<[string, string, string, (c: OtlpTraceConfig) => unknown, unknown, unknown]> = [
      // suffix, generic value, traces value, pick, result from generic alone, result with both
      ['ENDPOINT', 'http://gen:1', 'http://tr:2', (c) => c.endpoint, { host: 'gen', port: 1, secure: false }, { host: 'tr', port: 2, secure: false }],
      ['HEADERS', 'a=1', 'b=2', (c) => c.headers, [['a', '1']], [['b', '2']]],
      ['COMPRESSION', 'none', 'gzip', (c) => c.compression, 'none', 'gzip'],
      ['COMPRESSION', 'gzip', 'none', (c) => c.compression, 'gzip', 'none'],
      ['TIMEOUT', '111', '222', (c) => c.timeoutMs, 111, 222],
      ['CERTIFICATE', '/g/ca.pem', '/t/ca.pem', (c) => c.certificateFile, '/g/ca.pem', '/t/ca.pem'],
      ['CLIENT_KEY', '/g/key.pem', '/t/key.pem', (c) => c.clientKeyFile, '/g/key.pem', '/t/key.pem'],
      ['CLIENT_CERTIFICATE', '/g/crt.pem', '/t/crt.pem', (c) => c.clientCertificateFile, '/g/crt.pem', '/t/crt.pem'],
    ];
    for (const [suffix, generic, traces, pick, fromGeneric, fromBoth] of cases) {
      it(`${suffix}: ${generic} / ${traces}`, () => {
        assert.deepEqual(pick(ok({ [G + suffix]: generic })), fromGeneric);
        assert.deepEqual(pick(ok({ [T + suffix]: traces })), fromBoth);
        assert.deepEqual(pick(ok({ [G + suffix]: generic, [T + suffix]: traces })), fromBoth);
        // An empty traces variable falls through to the generic one.
        assert.deepEqual(pick(ok({ [G + suffix]: generic, [T + suffix]: '' })), fromGeneric);
      });
    }

    it('INSECURE', () => {
      const bare = { [G + 'ENDPOINT']: 'collector:4317' };
      assert.equal(ok({ ...bare }).endpoint.secure, true);
      assert.equal(ok({ ...bare, [G + 'INSECURE']: 'true' }).endpoint.secure, false);
      assert.equal(ok({ ...bare, [G + 'INSECURE']: 'true', [T + 'INSECURE']: 'false' }).endpoint.secure, true);
      assert.equal(ok({ ...bare, [G + 'INSECURE']: 'false', [T + 'INSECURE']: 'TRUE' }).endpoint.secure, false);
    });

    it('names the variable actually used in errors', () => {
      const { errors } = resolve({ [G + 'COMPRESSION']: 'zstd', [T + 'COMPRESSION']: 'brotli' });
      assert.deepEqual(errors, [`${T}COMPRESSION: "brotli" is not allowed: expected gzip or none`]);
    });

    it('an invalid traces value keeps the default, not the generic value', () => {
      const { config, errors } = resolve({ [G + 'TIMEOUT']: '500', [T + 'TIMEOUT']: 'abc' });
      assert.equal(config.timeoutMs, 10000);
      assert.equal(errors.length, 1);
    });
  });

  describe('endpoint', () => {
    const good: Array<[Env, OtlpTraceConfig['endpoint']]> = [
      [{ [G + 'ENDPOINT']: 'http://h:4317' }, { host: 'h', port: 4317, secure: false }],
      [{ [G + 'ENDPOINT']: 'https://h' }, { host: 'h', port: 443, secure: true }],
      [{ [G + 'ENDPOINT']: 'http://h' }, { host: 'h', port: 80, secure: false }],
      [{ [G + 'ENDPOINT']: 'HTTPS://collector.example.com:4317/' }, { host: 'collector.example.com', port: 4317, secure: true }],
      [{ [G + 'ENDPOINT']: 'https://h:4317/v1/traces?x=1#f' }, { host: 'h', port: 4317, secure: true }], // path ignored
      [{ [G + 'ENDPOINT']: 'http://[::1]:4317' }, { host: '[::1]', port: 4317, secure: false }],
      [{ [G + 'ENDPOINT']: 'http://10.0.0.1:65535' }, { host: '10.0.0.1', port: 65535, secure: false }],
      [{ [G + 'ENDPOINT']: 'h:1234' }, { host: 'h', port: 1234, secure: true }],
      [
        { [G + 'ENDPOINT']: 'h:1234', [G + 'INSECURE']: 'true' },
        { host: 'h', port: 1234, secure: false },
      ],
      [{ [G + 'ENDPOINT']: '[fe80::1%eth0]:1' }, { host: '[fe80::1%eth0]', port: 1, secure: true }],
      // The scheme wins over INSECURE, both ways.
      [
        { [G + 'ENDPOINT']: 'https://h:1', [G + 'INSECURE']: 'true' },
        { host: 'h', port: 1, secure: true },
      ],
      [
        { [G + 'ENDPOINT']: 'http://h:1', [G + 'INSECURE']: 'false' },
        { host: 'h', port: 1, secure: false },
      ],
      [{ [G + 'ENDPOINT']: '  http://h:1  ' }, { host: 'h', port: 1, secure: false }],
    ];
    for (const [env, endpoint] of good) {
      it(`accepts ${JSON.stringify(env)}`, () => assert.deepEqual(ok(env).endpoint, endpoint));
    }

    const bad: Array<[string, string]> = [
      ['::::', '"::::"'],
      ['http://h:0', '"http://h:0"'],
      ['http://h:70000', '"http://h:70000"'],
      ['h:0', '"h:0"'],
      ['h:70000', '"h:70000"'],
      ['h', '"h"'], // a bare host needs its port
      ['http://', '"http://"'],
      ['http://h:', '"http://h:"'],
      ['http://h:12ab', '"http://h:12ab"'],
      ['grpc://h:4317', '"grpc://h:4317"'],
      ['unix:///run/otel.sock', '"unix:///run/otel.sock"'],
      ['h:4317/path', '"h:4317/path"'],
      ['http://ho st:1', '"http://ho st:1"'],
      ['http://user:secret@h:1', '"http://***@h:1"'], // user info is refused and not echoed
    ];
    for (const [value, quoted] of bad) {
      it(`rejects ${JSON.stringify(value)} and keeps the default`, () => {
        const { config, errors } = resolve({ [T + 'ENDPOINT']: value });
        assert.deepEqual(config.endpoint, DEFAULTS.endpoint);
        assert.equal(errors.length, 1);
        assert.ok(errors[0].startsWith(`${T}ENDPOINT: ${quoted} is not allowed: expected `), errors[0]);
        assert.ok(!errors[0].includes('secret'));
      });
    }
  });

  describe('headers', () => {
    const good: Array<[string, Array<[string, string]>]> = [
      ['api-key=abc', [['api-key', 'abc']]],
      ['Authorization=Bearer%20tok%3D%3D', [['authorization', 'Bearer tok==']]],
      [
        ' a = 1 , B=2 ',
        [
          ['a', '1'],
          ['b', '2'],
        ],
      ],
      ['k=v=w', [['k', 'v=w']]], // split at the first '='
      ['k=', [['k', '']]],
      ['x=%E2%9C%93', [['x', '\u2713']]],
      [
        'a=1,,b=2,',
        [
          ['a', '1'],
          ['b', '2'],
        ],
      ], // empty entries are skipped
      [
        'a=1,a=2',
        [
          ['a', '1'],
          ['a', '2'],
        ],
      ], // duplicates are kept
      ['my_key.v2=x', [['my_key.v2', 'x']]],
    ];
    for (const [value, headers] of good) {
      it(`parses ${JSON.stringify(value)}`, () => assert.deepEqual(ok({ [G + 'HEADERS']: value }).headers, headers));
    }

    const bad: Array<[string, Array<[string, string]>, RegExp]> = [
      [
        'a=1,novalue,b=2',
        [
          ['a', '1'],
          ['b', '2'],
        ],
        /^OTEL_EXPORTER_OTLP_HEADERS: entry 2 \(7 characters, not shown\) is not allowed: expected key=value$/,
      ],
      ['=v', [], /entry 1: key "" is not allowed: expected a non-empty key/],
      ['bad key=v,ok=1', [['ok', '1']], /entry 1: key "bad key" is not allowed/],
      ['k\u00e9y=v', [], /key "k\u00e9y" is not allowed/],
      ['tok=abc%ZZsecret', [], /entry 1: the value of "tok" \(not shown\) is not allowed: expected valid percent-encoding$/],
      ['tok=%E2%9Csecret', [], /valid percent-encoding/],
      ['tok=a%0D%0Ax-injected:secret', [], /the value of "tok" \(not shown\) is not allowed: expected no control characters/],
    ];
    for (const [value, headers, message] of bad) {
      it(`reports bad entries of ${JSON.stringify(value)} and keeps the good ones`, () => {
        const { config, errors } = resolve({ [G + 'HEADERS']: value });
        assert.deepEqual(config.headers, headers);
        assert.equal(errors.length, 1);
        assert.match(errors[0], message);
        assert.ok(!errors[0].includes('secret'), 'a header value leaked into an error');
      });
    }
  });

  describe('compression', () => {
    const cases: Array<[string, OtlpTraceConfig['compression'], boolean]> = [
      ['gzip', 'gzip', true],
      ['none', 'none', true],
      ['GZIP', 'gzip', true],
      ['brotli', 'none', false],
      ['deflate', 'none', false],
    ];
    for (const [value, compression, valid] of cases) {
      it(JSON.stringify(value), () => {
        const { config, errors } = resolve({ [G + 'COMPRESSION']: value });
        assert.equal(config.compression, compression);
        assert.deepEqual(errors, valid ? [] : [`${G}COMPRESSION: "${value}" is not allowed: expected gzip or none`]);
      });
    }
  });

  describe('timeout', () => {
    const cases: Array<[string, number, boolean]> = [
      ['1', 1, true],
      ['2500', 2500, true],
      [' 300 ', 300, true],
      ['2147483647', 2147483647, true],
      ['abc', 10000, false],
      ['-1', 10000, false],
      ['0', 10000, false],
      ['1.5', 10000, false],
      ['1e3', 10000, false],
      ['10s', 10000, false],
      ['2147483648', 10000, false],
    ];
    for (const [value, timeoutMs, valid] of cases) {
      it(JSON.stringify(value), () => {
        const { config, errors } = resolve({ [T + 'TIMEOUT']: value });
        assert.equal(config.timeoutMs, timeoutMs);
        assert.deepEqual(errors, valid ? [] : [`${T}TIMEOUT: ${JSON.stringify(value.trim())} is not allowed: expected an integer from 1 to 2147483647`]);
      });
    }
  });

  describe('batch span processor', () => {
    const D = DEFAULTS.batch;
    const cases: Array<[Env, OtlpTraceConfig['batch'], RegExp[]]> = [
      [{ OTEL_BSP_MAX_QUEUE_SIZE: '4096' }, { ...D, maxQueueSize: 4096 }, []],
      [{ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '100' }, { ...D, maxExportBatchSize: 100 }, []],
      [{ OTEL_BSP_SCHEDULE_DELAY: '250' }, { ...D, scheduleDelayMs: 250 }, []],
      [{ OTEL_BSP_SCHEDULE_DELAY: '0' }, { ...D, scheduleDelayMs: 0 }, []],
      [{ OTEL_BSP_EXPORT_TIMEOUT: '1000' }, { ...D, exportTimeoutMs: 1000 }, []],
      [{ OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '100' }, { ...D, maxQueueSize: 100, maxExportBatchSize: 100 }, []],
      // The default batch size is clamped to a smaller queue without complaint.
      [{ OTEL_BSP_MAX_QUEUE_SIZE: '100' }, { ...D, maxQueueSize: 100, maxExportBatchSize: 100 }, []],
      [
        { OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '101' },
        { ...D, maxQueueSize: 100, maxExportBatchSize: 100 },
        [/^OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "101" is not allowed: expected an integer at most OTEL_BSP_MAX_QUEUE_SIZE \(100\)$/],
      ],
      // No count bound by default (memory only): any batch size fits.
      [{ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096' }, { ...D, maxExportBatchSize: 4096 }, []],
      [
        { OTEL_BSP_MAX_QUEUE_SIZE: '2048', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096' },
        { ...D, maxQueueSize: 2048, maxExportBatchSize: 2048 },
        [/^OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "4096" is not allowed: expected an integer at most OTEL_BSP_MAX_QUEUE_SIZE \(2048\)$/],
      ],
      [
        { OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '512' },
        { ...D, maxQueueSize: 100, maxExportBatchSize: 100 },
        [/"512" is not allowed: expected an integer at most OTEL_BSP_MAX_QUEUE_SIZE \(100\)/],
      ],
      [
        { OTEL_BSP_MAX_QUEUE_SIZE: '100', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 'x' },
        { ...D, maxQueueSize: 100, maxExportBatchSize: 100 },
        [/^OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "x" is not allowed: expected an integer from 1/],
      ],
      [{ OTEL_BSP_MAX_QUEUE_SIZE: '0' }, D, [/^OTEL_BSP_MAX_QUEUE_SIZE: "0" is not allowed: expected an integer from 1 to 2147483647$/]],
      [{ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '-5' }, D, [/^OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "-5" is not allowed/]],
      [{ OTEL_BSP_SCHEDULE_DELAY: '1.5' }, D, [/^OTEL_BSP_SCHEDULE_DELAY: "1.5" is not allowed: expected an integer from 0 to 2147483647$/]],
      [{ OTEL_BSP_EXPORT_TIMEOUT: '0' }, D, [/^OTEL_BSP_EXPORT_TIMEOUT: "0" is not allowed: expected an integer from 1/]],
      [{ OTEL_BSP_MAX_QUEUE_SIZE: 'big', OTEL_BSP_EXPORT_TIMEOUT: 'soon' }, D, [/^OTEL_BSP_MAX_QUEUE_SIZE: "big"/, /^OTEL_BSP_EXPORT_TIMEOUT: "soon"/]],
    ];
    for (const [env, batch, messages] of cases) {
      it(JSON.stringify(env), () => {
        const { config, errors } = resolve(env);
        assert.deepEqual(config.batch, batch);
        assert.equal(errors.length, messages.length, errors.join('\n'));
        messages.forEach((m, i) => assert.match(errors[i], m));
      });
    }
  });

  describe('exporters', () => {
    const cases: Array<[string, OtlpTraceConfig['exporters'], RegExp[]]> = [
      ['otlp', ['otlp'], []],
      ['console', ['console'], []],
      ['otlp,console', ['otlp', 'console'], []],
      [' console , OTLP ', ['console', 'otlp'], []],
      ['otlp,otlp', ['otlp'], []],
      ['otlp,', ['otlp'], []],
      ['none', [], []],
      ['NONE', [], []],
      ['zipkin', [], [/^OTEL_TRACES_EXPORTER: "zipkin" is not allowed: expected a comma-separated list of otlp, console, or none$/]],
      ['otlp,zipkin,jaeger', ['otlp'], [/"zipkin" is not allowed/, /"jaeger" is not allowed/]],
      ['none,otlp', ['otlp'], [/^OTEL_TRACES_EXPORTER: "none,otlp" is not allowed: expected "none" alone/]],
    ];
    for (const [value, exporters, messages] of cases) {
      it(JSON.stringify(value), () => {
        const { config, errors } = resolve({ OTEL_TRACES_EXPORTER: value });
        assert.deepEqual(config.exporters, exporters);
        assert.equal(errors.length, messages.length, errors.join('\n'));
        messages.forEach((m, i) => assert.match(errors[i], m));
      });
    }
  });

  describe('OTEL_SDK_DISABLED', () => {
    const cases: Array<[string | undefined, boolean, boolean]> = [
      [undefined, false, true],
      ['', false, true],
      ['true', true, true],
      ['TRUE', true, true],
      ['True', true, true],
      [' true ', true, true],
      ['false', false, true],
      ['FALSE', false, true],
      ['1', false, false],
      ['yes', false, false],
    ];
    for (const [value, disabled, valid] of cases) {
      it(String(JSON.stringify(value)), () => {
        const { config, errors } = resolve({ OTEL_SDK_DISABLED: value });
        assert.equal(config.disabled, disabled);
        assert.deepEqual(errors, valid ? [] : [`OTEL_SDK_DISABLED: "${value}" is not allowed: expected true or false`]);
      });
    }
  });

  it('quotes bad values truncated to 80 characters', () => {
    const long = 'x'.repeat(200);
    const { errors } = resolve({ [G + 'COMPRESSION']: long });
    assert.deepEqual(errors, [`${G}COMPRESSION: "${'x'.repeat(80)}..." is not allowed: expected gzip or none`]);
  });

  it('escapes quotes and control characters in quoted values', () => {
    const { errors } = resolve({ [G + 'COMPRESSION']: 'a"b\u0007c' });
    assert.deepEqual(errors, [`${G}COMPRESSION: "a\\"b\\u0007c" is not allowed: expected gzip or none`]);
  });

  it('reports every bad variable at once and never throws', () => {
    const { config, errors } = resolve({
      [G + 'ENDPOINT']: '::::',
      [G + 'COMPRESSION']: 'lz4',
      [G + 'TIMEOUT']: '-1',
      [G + 'INSECURE']: 'maybe',
      OTEL_TRACES_EXPORTER: 'zipkin',
      OTEL_SDK_DISABLED: 'on',
    });
    assert.deepEqual(config, DEFAULTS);
    assert.equal(errors.length, 6);
  });

  it('does not modify its input', () => {
    const env: Env = { [G + 'HEADERS']: 'A=1', OTEL_BSP_MAX_QUEUE_SIZE: '10' };
    const copy = { ...env };
    resolve(env);
    assert.deepEqual(env, copy);
  });
});

describe('OTLP metrics exporter configuration from the environment', () => {
  const M = 'OTEL_EXPORTER_OTLP_METRICS_';
  const metrics = (env: Env) => resolveOtlpMetricsConfig(env);

  it('is off by default and follows span export over OTLP when OTEL_METRICS_EXPORTER is unset', () => {
    assert.equal(metrics({}).config.enabled, false);
    assert.equal(metrics({ OTEL_TRACES_EXPORTER: 'console' }).config.enabled, false);
    assert.equal(metrics({ OTEL_TRACES_EXPORTER: 'otlp' }).config.enabled, true);
    assert.equal(metrics({ OTEL_TRACES_EXPORTER: 'console,otlp' }).config.enabled, true);
  });

  it('OTEL_METRICS_EXPORTER decides when set; OTEL_SDK_DISABLED wins over both', () => {
    assert.equal(metrics({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'none' }).config.enabled, false);
    assert.equal(metrics({ OTEL_METRICS_EXPORTER: 'OTLP' }).config.enabled, true);
    assert.equal(metrics({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }).config.enabled, false);
  });

  it('rejects exporters it does not have, naming what is allowed', () => {
    const { config, errors } = metrics({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_METRICS_EXPORTER: 'prometheus' });
    assert.deepEqual(errors, ['OTEL_METRICS_EXPORTER: "prometheus" is not allowed: expected otlp or none']);
    assert.equal(config.enabled, true, 'the default stands');
  });

  it('has the spec defaults: interval 60 s, timeout 30 s, the default endpoint', () => {
    const { config, errors } = metrics({});
    assert.deepEqual(errors, []);
    assert.equal(config.intervalMs, 60000);
    assert.equal(config.exportTimeoutMs, 30000);
    assert.deepEqual(config.endpoint, { host: 'localhost', port: 4317, secure: false });
  });

  it('clamps the export timeout to the interval', () => {
    const { config } = metrics({ OTEL_METRIC_EXPORT_INTERVAL: '1000' });
    assert.equal(config.exportTimeoutMs, 1000);
  });

  it('reports bad intervals and timeouts', () => {
    const { errors } = metrics({ OTEL_METRIC_EXPORT_INTERVAL: '0', OTEL_METRIC_EXPORT_TIMEOUT: '1s' });
    assert.deepEqual(errors, [
      'OTEL_METRIC_EXPORT_INTERVAL: "0" is not allowed: expected an integer from 1 to 2147483647',
      'OTEL_METRIC_EXPORT_TIMEOUT: "1s" is not allowed: expected an integer from 1 to 2147483647',
    ]);
  });

  it('metrics-specific variables win over generic ones; traces-specific ones do not apply', () => {
    const { config, errors } = metrics({
      [G + 'ENDPOINT']: 'http://gen:1',
      [T + 'ENDPOINT']: 'http://traces:2',
      [M + 'ENDPOINT']: 'https://metrics:3',
      [G + 'HEADERS']: 'a=1',
      [T + 'HEADERS']: 'b=2',
      [M + 'COMPRESSION']: 'gzip',
      [M + 'CERTIFICATE']: '/m/ca.pem',
      [T + 'TIMEOUT']: '5',
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(config.endpoint, { host: 'metrics', port: 3, secure: true });
    assert.deepEqual(config.headers, [['a', '1']]);
    assert.equal(config.compression, 'gzip');
    assert.equal(config.certificateFile, '/m/ca.pem');
    assert.equal(config.timeoutMs, 10000);
  });

  it('names the metrics variable in its errors', () => {
    const { errors } = metrics({ [M + 'ENDPOINT']: 'ftp://x:1' });
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: "ftp:\/\/x:1" is not allowed/);
  });
});
