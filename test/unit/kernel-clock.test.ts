import { strict as assert } from 'node:assert';
import { diffNs, KernelClock, splitNs } from '../../src/kernel/kernel-clock';

/** Reference split with BigInt. */
function refSplit(ns: bigint): [number, number] {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

describe('splitNs (u64 ns as two u32 halves -> [s, ns], no BigInt)', () => {
  const cases: bigint[] = [
    0n,
    1n,
    999_999_999n,
    1_000_000_000n,
    4_294_967_295n, // lo all ones
    4_294_967_296n, // first hi bit
    2n ** 53n - 1n, // 104 days
    2n ** 53n + 12_345n,
    86_400n * 365n * 4n * 1_000_000_000n + 987_654_321n, // 4 years of uptime
  ];
  for (const ns of cases) {
    it(`splits ${ns} exactly`, () => {
      const hi = Number(ns >> 32n);
      const lo = Number(ns & 0xffffffffn);
      assert.deepEqual(splitNs(hi, lo), refSplit(ns));
    });
  }
  it('diffNs subtracts split times exactly', () => {
    assert.equal(diffNs([10, 999_999_999], [12, 1]), 1_000_000_002);
    assert.equal(diffNs([5, 5], [5, 5]), 0);
  });
});

describe('KernelClock', () => {
  it('adds the measured realtime - boottime offset, carrying nanoseconds', () => {
    const clock = new KernelClock(() => ({ bootNs: 1_500_000_000n, realtimeNs: 1_795_674_113_800_000_000n }));
    // offset = 1795674112.300000000 s
    assert.deepEqual(clock.toWall([2, 900_000_000]), [1_795_674_115, 200_000_000]);
    assert.deepEqual(clock.toWall([0, 0]), [1_795_674_112, 300_000_000]);
  });
  it('re-measures the offset on refresh (a clock step reaches later sessions)', () => {
    let realtime = 2_000_000_000_000_000_000n;
    const clock = new KernelClock(() => ({ bootNs: 0n, realtimeNs: realtime }));
    assert.deepEqual(clock.toWall([1, 0]), [2_000_000_001, 0]);
    realtime += 5_000_000_000n; // NTP stepped 5 s forward
    clock.refresh();
    assert.deepEqual(clock.toWall([1, 0]), [2_000_000_006, 0]);
  });
});
