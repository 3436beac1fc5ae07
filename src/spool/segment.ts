/**
 * The spool's file format. A segment is an append-only file: an 8-byte magic, then records, each
 * framed as `[payload length: u32 BE][crc32 of the payload: u32 BE][payload]`. The payload is one
 * SGP item's JSON, exactly the bytes that are sent. A process killed mid-write leaves a torn last
 * record; reading stops at the first frame that is cut short or fails its checksum, and says how
 * many bytes it skipped.
 */
import { crc32 } from 'node:zlib';

export const SEGMENT_MAGIC = Buffer.from('SGPSPL1\n');
const FRAME_HEADER_BYTES = 8;
/** No item is this large (three fields of at most maxFieldBytes each): a longer length is garbage. */
const MAX_RECORD_BYTES = 256 * 1024 * 1024;

/** The frames of `payloads`, back to back, ready to append. */
export function frameRecords(payloads: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const payload of payloads) {
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32BE(payload.length, 0);
    header.writeUInt32BE(crc32(payload) >>> 0, 4);
    parts.push(header, payload);
  }
  return Buffer.concat(parts);
}

export interface ParsedSegment {
  /** Every record whose frame is whole and whose checksum matches, in the order written. */
  records: Buffer[];
  /** Bytes after the last good record that could not be read (a torn or corrupt tail); 0 when none. */
  skippedBytes: number;
  /** The file does not start with the magic: nothing in it was read. */
  foreign: boolean;
}

export function parseSegment(data: Buffer): ParsedSegment {
  if (data.length < SEGMENT_MAGIC.length || !data.subarray(0, SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC)) {
    // A segment created but killed before its magic was whole holds nothing: not corrupt, just empty.
    const empty = data.length < SEGMENT_MAGIC.length && SEGMENT_MAGIC.subarray(0, data.length).equals(data);
    return { records: [], skippedBytes: empty ? 0 : data.length, foreign: !empty };
  }
  const records: Buffer[] = [];
  let at = SEGMENT_MAGIC.length;
  while (at + FRAME_HEADER_BYTES <= data.length) {
    const length = data.readUInt32BE(at);
    const sum = data.readUInt32BE(at + 4);
    const end = at + FRAME_HEADER_BYTES + length;
    if (length > MAX_RECORD_BYTES || end > data.length) break;
    const payload = data.subarray(at + FRAME_HEADER_BYTES, end);
    if ((crc32(payload) >>> 0) !== sum) break;
    records.push(payload);
    at = end;
  }
  return { records, skippedBytes: data.length - at, foreign: false };
}
