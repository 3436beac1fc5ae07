import type { JsonObject, JsonValue } from './item.js';
import { MAX_WALK_DEPTH, setOwn, TOO_DEEP } from './json.js';

/** Where a value was cut, and how long it was (UTF-8 bytes of its JSON; 0 when not measured). */
export interface Cut {
  path: string;
  original_bytes: number;
  /** Why, when it was not simply a long string: `items omitted`, `nested too deep`. */
  reason?: string;
}

const ELLIPSIS = '…';

/** `text` cut to at most `maxBytes` UTF-8 bytes (ellipsis included) without splitting a character. */
export function truncateText(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const budget = Math.max(0, maxBytes - Buffer.byteLength(ELLIPSIS));
  // Decoding a cut byte sequence may end in U+FFFD (half a character): drop that.
  const cut = Buffer.from(text).subarray(0, budget).toString('utf8').replace(/\uFFFD+$/, '');
  return `${cut}${ELLIPSIS}`;
}

/**
 * A copy of `value` in which every string longer than `maxStringBytes` is cut, the structure kept,
 * so the JSON stays valid. Each cut is recorded in `cuts` with its path (`input.messages[0].content`).
 * Values nested deeper than `MAX_WALK_DEPTH` become `TOO_DEEP` (recorded as a cut too).
 */
export function truncateStrings(value: JsonValue, maxStringBytes: number, path: string, cuts: Cut[]): JsonValue {
  return truncateAt(value, maxStringBytes, path, cuts, 0);
}

function truncateAt(value: JsonValue, maxStringBytes: number, path: string, cuts: Cut[], depth: number): JsonValue {
  if (typeof value === 'string') {
    const bytes = Buffer.byteLength(value);
    if (bytes <= maxStringBytes) return value;
    cuts.push({ path, original_bytes: bytes });
    return truncateText(value, maxStringBytes);
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_WALK_DEPTH) {
    cuts.push({ path, original_bytes: 0, reason: 'nested too deep' });
    return TOO_DEEP;
  }
  if (Array.isArray(value)) return value.map((element, i) => truncateAt(element, maxStringBytes, `${path}[${i}]`, cuts, depth + 1));
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    setOwn(out, key, truncateAt(value[key]!, maxStringBytes, path ? `${path}.${key}` : key, cuts, depth + 1));
  }
  return out;
}
