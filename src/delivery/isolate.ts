/**
 * Finding the items at fault in a request SGP refused for its content (400, 409, 413, 422): the
 * refused parts are split level by level, every part of a level before any of the next, within a
 * budget of requests, so a budget that runs out leaves parts of about the same size unsplit rather
 * than whole halves untried. The exporter and the spool's replay both use it.
 */
import type { SGPExportError } from '../errors.js';
import { itemOf, shrunkBody } from './encode.js';

/**
 * Requests that isolating bad items may cost per export call, beyond the first: enough to find a
 * handful of culprits by halving, never the 2n - 1 of a server that refuses everything.
 */
export function splitBudget(items: number): number {
  return 5 * Math.ceil(Math.log2(Math.max(2, items))) + 8;
}

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
  /** The item's size in bytes. */
  size(record: R): number;
  /** A number in [0, 1), for choosing which item of a part to try alone. */
  random(): number;
}

/**
 * Isolates the items at fault in `records`, which SGP refused with `error`, spending at most
 * `budget.left` requests. When every part of a level (four or more) is refused with the very
 * same message, as a server that refuses everything would, an item of a part, picked at random,
 * is tried alone, part after part until one is taken: if none is, probing stops; a few bad items that
 * happen to be refused alike (a fixed message, or one naming the same position) go on being
 * isolated. A part refused as too large (413) whose largest item is most of it sends that item
 * alone, so a few huge items cost two requests each rather than a halving each.
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
      for (const piece of pieces(part.records, part.error, steps)) {
        budget.left -= 1;
        sent += 1;
        const refusal = await steps.send(piece);
        if (refusal !== undefined) next.push({ records: piece, error: refusal });
      }
    }
    // Not for a 413, which smaller parts can cure, nor for single items, past halving: each gets
    // its own last chance (a 413 its retry with strings cut short).
    const alike = next.length >= 4 && next.length === sent && next.every((part) => part.error.message === next[0]!.error.message);
    if (alike && next[0]!.error.status !== 413 && !next.every((part) => part.records.length === 1)) {
      if (!(await someTakenAlone(next, budget, steps))) {
        for (const part of next) steps.giveUp(part.records, withNote(part.error, 'every part of the batch was refused alike'));
        return;
      }
    }
    refused = next.filter((part) => part.records.length > 0);
  }
}

/** How a refused part is sent next: its largest item alone when that is most of a 413'd part, else its halves. */
function pieces<R>(records: R[], error: SGPExportError, steps: IsolationSteps<R>): R[][] {
  if (error.status === 413) {
    let largest = 0;
    let total = 0;
    records.forEach((record, i) => {
      const size = steps.size(record);
      total += size;
      if (size > steps.size(records[largest]!)) largest = i;
    });
    if (2 * steps.size(records[largest]!) > total) return [[records[largest]!], records.filter((_, i) => i !== largest)];
  }
  const middle = Math.ceil(records.length / 2);
  return [records.slice(0, middle), records.slice(middle)];
}

/**
 * Tries one item of a part alone (taking it out of its part), part after part, until SGP takes
 * one: the parts are then not all bad. False if every one was refused too, or the budget cannot
 * pay for trying them all.
 */
async function someTakenAlone<R>(parts: { records: R[]; error: SGPExportError }[], budget: { left: number }, steps: IsolationSteps<R>): Promise<boolean> {
  if (budget.left < parts.length) return false;
  let taken = false;
  const refusedAlone: { record: R; error: SGPExportError }[] = [];
  for (const part of parts) {
    const at = Math.min(part.records.length - 1, Math.floor(steps.random() * part.records.length));
    const [probe] = part.records.splice(at, 1);
    budget.left -= 1;
    const refusal = await steps.send([probe!]);
    if (refusal === undefined) {
      taken = true;
      break;
    }
    refusedAlone.push({ record: probe!, error: refusal });
  }
  if (taken) for (const { record, error } of refusedAlone) await steps.single(record, error);
  else for (const { record, error } of refusedAlone) steps.giveUp([record], withNote(error, 'every part of the batch was refused alike'));
  return taken;
}

/**
 * A single item SGP refused, given its last chance: after a 413 (and not already cut short) it is
 * read back from `body` and sent once more, through `resend`, with its strings cut short. Returns
 * undefined once SGP took it, else the error to drop it with, naming its span.
 */
export async function lastChance(
  body: Buffer,
  shrunk: boolean,
  error: SGPExportError,
  resend: (smaller: Buffer) => Promise<SGPExportError | undefined>,
): Promise<SGPExportError | undefined> {
  let item: ReturnType<typeof itemOf> | undefined;
  try {
    item = itemOf(body);
  } catch {
    // Bytes that are not an item (a damaged spool record): dropped with SGP's own words.
  }
  const smaller = error.status === 413 && !shrunk && item ? shrunkBody(item) : undefined;
  const final = smaller ? await resend(smaller) : error;
  if (final === undefined || item === undefined) return final;
  return final.withMessage(`SGP rejected span "${item.name}" (${item.id}): ${final.message}`);
}

function withNote(error: SGPExportError, note: string): SGPExportError {
  return error.withMessage(`${error.message} (${note})`);
}
