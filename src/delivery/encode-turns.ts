/**
 * Turn-taking between the exports of one exporter that encode at the same time. Each export
 * yielded to the event loop every ~1 ms of work, but exports resumed in the same turn of the event
 * loop each ran their own slice in it: four exports of 100 KB LLM spans held the loop 6-8 ms a turn.
 *
 * Here one export encodes at a time, and the work of a turn of the event loop is bounded whoever
 * does it: once ~64 KiB of span text has been encoded since the last yield, the next slice waits for
 * the next turn, and the exports waiting take theirs in order (round robin). An export that awaits an
 * async mask gives its turn up meanwhile and queues again once the mask answered. (Oldest-first
 * instead of round robin was tried: under overload the first exports finish sooner, but with the
 * benchmark's server on the same 2 cores the event-loop p99 of 100 KB spans went from 8.9 to 10.5 ms.)
 */
import type { Clock } from '../clock.js';

/** Work between two yields to the event loop: bytes of span content mapped and serialized (about 1 ms). */
export const YIELD_AFTER_BYTES = 64 * 1024;

export class EncodeTurns {
  private held = false;
  /** Exports waiting for the turn, in the order they asked. */
  private readonly waiting: (() => void)[] = [];
  /** Work done in this turn of the event loop, by whoever held the turn. */
  private spent = 0;

  constructor(private readonly clock: Clock) {}

  /** Resolves when it is this export's turn to encode: at once (undefined) when nobody has it. */
  enter(): Promise<void> | undefined {
    if (!this.held) {
      this.held = true;
      return undefined;
    }
    return new Promise((resume) => this.waiting.push(resume));
  }

  /** Counts `bytes` of work; true once this turn's share is used up (then call {@link pass}). */
  spend(bytes: number): boolean {
    this.spent += bytes;
    return this.spent >= YIELD_AFTER_BYTES;
  }

  /** Yields to the event loop; the exports waiting go first, then this one goes on. */
  async pass(): Promise<void> {
    if (this.waiting.length === 0) {
      await this.clock.yield();
      this.spent = 0;
      return;
    }
    const mine = new Promise<void>((resume) => this.waiting.push(resume));
    this.leave();
    await mine;
  }

  /** Done encoding, or waiting for something else: the next export in line goes on. */
  leave(): void {
    const next = this.waiting.shift();
    if (next === undefined) {
      this.held = false;
      return;
    }
    // Still held: handed over, in this turn while its share of work is left, else on the next.
    if (this.spent < YIELD_AFTER_BYTES) {
      next();
      return;
    }
    void this.clock.yield().then(() => {
      this.spent = 0;
      next();
    });
  }
}
