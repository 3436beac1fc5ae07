import type { Logger } from '../log.js';

/**
 * Reports dropped spans as warnings, at most once per interval for each reason, with the
 * count since the last report. The first drop of a reason is reported at once; later ones are
 * summed until the interval has passed and `flush()` or another drop of that reason reports them.
 */
export class DropLog {
  private readonly pending = new Map<string, { count: number; detail: string; note: boolean }>();
  private readonly lastReported = new Map<string, number>();

  constructor(
    private readonly intervalMillis: number,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /** `note`: a warning that is not a drop (a callback of the user's that threw), counted in times. */
  record(reason: string, count: number, detail: string, note = false): void {
    if (count <= 0) return;
    const entry = this.pending.get(reason);
    if (entry) {
      entry.count += count;
      entry.detail = detail;
    } else {
      this.pending.set(reason, { count, detail, note });
    }
    this.reportDue(reason);
  }

  /** Reports every reason whose interval has passed (or all of them, with `force`). */
  flush(force = false): void {
    for (const reason of [...this.pending.keys()]) this.reportDue(reason, force);
  }

  private reportDue(reason: string, force = false): void {
    const entry = this.pending.get(reason);
    if (!entry) return;
    const last = this.lastReported.get(reason);
    const now = this.now();
    if (!force && last !== undefined && now - last < this.intervalMillis) return;
    this.pending.delete(reason);
    this.lastReported.set(reason, now);
    if (entry.note) this.log.warn(`sgp-otel: ${reason}${entry.count === 1 ? '' : ` (${entry.count} times)`}: ${entry.detail}`);
    else this.log.warn(`sgp-otel: dropped ${entry.count} span${entry.count === 1 ? '' : 's'} (${reason}): ${entry.detail}`);
  }
}
