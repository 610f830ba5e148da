// tcplife's terminal output (table, wide, CSV) or JSON lines, one write per batch.
import type { TcpSession, WallTime } from '../sessions/tcp-session';
import type { TextBatchWriter } from './fd-writer';
import { jsonLine } from './json-lines';
import type { SessionSink } from '../sessions/session-sink';
import type { CounterValues } from '../sessions/counters';
import { isPartial, localClock, tableHeader, tableRow, type TableOptions } from './table';

export class ConsoleSink implements SessionSink {
  private firstEnd?: WallTime;
  private partialNotShown = 0;
  private printed = 0;
  private failed = false;

  /**
   * onWriteError is told once when output fails (EPIPE: the reader went
   * away); the sink writes nothing after that.
   */
  constructor(
    private readonly out: TextBatchWriter,
    private readonly format: { json: boolean; table: TableOptions },
    private readonly onWriteError: (err: NodeJS.ErrnoException) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  open(): void {
    if (this.format.json) return;
    this.guarded(() => {
      this.out.add(tableHeader(this.format.table) + '\n');
      this.out.flush();
    });
  }

  // One write per batch, flushed at once: output never waits in a buffer
  // when piped (tcplife's old complaint).
  write(batch: readonly TcpSession[]): void {
    if (this.failed) return;
    const clock = this.format.table.time ? localClock(this.now()) : undefined;
    let lines = 0;
    this.guarded(() => {
      for (const s of batch) {
        if (this.format.json) {
          this.out.add(jsonLine(s) + '\n');
        } else if (isPartial(s)) {
          this.partialNotShown++; // no duration to print; counted and reported at exit
          continue;
        } else {
          this.out.add(tableRow(s, this.format.table, { firstEnd: this.firstEnd, clock }) + '\n');
          this.firstEnd ??= s.endTime;
        }
        lines++;
      }
      // add() may also write, when a batch outgrows the buffer: both under guard.
      if (lines > 0) this.out.flush();
    });
    if (!this.failed) this.printed += lines;
  }

  // Every batch is written at once: nothing is pending.
  async close(): Promise<void> {}

  counters(): CounterValues {
    return { printed: this.printed, partial_not_shown: this.partialNotShown };
  }

  /** Runs output work; a write error is reported once and silences the sink. */
  private guarded(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.failed = true;
      this.onWriteError(err as NodeJS.ErrnoException);
    }
  }
}
