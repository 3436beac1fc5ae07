/**
 * The spool's file format. A segment is an append-only file: an 8-byte magic, then records, each
 * framed as `[payload length: u32 BE][crc32 of the payload: u32 BE][payload]`. The payload is one
 * SGP item's JSON, exactly the bytes that are sent.
 *
 * Damage is skipped, never fatal, and never costs more than the damaged records: a record whose
 * length is intact but whose payload fails its checksum is stepped over by its length; when the
 * frame itself is garbage, reading resumes at the next offset where a whole, checksummed item
 * frame starts. A process killed mid-write leaves a torn last record, skipped the same way.
 */
import { crc32 } from 'node:zlib';

export const SEGMENT_MAGIC = Buffer.from('SGPSPL1\n');
const FRAME_HEADER_BYTES = 8;
/** No item is this large (three fields of at most maxFieldBytes each): a longer length is garbage. */
const MAX_RECORD_BYTES = 256 * 1024 * 1024;
/** The smallest JSON object, `{}`: a shorter length (the zeros of a lost page, say) is garbage. */
const MIN_RECORD_BYTES = 2;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

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

/** Bytes a record of `payloadBytes` takes in a segment. */
export function framedBytes(payloadBytes: number): number {
  return FRAME_HEADER_BYTES + payloadBytes;
}

export interface ParsedSegment {
  /** Every record whose frame is whole and whose checksum matches, in the order written. */
  records: Buffer[];
  /** Bytes that could not be read as records (a damaged magic, damaged records, a torn tail); 0 when none. */
  skippedBytes: number;
  /** Damaged stretches skipped (a damaged magic is one). */
  damaged: number;
  /**
   * Records lost in the damaged stretches: exact where a length field survived, otherwise
   * estimated from the size of the segment's whole records (at least one per stretch that held
   * record bytes).
   */
  lost: number;
  /** Nothing in the file reads as a spool segment: no magic and no record. */
  foreign: boolean;
}

/**
 * `typicalRecordBytes`: the framed size of a record written lately, for estimating the records a
 * damaged stretch held when none of the segment's records is whole.
 */
export function parseSegment(data: Buffer, typicalRecordBytes?: number): ParsedSegment {
  const magicIntact = data.length >= SEGMENT_MAGIC.length && data.subarray(0, SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC);
  if (data.length <= SEGMENT_MAGIC.length && !magicIntact) {
    // A segment created but killed before its magic was whole holds nothing: not corrupt, just empty.
    const empty = SEGMENT_MAGIC.subarray(0, data.length).equals(data);
    return { records: [], skippedBytes: empty ? 0 : data.length, damaged: empty ? 0 : 1, lost: 0, foreign: !empty };
  }
  const records: Buffer[] = [];
  const stretches: { bytes: number; records: number | undefined }[] = [];
  let recordBytes = 0;
  // A damaged magic costs no record: the frames after it are read all the same.
  let at = magicIntact ? SEGMENT_MAGIC.length : nextFrame(data, 0);
  if (!magicIntact) stretches.push({ bytes: at, records: at <= SEGMENT_MAGIC.length ? 0 : undefined });
  while (at < data.length) {
    const frame = frameAt(data, at);
    if (frame.kind === 'record') {
      records.push(frame.payload);
      recordBytes += frame.end - at;
      at = frame.end;
      continue;
    }
    // A bad checksum under a plausible length: step over that one record if a good frame (or the
    // end of the file) follows it; otherwise the length is garbage too, so look for the next frame.
    const stepOver = frame.kind === 'badChecksum' && (frame.end === data.length || frameAt(data, frame.end).kind === 'record');
    const resume = stepOver ? frame.end : nextFrame(data, at + 1);
    stretches.push({ bytes: resume - at, records: stepOver ? 1 : undefined });
    at = resume;
  }
  const estimate = (bytes: number, average: number) => Math.max(1, Math.round(bytes / average));
  if (!magicIntact && records.length === 0) {
    // Nothing readable from the first byte: a segment whose content is gone (zeros after a crash), or not ours.
    return { records, skippedBytes: data.length, damaged: 1, lost: estimate(data.length, typicalRecordBytes ?? data.length), foreign: true };
  }
  const averageRecord = records.length > 0 ? recordBytes / records.length : (typicalRecordBytes ?? Number.POSITIVE_INFINITY);
  let lost = 0;
  let skippedBytes = 0;
  for (const stretch of stretches) {
    skippedBytes += stretch.bytes;
    lost += stretch.records ?? estimate(stretch.bytes, averageRecord);
  }
  return { records, skippedBytes, damaged: stretches.length, lost, foreign: false };
}

type Frame = { kind: 'record'; payload: Buffer; end: number } | { kind: 'badChecksum'; end: number } | { kind: 'garbage' };

function frameAt(data: Buffer, at: number): Frame {
  if (at + FRAME_HEADER_BYTES > data.length) return { kind: 'garbage' };
  const length = data.readUInt32BE(at);
  const end = at + FRAME_HEADER_BYTES + length;
  if (length < MIN_RECORD_BYTES || length > MAX_RECORD_BYTES || end > data.length) return { kind: 'garbage' };
  const payload = data.subarray(at + FRAME_HEADER_BYTES, end);
  if ((crc32(payload) >>> 0) !== data.readUInt32BE(at + 4)) return { kind: 'badChecksum', end };
  return { kind: 'record', payload, end };
}

/** The first offset from `from` where a whole item frame starts (a JSON object that passes its checksum), or the end. */
function nextFrame(data: Buffer, from: number): number {
  for (let brace = data.indexOf(OPEN_BRACE, from + FRAME_HEADER_BYTES); brace >= 0; brace = data.indexOf(OPEN_BRACE, brace + 1)) {
    const at = brace - FRAME_HEADER_BYTES;
    const length = data.readUInt32BE(at);
    const end = brace + length;
    // Cheap tests first: only a length that ends on a closing brace inside the file is checksummed.
    if (end > data.length || data[end - 1] !== CLOSE_BRACE) continue;
    if (frameAt(data, at).kind === 'record') return at;
  }
  return data.length;
}
