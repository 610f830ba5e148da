/**
 * The exporter's bounded queue, oldest first, in chunks of one batch each,
 * and its batching clock.
 *
 * Every span not yet exported or dropped, the batches in flight included,
 * counts against maxQueueBytes (by its `sizeOf`, or its chunk's packed size)
 * and, when set, maxQueueSize: what does not fit is dropped and counted
 * (`dropped`), never buffered. So with the collector down the queue fills,
 * then every newer span is dropped and counted while the oldest wait,
 * deterministically.
 *
 * Packing: once more than `packing.aboveBytes` are held (a backlog: the
 * collector is slow or away), each chunk that fills behind the next
 * `packing.keepLive` to go is packed (for spans: deflated, about 13 times
 * smaller), and unpacked when its turn comes. A healthy exporter never
 * packs; an outage's backlog takes a fraction of the memory it would.
 *
 * A batch (the oldest chunk) is due as soon as it is full
 * (maxExportBatchSize items), else scheduleDelayMs after the queue was
 * found short of one: then `onDue` is called (the timer is unref'd, it never
 * keeps the process alive). Several batches may be in flight; each stays
 * counted until it settles, in whatever order.
 */
import type { OtlpBatchConfig } from './export-config';

export type QueueLimits = Pick<OtlpBatchConfig, 'maxQueueSize' | 'maxQueueBytes' | 'maxExportBatchSize' | 'scheduleDelayMs'>;

/** How a chunk of items is made smaller while it waits, and back. */
export interface Packer<T, P> {
  pack(items: readonly T[]): P;
  unpack(packed: P): T[];
  /** The memory a packed chunk takes, in bytes. */
  sizeOf(packed: P): number;
}

export interface Packing<T, P> {
  packer: Packer<T, P>;
  /** Chunks are packed only while more than this many bytes are held. */
  aboveBytes: number;
  /** The chunks next in line stay as they are: they go out soon. */
  keepLive: number;
}

/** A batch taken for export: its items, and what it holds until it settles. */
export interface Batch<T> {
  readonly items: readonly T[];
  /** Items in the batch (items may be let go of once encoded). */
  readonly count: number;
  /** The memory it counts for until it settles. */
  readonly bytes: number;
  /** The clear() generation it was taken in: after a clear, settling it does nothing. */
  readonly generation: number;
}

interface Chunk<T, P> {
  /** The items, while not packed. */
  live: T[] | undefined;
  packed: P | undefined;
  count: number;
  bytes: number;
}

export class SpanQueue<T, P = never> {
  /** Waiting chunks, oldest first, from `head` on (shifting a long array on every batch would cost). */
  private chunks: Array<Chunk<T, P> | undefined> = [];
  private head = 0;
  private waitingItems = 0;
  private inFlightItems = 0;
  /** sizeOf() of every item held, packed chunks at their packed size, batches in flight included. */
  private heldBytes = 0;
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Items refused because the queue was full. */
  dropped = 0;
  /** Chunks packed so far. */
  packs = 0;

  constructor(
    private readonly limits: QueueLimits,
    private readonly onDue: () => void,
    /** The memory an item takes while queued, in bytes. */
    private readonly sizeOf: (item: T) => number,
    private readonly packing?: Packing<T, P>,
  ) {}

  /** Items held, the batches in flight included. */
  get length(): number {
    return this.waitingItems + this.inFlightItems;
  }

  /** Items waiting for a batch (not in flight). */
  get waiting(): number {
    return this.waitingItems;
  }

  /** The memory the items held take, the batches in flight included. */
  get bytes(): number {
    return this.heldBytes;
  }

  private get batchSize(): number {
    return Math.max(1, this.limits.maxExportBatchSize);
  }

  /**
   * Takes the oldest of `records` that fit, turned into items by `toItems`
   * (which may leave some out), and drops (and counts) the rest. `toItems` is
   * not called when none fit. Returns the number of items added.
   */
  offer<R>(records: readonly R[], toItems: (accepted: readonly R[]) => readonly T[]): number {
    const room = this.heldBytes >= this.limits.maxQueueBytes ? 0 : Math.max(0, (this.limits.maxQueueSize ?? Infinity) - this.length);
    const taken = Math.min(room, records.length);
    this.dropped += records.length - taken;
    if (taken === 0) return 0;
    const made = toItems(taken === records.length ? records : records.slice(0, taken));
    // An item's size is known once it is made: those past the memory bound go too.
    let added = 0;
    for (const item of made) {
      const size = this.sizeOf(item);
      if (this.heldBytes + size > this.limits.maxQueueBytes) break;
      this.append(item, size);
      added++;
    }
    this.dropped += made.length - added;
    return added;
  }

  private append(item: T, size: number): void {
    let tail = this.chunks.length > this.head ? this.chunks[this.chunks.length - 1] : undefined;
    if (!tail?.live || tail.count >= this.batchSize) {
      tail = { live: [], packed: undefined, count: 0, bytes: 0 };
      this.chunks.push(tail);
    }
    tail.live!.push(item);
    tail.count++;
    tail.bytes += size;
    this.heldBytes += size;
    this.waitingItems++;
    if (tail.count === this.batchSize) this.maybePack(tail);
  }

  /** Packs a chunk that just filled, when there is a backlog and it is not next in line. */
  private maybePack(chunk: Chunk<T, P>): void {
    const packing = this.packing;
    if (!packing || this.heldBytes <= packing.aboveBytes) return;
    if (this.chunks.length - this.head <= packing.keepLive) return;
    const packed = packing.packer.pack(chunk.live!);
    const size = packing.packer.sizeOf(packed);
    this.heldBytes += size - chunk.bytes;
    chunk.bytes = size;
    chunk.packed = packed;
    chunk.live = undefined;
    this.packs++;
  }

  /**
   * The batch to send now: the oldest chunk, when it is full or `now` is
   * true (shutdown, or the delay ran out). Otherwise undefined; when items
   * wait for the delay, the timer is then running.
   */
  takeBatch(now: boolean): Batch<T> | undefined {
    if (this.waitingItems === 0) return undefined;
    const chunk = this.chunks[this.head]!;
    if (!now && chunk.count < this.batchSize) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.onDue();
      }, this.limits.scheduleDelayMs).unref();
      return undefined;
    }
    this.stopTimer();
    this.chunks[this.head++] = undefined; // let it go
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    let items = chunk.live;
    let bytes = chunk.bytes;
    if (!items) {
      // Unpacked, the batch counts at its full size again until it settles.
      items = this.packing!.packer.unpack(chunk.packed!);
      bytes = 0;
      for (const item of items) bytes += this.sizeOf(item);
      this.heldBytes += bytes - chunk.bytes;
    }
    this.waitingItems -= chunk.count;
    this.inFlightItems += chunk.count;
    return { items, count: chunk.count, bytes, generation: this.generation };
  }

  /** Removes a batch taken before (exported or dropped: the caller counts it); returns its size. */
  settle(batch: Batch<T>): number {
    if (batch.generation !== this.generation) return 0;
    this.inFlightItems -= batch.count;
    this.heldBytes -= batch.bytes;
    return batch.count;
  }

  /** Empties the queue, the batches in flight included, and stops the timer; returns how many items it held. */
  clear(): number {
    const n = this.length;
    this.stopTimer();
    this.chunks = [];
    this.head = 0;
    this.waitingItems = 0;
    this.inFlightItems = 0;
    this.heldBytes = 0;
    this.generation++;
    return n;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
