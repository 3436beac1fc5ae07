/**
 * Turn-taking between the exports that encode at the same time. Each one yields to the event loop
 * every ~1 ms of work, but exports resumed in the same turn of the event loop each ran their own
 * slice in it: four exports of 100 KB LLM spans held the loop 6-8 ms a turn. Here only one of them
 * encodes in any turn; the others wait their turn in order.
 */
import type { Clock } from '../clock.js';

export class EncodeTurns {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly clock: Clock) {}

  /** Resolves when it is the caller's turn to encode: at once (undefined) when nobody has it. */
  enter(): Promise<void> | undefined {
    if (!this.held) {
      this.held = true;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Done encoding for now: the next in line goes on a later turn of the event loop. */
  leave(): void {
    const next = this.waiting.shift();
    if (next === undefined) {
      this.held = false;
      return;
    }
    // Still held: handed over.
    void this.clock.yield().then(next);
  }

  /** Lets the event loop, and every export waiting, go first; then resumes. */
  pass(): Promise<void> {
    const mine = new Promise<void>((resolve) => this.waiting.push(resolve));
    this.leave();
    return mine;
  }
}
