/**
 * From records to request bodies: each span is mapped, prepared (content capture, mask, size
 * budget) and serialized once, in a loop that yields to the event loop; each JSON text is written,
 * as UTF-8, straight into its request's body (request-writer.ts), one body per request of at most
 * 1000 items and `maxBatchBytes`. From then on the item is its bytes: the record is let go, so a
 * span in flight is not held twice (as a span and as bytes), and a 413 reads the item back from
 * them.
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../clock.js';
import type { BodyPool } from './body-pool.js';
import type { EncodeTurns } from './encode-turns.js';
import { YIELD_AFTER_BYTES } from './encode-turns.js';
import { SERVER_MAX_ITEMS_PER_REQUEST } from '../config.js';
import type { EncodedText, RequestChunk } from './request-writer.js';
export type { RequestChunk } from './request-writer.js';
import { BODY_CLOSE, BODY_OPEN, ENVELOPE, RequestWriter } from './request-writer.js';
import type { ResourceAttributeFilter } from '../config.js';
import type { JsonObject, SGPSpanItem } from '../mapping/item.js';
import type { MaskFunction } from '../mapping/prepare.js';
import { markTruncated, prepareItem } from '../mapping/prepare.js';
import { jsonText } from '../mapping/item-json.js';
import { toSGPSpanItem } from '../mapping/span-to-item.js';
import type { Cut } from '../mapping/truncate.js';
import { truncateStrings } from '../mapping/truncate.js';

/** One thing to send: a span, as finished or (`inProgress`) as still running. */
export interface SpanRecord {
  span: ReadableSpan;
  inProgress: boolean;
  /** Send this parent id instead of the span's own (null: none), when a filter dropped its parent. */
  parentId?: string | null;
}

/**
 * An item an earlier export already encoded (and could not deliver): sent again as these bytes,
 * neither mapped nor masked again.
 */
export class EncodedItem {
  constructor(readonly bytes: Buffer) {}
}

export type ExportRecord = SpanRecord | EncodedItem;

export interface EncodedRecord {
  /** Position of the record in the export call. */
  index: number;
  /** The item's JSON as UTF-8: a view, good until the request is done. */
  body: Buffer;
  /** A copy of {@link body} to keep. */
  bytes(): Buffer;
  shrunk: boolean;
}

export interface EncodeOptions {
  captureContent: boolean;
  mask: MaskFunction | undefined;
  maxFieldBytes: number;
  clock: Clock;
  /** An async mask (and a resource's async attributes) must be ready by then: half the export's time, so the other half is left for sending. */
  maskDeadline: number;
  resourceAttributes: ResourceAttributeFilter;
  /** Where request bodies come from, given back by the exporter once sent; without one, the allocator. */
  bodies?: BodyPool;
  /** Shared by the exports of one exporter: one of them encodes at a time (see encode-turns.ts). */
  turns?: EncodeTurns;
  /** Asked before each record: true once the exporter was shut down, and the rest is not worth encoding. */
  stopped?: () => boolean;
}

/** A single item refused as too large is sent once more with its strings cut to this many bytes. */
export const SHRUNK_STRING_BYTES = 2048;

/**
 * Encodes every record it can. A record that cannot be mapped or serialized is reported in
 * `failed` with the reason, and never takes its batch-mates down.
 */
export async function encodeRecords(
  records: readonly SpanRecord[],
  options: EncodeOptions,
): Promise<{ encoded: { index: number; body: Buffer }[]; failed: { index: number; error: Error }[] }> {
  const encoded: { index: number; body: Buffer }[] = [];
  const { failed } = await encodeTexts(records, options, ({ index, json }) => {
    encoded.push({ index, body: typeof json === 'string' ? Buffer.from(json) : json });
  });
  return { encoded, failed };
}

/**
 * Encodes every record it can, straight into request bodies of at most 1000 items and
 * `maxBatchBytes` (unless one item alone is larger). Failures as in {@link encodeRecords}. Each
 * record written is let go: its slot in `records` becomes undefined; what is left there afterwards
 * was never encoded (it failed, or encoding stopped).
 */
export async function encodeRequests(
  records: (ExportRecord | undefined)[],
  options: EncodeOptions,
  maxBatchBytes: number,
): Promise<{ chunks: RequestChunk[]; encoded: number; failed: { index: number; error: Error }[]; stopped: number[] }> {
  const writer = new RequestWriter(maxBatchBytes, options.bodies);
  let encoded = 0;
  const { failed, stopped } = await encodeTexts(records, options, (text) => {
    writer.write(text, records.length - text.index);
    records[text.index] = undefined;
    encoded += 1;
  });
  return { chunks: writer.finish(), encoded, failed, stopped };
}

/** An item read back from the bytes it was sent as. */
export function itemOf(body: Buffer): SGPSpanItem {
  return JSON.parse(body.toString('utf8')) as SGPSpanItem;
}

function mappingOptions(record: SpanRecord, options: { resourceAttributes: ResourceAttributeFilter }) {
  return { inProgress: record.inProgress, parentId: record.parentId, resourceAttributes: options.resourceAttributes };
}

/**
 * Encodes each record in turn and hands its text to `take`, which must be done with it. Returns
 * the records that failed, and those left unencoded because `options.stopped()` said so.
 */
async function encodeTexts(
  records: readonly (ExportRecord | undefined)[],
  options: EncodeOptions,
  take: (text: EncodedText) => void,
): Promise<{ failed: { index: number; error: Error }[]; stopped: number[] }> {
  const failed: { index: number; error: Error }[] = [];
  const stopped: number[] = [];
  await settleResources(records, options);
  const line = options.turns;
  await line?.enter();
  try {
    let sinceYield = 0;
    for (let index = 0; index < records.length; index += 1) {
      if (options.stopped?.()) {
        for (let rest = index; rest < records.length; rest += 1) stopped.push(rest);
        break;
      }
      const record = records[index]!;
      // Mapping and serializing big LLM spans back to back would hold the event loop: let it breathe.
      if (sinceYield >= YIELD_AFTER_BYTES) {
        sinceYield = 0;
        await (line ? line.pass() : options.clock.yield());
      }
      let text: EncodedText;
      if (record instanceof EncodedItem) {
        text = { index, json: record.bytes, bytes: record.bytes.length };
      } else {
        try {
          const encoding = encodeOne(record, index, options);
          if (encoding instanceof Promise) {
            // Only items that need preparing (mask, content capture, size budget) are awaited; an
            // async mask may take a while, and other exports may encode meanwhile.
            line?.leave();
            try {
              text = await encoding;
            } finally {
              await line?.enter();
            }
          } else {
            text = encoding;
          }
        } catch (error) {
          failed.push({ index, error: new Error(`span ${spanLabel(record.span)} could not be mapped to an SGP item: ${messageOf(error)}`) });
          continue;
        }
      }
      // The work is the span's text read and parsed as much as the item written: an item stripped
      // of content (captureContent: false, a mask, the size budget) can be far smaller than it.
      const work = record instanceof EncodedItem ? text.bytes : Math.max(text.bytes, textIn(record.span));
      take(text);
      if (line) sinceYield = line.spend(work) ? YIELD_AFTER_BYTES : 0;
      else sinceYield += work;
    }
  } finally {
    line?.leave();
  }
  return { failed, stopped };
}

/** About how much text mapping `span` reads: the strings of its attributes and of its events' attributes. */
function textIn(span: ReadableSpan): number {
  try {
    let length = stringsIn(span.attributes);
    for (const event of span.events) length += stringsIn(event.attributes);
    return length;
  } catch {
    return 0;
  }
}

function stringsIn(attributes: Record<string, unknown> | undefined): number {
  let length = 0;
  if (attributes === undefined) return length;
  for (const key in attributes) {
    const value = attributes[key];
    if (typeof value === 'string') length += value.length;
    else if (Array.isArray(value)) for (const element of value) if (typeof element === 'string') length += element.length;
  }
  return length;
}

/**
 * The item as it will be sent: mapped, then (only when needed) stripped of content, masked and
 * cut to maxFieldBytes. Throws if any of it fails: the span is then dropped, never sent unmasked.
 */
function encodeOne(record: SpanRecord, index: number, options: EncodeOptions): EncodedText | Promise<EncodedText> {
  const { captureContent, mask, maxFieldBytes, clock, maskDeadline } = options;
  const item = toSGPSpanItem(record.span, mappingOptions(record, options));
  // Straight from the mapping: plain JSON objects only, so the serializer that reuses the shared resource and scope texts applies.
  const json = itemJson(item, jsonText);
  const bytes = Buffer.byteLength(json);
  if (captureContent && mask === undefined && bytes <= maxFieldBytes) return { index, json, bytes };
  const maskTimeoutMillis = Math.max(0, maskDeadline - clock.now());
  return prepareItem(item, record.span, { captureContent, mask, maxFieldBytes, maskTimeoutMillis, clock }).then((prepared) => {
    const preparedJson = itemJson(prepared);
    return { index, json: preparedJson, bytes: Buffer.byteLength(preparedJson) };
  });
}

/**
 * Resources whose attributes are still being detected (NodeSDK's async detectors) are waited for,
 * up to the mask deadline, so items carry the whole resource and reading it early warns nothing.
 */
async function settleResources(records: readonly (ExportRecord | undefined)[], options: EncodeOptions): Promise<void> {
  const pending = new Set<PendingResource>();
  for (const record of records) {
    if (record === undefined || record instanceof EncodedItem) continue;
    try {
      const resource = record.span.resource as PendingResource | undefined;
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
export function requestChunks<T extends { body: Buffer }>(encoded: readonly T[], maxBatchBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const record of encoded) {
    const bytes = record.body.length;
    const full = current.length >= SERVER_MAX_ITEMS_PER_REQUEST || ENVELOPE + size + bytes > maxBatchBytes;
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

const BODY_COMMA = Buffer.from(',');

export function requestBody(records: readonly { body: Buffer }[]): Buffer {
  const parts: Buffer[] = [BODY_OPEN];
  records.forEach((record, i) => {
    if (i > 0) parts.push(BODY_COMMA);
    parts.push(record.body);
  });
  parts.push(BODY_CLOSE);
  return Buffer.concat(parts);
}

/**
 * The bytes of `original` with every string in its input, output and metadata cut short and
 * marked (for a single item SGP refused as too large); undefined if nothing was long.
 */
export function shrunkBody(original: SGPSpanItem): Buffer | undefined {
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
  return Buffer.from(itemJson(item));
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
