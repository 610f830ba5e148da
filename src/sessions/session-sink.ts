import type { CounterValues } from './counters';
import type { TcpSession } from './tcp-session';

/** Where sessions go after the filters: the terminal, OTLP. */
export interface SessionSink {
  /** Called once, before the first batch. */
  open(): void;
  write(batch: readonly TcpSession[]): void;
  /** Delivers what is pending within timeoutMs, then releases the sink; called once at stop. */
  close(timeoutMs: number): Promise<void>;
  /** Counters worth reporting at exit, by name. */
  counters(): CounterValues;
}
