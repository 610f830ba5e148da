import { strict as assert } from 'node:assert';
import { backoffCeiling, backoffDelay, backoffOf, DEFAULT_BACKOFF } from '../../src/telemetry/retry';

describe('retry backoff', () => {
  it('defaults to base 100 ms, cap 5 s', () => {
    assert.deepEqual(backoffOf({}), { baseMs: 100, maxMs: 5000 });
    assert.deepEqual(DEFAULT_BACKOFF, { baseMs: 100, maxMs: 5000 });
  });

  it('keeps the base at least 1 ms and the cap at least the base', () => {
    assert.deepEqual(backoffOf({ retryBaseMs: 0, retryMaxMs: 0 }), { baseMs: 1, maxMs: 1 });
    assert.deepEqual(backoffOf({ retryBaseMs: -5 }), { baseMs: 1, maxMs: 5000 });
    assert.deepEqual(backoffOf({ retryBaseMs: 800, retryMaxMs: 300 }), { baseMs: 800, maxMs: 800 });
    assert.deepEqual(backoffOf({ retryBaseMs: 5, retryMaxMs: 50 }), { baseMs: 5, maxMs: 50 });
  });

  it('doubles the ceiling with each attempt up to the cap', () => {
    const ceilings = Array.from({ length: 9 }, (_, attempt) => backoffCeiling(DEFAULT_BACKOFF, attempt));
    assert.deepEqual(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('stays at the cap for any attempt count, however large (no overflow to Infinity or NaN)', () => {
    const b = { baseMs: 1, maxMs: 2 ** 40 };
    assert.equal(backoffCeiling(b, 30), 2 ** 30);
    assert.equal(backoffCeiling(b, 31), 2 ** 30, 'the exponent stops at 30');
    assert.equal(backoffCeiling(DEFAULT_BACKOFF, 1e6), 5000);
    assert.equal(
      backoffDelay(DEFAULT_BACKOFF, Number.MAX_SAFE_INTEGER, () => 0.5),
      2500,
    );
  });

  it('full jitter: a whole number of ms in [0, ceiling), as random as the random source', () => {
    assert.equal(
      backoffDelay(DEFAULT_BACKOFF, 0, () => 0),
      0,
    );
    assert.equal(
      backoffDelay(DEFAULT_BACKOFF, 0, () => 0.999999),
      99,
    );
    assert.equal(
      backoffDelay(DEFAULT_BACKOFF, 2, () => 0.25),
      100,
    );
    assert.equal(
      backoffDelay(DEFAULT_BACKOFF, 3, () => 0.1234),
      98,
    ); // floor(0.1234 * 800)
    for (let attempt = 0; attempt < 12; attempt++) {
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(DEFAULT_BACKOFF, attempt);
        assert.ok(Number.isInteger(d) && d >= 0 && d < backoffCeiling(DEFAULT_BACKOFF, attempt), `attempt ${attempt}: ${d}`);
      }
    }
  });
});
