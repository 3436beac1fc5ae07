/**
 * From records to request bodies: each span is mapped, prepared (content capture, mask, size
 * budget) and serialized once, in a loop that yields to the event loop; the JSON texts are then
 * written, as UTF-8, straight into one buffer per request of at most 1000 items and
 * `maxBatchBytes`. Each record's bytes are a view into its request's buffer.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../clock.js';
import type { BodyPool } from './body-pool.js';
import type { ByteSlab } from './byte-slab.js';
import { SERVER_MAX_ITEMS_PER_REQUEST } from '../config.js';
import type { ResourceAttributeFilter } from '../config.js';
import type { JsonObject, SGPSpanItem } from '../mapping/item.js';
import type { MaskFunction } from '../mapping/prepare.js';
import { markTruncated, prepareItem } from '../mapping/prepare.js';
import { jsonText } from '../mapping/item-json.js';
import { toSGPSpanItem } from '../mapping/span-to-item.js';
import type { Cut } from '../mapping/truncate.js';
import { truncateStrings } from '../mapping/truncate.js';

/** One thing to send: a span, as finished or (`inProgress`) as still running. */
export interface ExportRecord {
  span: ReadableSpan;
  inProgress: boolean;
  /** Send this parent id instead of the span's own (null: none), when a filter dropped its parent. */
  parentId?: string | null;
}

export interface EncodedRecord {
  /** Position of the record in the export call. */
  index: number;
  /** What was encoded. */
  source: ExportRecord;
  /**
   * The item, kept only when mapping the span again would not give it back (it was prepared, or
   * the span is still running); else {@link itemOf} maps it again. Items in flight are not held
   * twice in memory: their bytes are.
   */
  item: SGPSpanItem | undefined;
  /** The item's JSON as UTF-8. */
  body: Buffer;
  shrunk: boolean;
}

/** One request: its body, and each record's bytes as a view into that body. */
export interface RequestChunk {
  body: Buffer;
  records: EncodedRecord[];
  /** A record's bytes were asked for (a retry later, a split, the spool): the body must outlive this request. */
  viewed: boolean;
}

/** An item's JSON text, before it is written into a request. */
interface EncodedText {
  index: number;
  source: ExportRecord;
  item: SGPSpanItem | undefined;
  /** Large texts as UTF-8 at once (see {@link LARGE_TEXT_BYTES}). */
  json: string | Buffer;
  bytes: number;
}

/**
 * Texts at least this long are turned into bytes as soon as they are made. A batch of LLM texts
 * kept as strings until their request is written survives the young-generation collections in
 * between, each of which copies them all (pauses of 15-40 ms with 100 KB items); bytes live
 * outside the JavaScript heap and are never copied by a collection.
 */
const LARGE_TEXT_BYTES = 16 * 1024;

export interface EncodeOptions {
  captureContent: boolean;
  mask: MaskFunction | undefined;
  maxFieldBytes: number;
  clock: Clock;
  /** An async mask (and a resource's async attributes) must be ready by then: half the export's time, so the other half is left for sending. */
  maskDeadline: number;
  resourceAttributes: ResourceAttributeFilter;
  /** Where large texts become bytes (see {@link LARGE_TEXT_BYTES}); without one, a buffer each. */
  slab?: ByteSlab;
  /** Where request bodies come from, given back by the exporter once sent; without one, the allocator. */
  bodies?: BodyPool;
}

/** Bytes serialized between two yields to the event loop (about 1 ms of JSON.stringify). */
const YIELD_AFTER_BYTES = 64 * 1024;
/** A single item refused as too large is sent once more with its strings cut to this many bytes. */
export const SHRUNK_STRING_BYTES = 2048;

/**
 * Encodes every record it can. A record that cannot be mapped or serialized is reported in
 * `failed` with the reason, and never takes its batch-mates down.
 */
export async function encodeRecords(
  records: readonly ExportRecord[],
  options: EncodeOptions,
): Promise<{ encoded: EncodedRecord[]; failed: { index: number; error: Error }[] }> {
  const { encoded, failed } = await encodeTexts(records, options);
  return {
    encoded: encoded.map(({ json, ...rest }) => ({ ...rest, body: typeof json === 'string' ? Buffer.from(json) : json, shrunk: false })),
    failed,
  };
}

/**
 * Encodes every record it can, straight into request bodies of at most 1000 items and
 * `maxBatchBytes` (unless one item alone is larger). Failures as in {@link encodeRecords}.
 */
export async function encodeRequests(
  records: readonly ExportRecord[],
  options: EncodeOptions,
  maxBatchBytes: number,
): Promise<{ chunks: RequestChunk[]; encoded: number; failed: { index: number; error: Error }[] }> {
  const { encoded, failed } = await encodeTexts(records, options);
  const chunks: RequestChunk[] = [];
  for (const texts of requestChunks(encoded, maxBatchBytes, (text) => text.bytes)) {
    chunks.push(await writeRequest(texts, options));
    // Copied into the body: the texts' slab room can serve the next ones.
    for (const text of texts) if (typeof text.json !== 'string') options.slab?.release(text.json);
  }
  return { chunks, encoded: encoded.length, failed };
}

/** The item of an encoded record: the one kept, or the span mapped again (mapping is pure, and the span has ended). */
export function itemOf(record: EncodedRecord, resourceAttributes: ResourceAttributeFilter): SGPSpanItem {
  return record.item ?? toSGPSpanItem(record.source.span, mappingOptions(record.source, { resourceAttributes }));
}

function mappingOptions(record: ExportRecord, options: { resourceAttributes: ResourceAttributeFilter }) {
  return { inProgress: record.inProgress, parentId: record.parentId, resourceAttributes: options.resourceAttributes };
}

/**
 * One request body written from the items' texts, with each record's bytes a view into it; yields
 * like the encoding loop.
 */
async function writeRequest(texts: EncodedText[], options: EncodeOptions): Promise<RequestChunk> {
  let size = BODY_OPEN.length + BODY_CLOSE.length + Math.max(0, texts.length - 1);
  for (const text of texts) size += text.bytes;
  const body = options.bodies ? options.bodies.take(size) : Buffer.allocUnsafe(size);
  const records: EncodedRecord[] = [];
  const chunk: RequestChunk = { body, records, viewed: false };
  let at = BODY_OPEN.copy(body, 0);
  let sinceYield = 0;
  for (let i = 0; i < texts.length; i += 1) {
    // Encoding megabytes of LLM text into the body in one go would hold the event loop.
    if (sinceYield >= YIELD_AFTER_BYTES) {
      sinceYield = 0;
      await options.clock.yield();
    }
    const text = texts[i]!;
    if (i > 0) at += BODY_COMMA.copy(body, at);
    const written = typeof text.json === 'string' ? body.write(text.json, at) : text.json.copy(body, at);
    records.push(new RequestRecord(text, chunk, at, at + written));
    at += written;
    sinceYield += written;
  }
  BODY_CLOSE.copy(body, at);
  return chunk;
}

/** A record written into a request body: its bytes are made a view of that body only when asked for (a retry, a split, the spool). */
class RequestRecord implements EncodedRecord {
  readonly index: number;
  readonly source: ExportRecord;
  readonly item: SGPSpanItem | undefined;
  readonly shrunk = false;

  constructor(
    text: EncodedText,
    private readonly request: RequestChunk,
    private readonly start: number,
    private readonly end: number,
  ) {
    this.index = text.index;
    this.source = text.source;
    this.item = text.item;
  }

  get body(): Buffer {
    this.request.viewed = true;
    return this.request.body.subarray(this.start, this.end);
  }
}

async function encodeTexts(
  records: readonly ExportRecord[],
  options: EncodeOptions,
): Promise<{ encoded: EncodedText[]; failed: { index: number; error: Error }[] }> {
  const encoded: EncodedText[] = [];
  const failed: { index: number; error: Error }[] = [];
  await settleResources(records, options);
  let sinceYield = 0;
  for (let index = 0; index < records.length; index += 1) {
    const record = records[index]!;
    // Serializing big LLM spans back to back would hold the event loop: let it breathe.
    if (sinceYield >= YIELD_AFTER_BYTES) {
      sinceYield = 0;
      await options.clock.yield();
    }
    try {
      const encoding = encodeOne(record, index, options);
      // Only items that need preparing (mask, content capture, size budget) are awaited.
      const next = encoding instanceof Promise ? await encoding : encoding;
      sinceYield += next.bytes;
      if (next.bytes >= LARGE_TEXT_BYTES && typeof next.json === 'string') {
        next.json = options.slab ? options.slab.write(next.json, next.bytes) : Buffer.from(next.json);
      }
      encoded.push(next);
    } catch (error) {
      failed.push({ index, error: new Error(`span ${spanLabel(record.span)} could not be mapped to an SGP item: ${messageOf(error)}`) });
    }
  }
  return { encoded, failed };
}

/**
 * The item as it will be sent: mapped, then (only when needed) stripped of content, masked and
 * cut to maxFieldBytes. Throws if any of it fails: the span is then dropped, never sent unmasked.
 */
function encodeOne(record: ExportRecord, index: number, options: EncodeOptions): EncodedText | Promise<EncodedText> {
  const { captureContent, mask, maxFieldBytes, clock, maskDeadline } = options;
  const item = toSGPSpanItem(record.span, mappingOptions(record, options));
  // Straight from the mapping: plain JSON objects only, so the serializer that reuses the shared resource and scope texts applies.
  const json = itemJson(item, jsonText);
  const bytes = Buffer.byteLength(json);
  if (captureContent && mask === undefined && bytes <= maxFieldBytes) {
    // A running span may change before a 413 asks for its item again: keep that one.
    const remappable = !record.inProgress && record.span.ended !== false;
    return { index, source: record, item: remappable ? undefined : item, json, bytes };
  }
  const maskTimeoutMillis = Math.max(0, maskDeadline - clock.now());
  return prepareItem(item, record.span, { captureContent, mask, maxFieldBytes, maskTimeoutMillis, clock }).then((prepared) => {
    const preparedJson = itemJson(prepared);
    return { index, source: record, item: prepared, json: preparedJson, bytes: Buffer.byteLength(preparedJson) };
  });
}

/**
 * Resources whose attributes are still being detected (NodeSDK's async detectors) are waited for,
 * up to the mask deadline, so items carry the whole resource and reading it early warns nothing.
 */
async function settleResources(records: readonly ExportRecord[], options: EncodeOptions): Promise<void> {
  const pending = new Set<PendingResource>();
  for (const { span } of records) {
    try {
      const resource = span.resource as PendingResource | undefined;
      if (resource?.asyncAttributesPending && typeof resource.waitForAsyncAttributes === 'function') pending.add(resource);
    } catch {
      // An unreadable span is reported when it is mapped.
    }
  }
  if (pending.size === 0) return;
  const { clock, maskDeadline } = options;
  let cancel = (): void => undefined;
  const timeout = new Promise<void>((resolve) => {
    cancel = clock.schedule(resolve, Math.max(0, maskDeadline - clock.now()));
  });
  const settled = Promise.all([...pending].map((resource) => Promise.resolve(resource.waitForAsyncAttributes!()).catch(() => undefined)));
  await Promise.race([settled, timeout]);
  cancel();
}

interface PendingResource {
  asyncAttributesPending?: boolean;
  waitForAsyncAttributes?: () => Promise<void>;
}

/** Requests of at most 1000 items and (unless one item alone is larger) `maxBatchBytes` of body. */
export function requestChunks<T>(
  encoded: readonly T[],
  maxBatchBytes: number,
  bytesOf: (record: T) => number = (record) => (record as { body: Buffer }).body.length,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const record of encoded) {
    const bytes = bytesOf(record);
    const full = current.length >= SERVER_MAX_ITEMS_PER_REQUEST || size + bytes + 1 > maxBatchBytes;
    if (current.length > 0 && full) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(record);
    size += bytes + 1;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

const BODY_OPEN = Buffer.from('{"items":[');
const BODY_COMMA = Buffer.from(',');
const BODY_CLOSE = Buffer.from(']}');

export function requestBody(records: readonly { body: Buffer }[]): Buffer {
  const parts: Buffer[] = [BODY_OPEN];
  records.forEach((record, i) => {
    if (i > 0) parts.push(BODY_COMMA);
    parts.push(record.body);
  });
  parts.push(BODY_CLOSE);
  return Buffer.concat(parts);
}

/** `record` with every string in its input, output and metadata cut short, marked; undefined if nothing was long. */
export function shrink(record: EncodedRecord, original: SGPSpanItem): EncodedRecord | undefined {
  const cuts: Cut[] = [];
  const { input, output, metadata } = original;
  const item: SGPSpanItem = {
    ...original,
    input: truncateStrings(input, SHRUNK_STRING_BYTES, 'input', cuts) as JsonObject,
    output: truncateStrings(output, SHRUNK_STRING_BYTES, 'output', cuts) as JsonObject,
    metadata: truncateStrings(metadata, SHRUNK_STRING_BYTES, 'metadata', cuts) as JsonObject,
  };
  if (cuts.length === 0) return undefined;
  markTruncated(item.metadata, cuts, { truncated_after: 'HTTP 413' });
  return { index: record.index, source: record.source, item, body: Buffer.from(itemJson(item)), shrunk: true };
}

/**
 * SGP refuses a NUL or a lone surrogate anywhere in an item (a 400 for the whole batch).
 * JSON.stringify writes exactly those as `\u0000` and `\udXXX` escapes (a well-formed pair is
 * written as is), so they are found in the text, not by walking the item, and become U+FFFD. The
 * lookbehind skips an escaped backslash followed by the letters `u0000`, which is ordinary text.
 */
const UNSENDABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;

function itemJson(item: SGPSpanItem, stringify: (value: unknown) => string = JSON.stringify): string {
  const json = stringify(item);
  return json.includes('\\u') ? json.replace(UNSENDABLE_ESCAPE, '$1\\ufffd') : json;
}

function spanLabel(span: ReadableSpan): string {
  try {
    return `"${span.name}" (${span.spanContext().spanId})`;
  } catch {
    return '(unidentifiable)';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
