// tcplife's terminal output (table, wide, CSV) or JSON lines, one write per batch.
import type { TcpSession, WallTime } from '../sessions/tcp-session';
import { jsonLine } from './json-lines';
import type { SessionSink } from './session-sink';
import { isPartial, localClock, tableHeader, tableRow, type TableOptions } from './table';

/** The part of a writable stream we use: process.stdout, or a test's capture. */
export interface LineWriter {
  write(chunk: string): boolean;
}

export class ConsoleSink implements SessionSink {
  private firstEnd?: WallTime;
  private partialNotShown = 0;
  private printed = 0;

  constructor(
    private readonly out: LineWriter,
    private readonly format: { json: boolean; table: TableOptions },
    private readonly now: () => Date = () => new Date(),
  ) {}

  open(): void {
    if (!this.format.json) this.out.write(tableHeader(this.format.table) + '\n');
  }

  // One write per batch: on Linux, writes to pipes and files are synchronous,
  // so output never waits in a buffer when piped (tcplife's old complaint).
  write(batch: readonly TcpSession[]): void {
    const lines: string[] = [];
    const clock = this.format.table.time ? localClock(this.now()) : undefined;
    for (const s of batch) {
      if (this.format.json) {
        lines.push(jsonLine(s));
        continue;
      }
      if (isPartial(s)) {
        this.partialNotShown++; // no duration to print; counted and reported at exit
        continue;
      }
      lines.push(tableRow(s, this.format.table, { firstEnd: this.firstEnd, clock }));
      this.firstEnd ??= s.endTime;
    }
    if (lines.length === 0) return;
    this.printed += lines.length;
    this.out.write(lines.join('\n') + '\n');
  }

  close(): void {}

  counters(): Record<string, number> {
    return { printed: this.printed, partial_not_shown: this.partialNotShown };
  }
}
