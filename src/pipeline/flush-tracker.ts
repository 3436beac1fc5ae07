import type { Clock } from '../clock.js';
import { SGPFlushError } from '../errors.js';

interface Waiter {
  /** The flush covers every queue entry whose sequence number is below this. */
  mark: number;
  undelivered: number;
  /** Why spans were dropped, with how many for each. */
  reasons: Map<string, number>;
  settle(error?: Error): void;
}

/**
 * The promises of `forceFlush()` and `shutdown()`: each covers the queue entries numbered below its
 * mark, resolves once all of them are delivered, and rejects with an {@link SGPFlushError} when some
 * were dropped or its timeout passed first.
 */
export class FlushTracker {
  private waiters: Waiter[] = [];

  constructor(private readonly clock: Clock) {}

  /**
   * A flush of every entry numbered below `mark`. `pendingBefore(mark)` says how many of those are
   * not settled yet, for the timeout's message.
   */
  track(mark: number, label: string, timeoutMillis: number, pendingBefore: (mark: number) => number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        mark,
        undelivered: 0,
        reasons: new Map(),
        settle: (error) => {
          cancelTimeout();
          this.remove(waiter);
          if (error) reject(error);
          else if (waiter.undelivered > 0) {
            const message = `sgp-otel ${label}: ${plural(waiter.undelivered, 'span was', 'spans were')} not delivered (${describe(waiter.reasons).join('; ')})`;
            reject(new SGPFlushError(message, waiter.undelivered, false));
          } else resolve();
        },
      };
      const cancelTimeout = this.clock.schedule(() => {
        const pending = pendingBefore(mark);
        const undelivered = pending + waiter.undelivered;
        const why = [`${pending} still queued, in flight or waiting for SGP to come back`, ...describe(waiter.reasons)];
        const message = `sgp-otel ${label} timed out after ${timeoutMillis} ms: ${plural(undelivered, 'span was', 'spans were')} not delivered (${why.join('; ')})`;
        waiter.settle(new SGPFlushError(message, undelivered, true));
      }, timeoutMillis);
      this.waiters.push(waiter);
    });
  }

  /** `count` entries numbered from `first` on were dropped for `reason`: the flushes that cover them report it. */
  noteDropped(first: number, count: number, reason: string): void {
    for (const waiter of this.waiters) {
      if (waiter.mark <= first) continue;
      waiter.undelivered += count;
      waiter.reasons.set(reason, (waiter.reasons.get(reason) ?? 0) + count);
    }
  }

  /** Settles every flush whose entries are all settled, now that nothing below `lowestPending` is pending. */
  settle(lowestPending: number): void {
    for (const waiter of [...this.waiters]) {
      if (lowestPending >= waiter.mark) waiter.settle();
    }
  }

  private remove(waiter: Waiter): void {
    this.waiters = this.waiters.filter((w) => w !== waiter);
  }
}

function describe(reasons: ReadonlyMap<string, number>): string[] {
  return [...reasons].map(([reason, count]) => `${count} ${reason}`);
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}
