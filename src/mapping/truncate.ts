import type { JsonObject, JsonValue } from './item.js';
import { setOwn } from './json.js';

/** Where a string was cut, and how long it was (UTF-8 bytes). */
export interface Cut {
  path: string;
  original_bytes: number;
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
 */
export function truncateStrings(value: JsonValue, maxStringBytes: number, path: string, cuts: Cut[]): JsonValue {
  if (typeof value === 'string') {
    const bytes = Buffer.byteLength(value);
    if (bytes <= maxStringBytes) return value;
    cuts.push({ path, original_bytes: bytes });
    return truncateText(value, maxStringBytes);
  }
  if (Array.isArray(value)) return value.map((element, i) => truncateStrings(element, maxStringBytes, `${path}[${i}]`, cuts));
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const key of Object.keys(value)) {
      setOwn(out, key, truncateStrings(value[key]!, maxStringBytes, path ? `${path}.${key}` : key, cuts));
    }
    return out;
  }
  return value;
}
