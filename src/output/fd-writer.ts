// Text to a file descriptor through one reusable buffer: a batch of lines
// costs one write(2) and no large allocation. (Joining a batch into one big
// string and letting a stream copy it cost more page faults than all the
// formatting, on this kind of VM.)
import { writeSync } from 'node:fs';

/** Collects text, then writes it out at once. */
export interface TextBatchWriter {
  add(text: string): void;
  flush(): void;
}

const INITIAL_BYTES = 1 << 20;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class FdWriter implements TextBatchWriter {
  private buf = Buffer.allocUnsafe(INITIAL_BYTES);
  private used = 0;

  constructor(private readonly fd: number) {}

  add(text: string): void {
    const worst = text.length * 3; // UTF-16 unit -> at most 3 UTF-8 bytes
    if (this.used + worst > this.buf.length) {
      this.flush();
      if (worst > this.buf.length) this.buf = Buffer.allocUnsafe(worst);
    }
    this.used += this.buf.write(text, this.used);
  }

  /** Writes everything collected; throws the write error (EPIPE...) as is. */
  flush(): void {
    let off = 0;
    try {
      while (off < this.used) {
        try {
          off += writeSync(this.fd, this.buf, off, this.used - off);
        } catch (err) {
          // A non-blocking pipe that is full: wait for the reader, as tcplife
          // would. Sessions keep queueing in the kernel meanwhile (losses counted).
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
          Atomics.wait(sleeper, 0, 0, 1);
        }
      }
    } finally {
      this.used = 0;
    }
  }
}
