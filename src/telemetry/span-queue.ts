/**
 * The exporter's bounded queue, oldest first, and its batching clock.
 *
 * Every span not yet exported or dropped, the batch in flight included,
 * counts against maxQueueBytes (by its `sizeOf`) and, when set,
 * maxQueueSize: what does not fit is dropped and counted (`dropped`), never
 * buffered. So with the collector down the queue fills, then every newer
 * span is dropped and counted while the oldest wait, deterministically.
 *
 * A batch (the oldest maxExportBatchSize spans) is due as soon as that many
 * are waiting, else scheduleDelayMs after the queue was found short of one:
 * then `onDue` is called (the timer is unref'd, it never keeps the process
 * alive). One batch is in flight at a time; it stays at the head of the queue
 * until it settles.
 */
import type { OtlpBatchConfig } from './export-config';

export type QueueLimits = Pick<OtlpBatchConfig, 'maxQueueSize' | 'maxQueueBytes' | 'maxExportBatchSize' | 'scheduleDelayMs'>;

export class SpanQueue<T> {
  /** Waiting items, the batch in flight (the first `inFlight`) at the head. */
  private readonly items: T[] = [];
  private inFlight = 0;
  /** sizeOf() of every item held. */
  private heldBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Items refused because the queue was full. */
  dropped = 0;

  constructor(
    private readonly limits: QueueLimits,
    private readonly onDue: () => void,
    /** The memory an item takes while queued, in bytes. */
    private readonly sizeOf: (item: T) => number,
  ) {}

  /** Items held, the batch in flight included. */
  get length(): number {
    return this.items.length;
  }

  /** The memory the items held take (their sizeOf), the batch in flight included. */
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
    const room = this.heldBytes >= this.limits.maxQueueBytes ? 0 : Math.max(0, (this.limits.maxQueueSize ?? Infinity) - this.items.length);
    const taken = Math.min(room, records.length);
    this.dropped += records.length - taken;
    if (taken === 0) return 0;
    const made = toItems(taken === records.length ? records : records.slice(0, taken));
    // An item's size is known once it is made: those past the memory bound go too.
    let added = 0;
    for (const item of made) {
      const size = this.sizeOf(item);
      if (this.heldBytes + size > this.limits.maxQueueBytes) break;
      this.heldBytes += size;
      this.items.push(item);
      added++;
    }
    this.dropped += made.length - added;
    return added;
  }

  /**
   * The batch to send now: the oldest maxExportBatchSize items, when that
   * many wait or `now` is true (shutdown, or the delay ran out). Otherwise,
   * and while a batch is in flight, undefined; when items wait for the delay,
   * the timer is then running.
   */
  takeBatch(now: boolean): readonly T[] | undefined {
    if (this.inFlight > 0 || this.items.length === 0) return undefined;
    if (!now && this.items.length < this.batchSize) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.onDue();
      }, this.limits.scheduleDelayMs).unref();
      return undefined;
    }
    this.stopTimer();
    this.inFlight = Math.min(this.batchSize, this.items.length);
    return this.items.slice(0, this.inFlight);
  }

  /** Removes the batch in flight (exported or dropped: the caller counts it); returns its size. */
  settle(): number {
    const n = this.inFlight;
    for (let i = 0; i < n; i++) this.heldBytes -= this.sizeOf(this.items[i]);
    this.items.splice(0, n);
    this.inFlight = 0;
    return n;
  }

  /** Empties the queue, the batch in flight included, and stops the timer; returns how many items it held. */
  clear(): number {
    const n = this.items.length;
    this.stopTimer();
    this.items.length = 0;
    this.inFlight = 0;
    this.heldBytes = 0;
    return n;
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
