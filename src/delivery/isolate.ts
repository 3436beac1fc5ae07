/**
 * Finding the items at fault in a request SGP refused for its content (400, 409, 413, 422): the
 * refused parts are halved level by level, every part of a level before any of the next, within a
 * budget of requests, so a budget that runs out leaves parts of about the same size unsplit rather
 * than whole halves untried. The exporter and the spool's replay both use it.
 */
import type { SGPExportError } from '../errors.js';

export interface IsolationSteps<R> {
  /**
   * Sends `part` in one request (with retries). Returns the error when SGP refused its content,
   * to be split further; settles the part itself otherwise.
   */
  send(part: R[]): Promise<SGPExportError | undefined>;
  /** A single item refused: its last chance (a 413 is sent again cut short) and its settlement. */
  single(record: R, error: SGPExportError): Promise<void>;
  /** Gives up on `part`: every item in it is dropped as refused, with `error`. */
  giveUp(part: R[], error: SGPExportError): void;
}

/**
 * Isolates the items at fault in `records`, which SGP refused with `error`, spending at most
 * `budget.left` requests. Probing stops early when every part of a level (four or more) is
 * refused with the very same message, as a server that refuses everything would.
 */
export async function isolateRefused<R>(records: R[], error: SGPExportError, budget: { left: number }, steps: IsolationSteps<R>): Promise<void> {
  let refused: { records: R[]; error: SGPExportError }[] = [{ records, error }];
  while (refused.length > 0) {
    const next: typeof refused = [];
    let sent = 0;
    for (const part of refused) {
      if (part.records.length === 1) {
        await steps.single(part.records[0]!, part.error);
        continue;
      }
      if (budget.left < 2) {
        steps.giveUp(part.records, withNote(part.error, 'gave up isolating the items at fault'));
        continue;
      }
      const middle = Math.ceil(part.records.length / 2);
      for (const half of [part.records.slice(0, middle), part.records.slice(middle)]) {
        budget.left -= 1;
        sent += 1;
        const refusal = await steps.send(half);
        if (refusal !== undefined) next.push({ records: half, error: refusal });
      }
    }
    // Not for a 413, which smaller parts can cure, nor for single items, past halving: each gets
    // its own last chance (a 413 its retry with strings cut short).
    const alike = next.length >= 4 && next.length === sent && next.every((part) => part.error.message === next[0]!.error.message);
    if (alike && next[0]!.error.status !== 413 && !next.every((part) => part.records.length === 1)) {
      for (const part of next) steps.giveUp(part.records, withNote(part.error, 'every part of the batch was refused alike'));
      return;
    }
    refused = next;
  }
}

function withNote(error: SGPExportError, note: string): SGPExportError {
  return error.withMessage(`${error.message} (${note})`);
}
