/**
 * Export trouble, told one line at a time: the first failure and each change
 * of status (with gRPC's details), every dropped batch, and the recovery. Not
 * every retry: a collector away for an hour is a handful of lines, not
 * thousands.
 */
import type { CallStatus } from './transport';

export class ExportStatusLog {
  /** The status of the last failed attempt, until one succeeds. */
  private failing: { code: number; since: number; attempts: number } | undefined;

  constructor(
    private readonly target: string,
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** An attempt failed and its batch will be retried while `waiting` spans wait. */
  retrying(status: CallStatus, waiting: number): void {
    if (this.note(status)) this.tell(status, `retrying with backoff while ${waiting} spans wait`);
  }

  /** An attempt failed and its batch of `count` spans is dropped: always worth a line. */
  dropped(status: CallStatus, count: number): void {
    this.note(status);
    this.tell(status, `${count} spans dropped (not retryable)`);
  }

  /** An attempt succeeded: a line if the ones before it failed. */
  recovered(): void {
    if (!this.failing) return;
    const seconds = ((this.now() - this.failing.since) / 1000).toFixed(1);
    this.log(`span export to ${this.target} works again, after ${this.failing.attempts} failed attempts in ${seconds} s`);
    this.failing = undefined;
  }

  /** Counts the failed attempt; true when its status is not the one before. */
  private note(status: CallStatus): boolean {
    const changed = this.failing?.code !== status.code;
    if (!this.failing || changed) this.failing = { code: status.code, since: this.now(), attempts: 0 };
    this.failing.attempts++;
    return changed;
  }

  private tell(status: CallStatus, what: string): void {
    const details = status.details.replace(/\s+/g, ' ').slice(0, 300);
    this.log(`span export to ${this.target} failed: ${status.name}: ${details}; ${what}`);
  }
}
