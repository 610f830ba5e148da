import { strict as assert } from 'node:assert';
import { SpanQueue, type QueueLimits } from '../../src/telemetry/span-queue';

const LIMITS: QueueLimits = { maxQueueSize: 10, maxQueueBytes: 2 ** 30, maxExportBatchSize: 4, scheduleDelayMs: 20 };
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const same = (r: readonly number[]) => r;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SpanQueue', () => {
  const queues: Array<SpanQueue<number>> = [];
  const queue = (limits: Partial<QueueLimits> = {}, onDue = () => {}) => {
    // An item's size is its value, in bytes: the memory bound is then easy to see.
    const q = new SpanQueue<number>({ ...LIMITS, ...limits }, onDue, (n) => n);
    queues.push(q);
    return q;
  };
  afterEach(() => queues.splice(0).forEach((q) => q.clear()));

  it('takes the oldest records that fit and counts the rest as dropped', () => {
    const q = queue();
    const seen: number[][] = [];
    assert.equal(
      q.offer(range(0, 7), (r) => {
        seen.push([...r]);
        return r;
      }),
      7,
    );
    assert.equal(
      q.offer(range(7, 6), (r) => {
        seen.push([...r]);
        return r;
      }),
      3,
    );
    assert.deepEqual(seen, [range(0, 7), range(7, 3)], 'toItems sees only what fits');
    assert.equal(q.length, 10);
    assert.equal(q.dropped, 3);
  });

  it('is bounded by the memory its items take: the newest past the bound are dropped and counted', () => {
    const q = queue({ maxQueueSize: undefined, maxQueueBytes: 100 });
    assert.equal(q.offer([40, 50, 20, 5], same), 2, '40 + 50 fit, 20 would pass 100');
    assert.deepEqual([q.length, q.bytes, q.dropped], [2, 90, 2], 'the rest of the offer is dropped, even the 5 that would fit');
    assert.equal(q.offer([10], same), 1, 'exactly at the bound still fits');
    assert.equal(q.offer([1, 1], same), 0, 'a full queue takes nothing');
    assert.deepEqual([q.length, q.bytes, q.dropped], [3, 100, 4]);
    const batch = q.takeBatch(true)!;
    assert.deepEqual(batch.items, [40, 50, 10]);
    q.settle(batch);
    assert.deepEqual([q.length, q.bytes], [0, 0], 'settling frees the memory');
    assert.equal(q.offer([60], same), 1);
    assert.equal(q.clear(), 1);
    assert.equal(q.bytes, 0, 'clear frees it too');
  });

  it('without a count bound (OTEL_BSP_MAX_QUEUE_SIZE unset) holds as many items as the memory allows', () => {
    const q = queue({ maxQueueSize: undefined, maxQueueBytes: 10_000 });
    assert.equal(
      q.offer(
        Array.from({ length: 5000 }, () => 2),
        same,
      ),
      5000,
    );
    assert.equal(q.offer([1], same), 0);
    assert.deepEqual([q.length, q.dropped], [5000, 1]);
  });

  it('does not call toItems when nothing fits, and counts it all', () => {
    const q = queue({ maxQueueSize: 2 });
    q.offer([1, 2], same);
    let called = false;
    assert.equal(
      q.offer([3, 4, 5], () => {
        called = true;
        return [];
      }),
      0,
    );
    assert.equal(called, false);
    assert.equal(q.dropped, 3);
    assert.equal(queue({ maxQueueSize: 0 }).offer([1], same), 0);
  });

  it('adds only what toItems returns (records it refused take no room)', () => {
    const q = queue({ maxQueueSize: 3 });
    assert.equal(
      q.offer([1, 2, 3], (r) => r.filter((x) => x !== 2)),
      2,
    );
    assert.equal(q.length, 2);
    assert.equal(q.dropped, 0);
    assert.equal(q.offer([4, 5], same), 1, 'one place left');
    assert.equal(q.dropped, 1);
    assert.deepEqual(q.takeBatch(true)?.items, [1, 3, 4]);
  });

  it('gives a batch of the oldest maxExportBatchSize once that many wait; a batch stays counted until it settles', () => {
    const q = queue();
    q.offer(range(0, 9), same);
    const first = q.takeBatch(false)!;
    assert.deepEqual([first.items, first.count, first.bytes], [[0, 1, 2, 3], 4, 6]);
    assert.equal(q.length, 9, 'the batch in flight still counts');
    assert.equal(q.waiting, 5);
    q.offer(range(9, 5), same);
    assert.equal(q.length, 10);
    assert.equal(q.dropped, 4, 'the batch in flight takes room');
    assert.equal(q.settle(first), 4);
    assert.equal(q.length, 6);
    assert.deepEqual(q.takeBatch(false)?.items, [4, 5, 6, 7]);
  });

  it('several batches in flight at once, settled in any order', () => {
    const q = queue({ maxQueueSize: undefined });
    q.offer(range(0, 10), same);
    const a = q.takeBatch(false)!;
    const b = q.takeBatch(false)!;
    assert.deepEqual(
      [a.items, b.items],
      [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
      ],
    );
    assert.equal(q.takeBatch(false), undefined, 'two left: short of a batch');
    assert.deepEqual([q.length, q.waiting, q.bytes], [10, 2, 45]);
    assert.equal(q.settle(b), 4, 'the later one first');
    assert.deepEqual([q.length, q.bytes], [6, 45 - 22]);
    assert.equal(q.settle(a), 4);
    assert.deepEqual([q.length, q.bytes], [2, 17]);
    assert.deepEqual(q.takeBatch(true)?.items, [8, 9]);
  });

  it('a batch short of maxExportBatchSize waits for the delay, then onDue is called once', async () => {
    let due = 0;
    const q = queue({ scheduleDelayMs: 30 }, () => due++);
    q.offer([1, 2], same);
    const t0 = Date.now();
    assert.equal(q.takeBatch(false), undefined);
    assert.equal(q.takeBatch(false), undefined, 'asking again does not restart the delay');
    await sleep(10);
    assert.equal(due, 0);
    while (due === 0 && Date.now() - t0 < 2000) await sleep(2);
    assert.equal(due, 1);
    assert.ok(Date.now() - t0 >= 25, `due after ${Date.now() - t0} ms`);
    await sleep(50);
    assert.equal(due, 1, 'once');
    assert.deepEqual(q.takeBatch(true)?.items, [1, 2], 'when due, a short batch goes');
  });

  it('now: a short batch goes at once and the waiting timer stops', async () => {
    let due = 0;
    const q = queue({ scheduleDelayMs: 10 }, () => due++);
    q.offer([1], same);
    assert.equal(q.takeBatch(false), undefined);
    assert.deepEqual(q.takeBatch(true)?.items, [1]);
    await sleep(40);
    assert.equal(due, 0);
  });

  it('a full batch stops the waiting timer', async () => {
    let due = 0;
    const q = queue({ scheduleDelayMs: 10 }, () => due++);
    q.offer([1], same);
    assert.equal(q.takeBatch(false), undefined);
    q.offer([2, 3, 4], same);
    assert.deepEqual(q.takeBatch(false)?.items, [1, 2, 3, 4]);
    await sleep(40);
    assert.equal(due, 0);
  });

  it('an empty queue gives no batch and arms no timer', async () => {
    let due = 0;
    const q = queue({ scheduleDelayMs: 5 }, () => due++);
    assert.equal(q.takeBatch(true), undefined);
    assert.equal(q.takeBatch(false), undefined);
    await sleep(30);
    assert.equal(due, 0);
  });

  it('clear empties it, the batches in flight included, and returns the count; settling one of them after does nothing', () => {
    const q = queue();
    q.offer(range(0, 6), same);
    const batch = q.takeBatch(false)!;
    assert.deepEqual(batch.items, [0, 1, 2, 3]);
    assert.equal(q.clear(), 6);
    assert.equal(q.length, 0);
    assert.equal(q.dropped, 0, 'cleared is not dropped for want of room');
    q.offer(range(0, 10), same);
    assert.equal(q.settle(batch), 0, 'taken before the clear');
    assert.deepEqual([q.length, q.bytes], [10, 45], 'all the room is back, and only the new items count');
  });

  it('clear stops the waiting timer', async () => {
    let due = 0;
    const q = queue({ scheduleDelayMs: 10 }, () => due++);
    q.offer([1, 2], same);
    assert.equal(q.takeBatch(false), undefined);
    assert.equal(q.clear(), 2);
    await sleep(40);
    assert.equal(due, 0);
  });

  it('a batch size below 1 counts as 1', () => {
    const q = queue({ maxExportBatchSize: 0 });
    q.offer([1, 2], same);
    assert.deepEqual(q.takeBatch(false)?.items, [1]);
  });

  it('the timer never keeps the process alive', () => {
    const q = queue({ scheduleDelayMs: 60_000 });
    q.offer([1], same);
    q.takeBatch(false);
    const timer = (q as unknown as { timer: NodeJS.Timeout }).timer;
    assert.ok(timer);
    assert.equal(timer.hasRef(), false);
  });

  describe('packing a backlog', () => {
    /** Packs a chunk of numbers into one string: its size is one byte a number, plus 10. */
    const packer = {
      packed: 0,
      unpacked: 0,
      pack(items: readonly number[]): string {
        this.packed++;
        return items.join(',');
      },
      unpack(packed: string): number[] {
        this.unpacked++;
        return packed.split(',').map(Number);
      },
      sizeOf: (packed: string) => packed.split(',').length + 10,
    };
    const packing = (limits: Partial<QueueLimits>, aboveBytes: number, keepLive: number) => {
      packer.packed = packer.unpacked = 0;
      const q = new SpanQueue<number, string>(
        { ...LIMITS, maxQueueSize: undefined, ...limits },
        () => {},
        (n) => n,
        { packer, aboveBytes, keepLive },
      );
      queues.push(q as unknown as SpanQueue<number>);
      return q;
    };

    it('packs only chunks that fill while more than aboveBytes are held, and unpacks each when its turn comes', () => {
      const q = packing({}, 100, 2);
      q.offer(Array(12).fill(10), same);
      assert.deepEqual([packer.packed, q.bytes], [1, 80 + 14], 'the third chunk filled at 120 > 100 bytes: packed to 14');
      q.offer([1, 2, 3, 4], same);
      assert.deepEqual([packer.packed, q.bytes, q.length], [2, 108, 16]);
      assert.deepEqual(q.takeBatch(false)?.items, [10, 10, 10, 10]);
      assert.deepEqual(q.takeBatch(false)?.items, [10, 10, 10, 10]);
      assert.equal(packer.unpacked, 0, 'the live chunks were not packed');
      const third = q.takeBatch(false)!;
      assert.deepEqual([third.items, third.count, third.bytes], [[10, 10, 10, 10], 4, 40], 'unpacked, it counts at its full size again');
      assert.equal(q.bytes, 108 - 14 + 40);
      assert.deepEqual(q.takeBatch(false)?.items, [1, 2, 3, 4]);
      assert.equal(packer.unpacked, 2);
    });

    it('never packs the next keepLive chunks in line, however large the backlog', () => {
      const q = packing({}, 0, 2);
      q.offer(Array(8).fill(1), same);
      assert.equal(packer.packed, 0, 'two chunks: both next in line');
      q.offer(Array(4).fill(1), same);
      assert.equal(packer.packed, 1);
      q.offer([1, 1], same);
      assert.equal(packer.packed, 1, 'a chunk not yet full is not packed');
    });

    it('packing makes room: more items fit under maxQueueBytes', () => {
      const q = packing({ maxQueueBytes: 100 }, 50, 1);
      assert.equal(q.offer(Array(20).fill(10), same), 15, 'ten would fit unpacked; two chunks packed to 14 bytes each leave room for seven more');
      assert.deepEqual([q.dropped, q.bytes, packer.packed], [5, 98, 2]);
    });
  });
});
