import type { TcpSession } from '../sessions/tcp-session';

/** Where sessions go after the filters: the terminal, later OTLP. */
export interface SessionSink {
  /** Called once, before the first batch. */
  open(): void;
  write(batch: readonly TcpSession[]): void;
  /** Flushes what is pending; called once at stop. */
  close(): void;
  /** Counters worth reporting at exit, by name. */
  counters(): Record<string, number>;
}
