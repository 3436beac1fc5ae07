/**
 * Request bodies written as items are encoded: each item's JSON text goes into its request's body
 * the moment it is made, as UTF-8, and is then garbage. Texts kept until a whole batch was encoded
 * survived young-generation collections (each of which copies them) and, once turned into bytes
 * to avoid that, were copied again into the body; with 100 KB LLM items both showed as pauses.
 */
import { SERVER_MAX_ITEMS_PER_REQUEST } from '../config.js';
import type { BodyPool } from './body-pool.js';
import type { EncodedRecord } from './encode.js';

/** One request: its body, and each record's bytes as a view into that body. */
export interface RequestChunk {
  body: Buffer;
  records: EncodedRecord[];
  /** A view of a record's bytes was handed out (a split, a 413): the body must outlive this request. */
  viewed: boolean;
}

/** An item's JSON, as text or (encoded by an earlier export) as UTF-8, ready to be written into a request. */
export interface EncodedText {
  index: number;
  json: string | Buffer;
  /** UTF-8 length of `json`. */
  bytes: number;
}

export const BODY_OPEN = Buffer.from('{"items":[');
export const BODY_CLOSE = Buffer.from(']}');
/** What a body holds besides its items and the commas between them. */
export const ENVELOPE = BODY_OPEN.length + BODY_CLOSE.length;

/**
 * Writes items into request bodies of at most 1000 items and `maxBatchBytes` (unless one item
 * alone is larger), starting a new body when the next item does not fit.
 */
export class RequestWriter {
  private readonly chunks: RequestChunk[] = [];
  private chunk: RequestChunk | undefined;
  /** Room of the current body: its bytes up to the end of what was taken. */
  private room: Buffer = Buffer.alloc(0);
  private at = 0;
  /** The items' bytes plus one each (a comma, or for the first the envelope's last byte). */
  private counted = 0;

  constructor(
    private readonly maxBatchBytes: number,
    private readonly bodies: BodyPool | undefined,
  ) {}

  /** Writes `text` into the current body, or a new one when it is full. `itemsLeft` (this one included) sizes a new body. */
  write(text: EncodedText, itemsLeft: number): void {
    let chunk = this.chunk;
    if (chunk !== undefined) {
      // The body would be its envelope, the items so far with a comma each, and this one.
      const full = chunk.records.length >= SERVER_MAX_ITEMS_PER_REQUEST || ENVELOPE + this.counted + text.bytes > this.maxBatchBytes;
      if (full) {
        this.close();
        chunk = undefined;
      }
    }
    if (chunk === undefined) {
      // Room for this item and as many more like it as are left, up to the batch limit.
      const guess = Math.min(this.maxBatchBytes, (text.bytes + 1) * itemsLeft + ENVELOPE);
      this.room = this.take(Math.max(guess, text.bytes + ENVELOPE));
      this.at = BODY_OPEN.copy(this.room, 0);
      this.counted = 0;
      chunk = { body: this.room, records: [], viewed: false };
      this.chunk = chunk;
    } else {
      const needed = this.at + 1 + text.bytes + BODY_CLOSE.length;
      if (needed > this.room.length) this.grow(needed);
      this.room[this.at] = COMMA;
      this.at += 1;
    }
    const start = this.at;
    const { json } = text;
    this.at += typeof json === 'string' ? this.room.write(json, start) : json.copy(this.room, start);
    chunk.records.push(new RequestRecord(text.index, chunk, start, this.at));
    this.counted += text.bytes + 1;
  }

  /** The requests written, each body cut to what was written. */
  finish(): RequestChunk[] {
    this.close();
    return this.chunks;
  }

  private close(): void {
    const chunk = this.chunk;
    if (chunk === undefined) return;
    this.at += BODY_CLOSE.copy(this.room, this.at);
    chunk.body = this.room.subarray(0, this.at);
    this.chunks.push(chunk);
    this.chunk = undefined;
  }

  /** Moves what was written to a body with room for `needed` bytes; the old one goes back to the pool (nothing was sent from it). */
  private grow(needed: number): void {
    const larger = this.take(Math.max(needed, Math.min(this.maxBatchBytes + ENVELOPE, 2 * this.room.length)));
    this.room.copy(larger, 0, 0, this.at);
    this.bodies?.give(this.room);
    this.room = larger;
    this.chunk!.body = larger;
  }

  /** At least `bytes`: all of a pooled buffer's memory, which is rounded up. */
  private take(bytes: number): Buffer {
    if (this.bodies === undefined) return Buffer.allocUnsafeSlow(bytes);
    const body = this.bodies.take(bytes);
    return Buffer.from(body.buffer, body.byteOffset, body.buffer.byteLength - body.byteOffset);
  }
}

const COMMA = 0x2c;

/**
 * A record written into a request body: its bytes are made a view of that body only when asked
 * for (a split, a 413), and copied out for a record kept longer (a retry later, the spool), so the
 * body can still go back to the pool.
 */
class RequestRecord implements EncodedRecord {
  readonly shrunk = false;

  constructor(
    readonly index: number,
    private readonly request: RequestChunk,
    private readonly start: number,
    private readonly end: number,
  ) {}

  get body(): Buffer {
    this.request.viewed = true;
    return this.request.body.subarray(this.start, this.end);
  }

  bytes(): Buffer {
    return Buffer.from(this.request.body.subarray(this.start, this.end));
  }
}
