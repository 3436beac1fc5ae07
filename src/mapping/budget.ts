/**
 * The per-field size budget (`maxFieldBytes`). The budget is shared out over a value's parts, the
 * smallest first: parts that fit their share are kept whole, larger ones are cut to theirs, long
 * strings shortened, arrays and objects with too many entries shortened to a prefix plus a marker.
 * A 150 KB image therefore costs its share, not the prompt beside it.
 */
import type { JsonObject, JsonValue } from './item.js';
import { setOwn } from './json.js';
import type { Cut } from './truncate.js';
import { truncateText } from './truncate.js';

/** Room kept for the marker that says how many entries were left out. */
const MARKER_BYTES = 64;
/** Below this share an entry is not worth keeping in part: entries are omitted instead. */
const MIN_SHARE = 32;
/** Replaces an array or object whose share is too small to hold anything. */
const OMITTED = '[omitted]';

export const byteSize = (value: JsonValue) => Buffer.byteLength(JSON.stringify(value));

/**
 * `value` cut to at most `maxBytes` of JSON, the JSON kept valid and every cut recorded in `cuts`
 * (`{ path, original_bytes }`, with a `reason` when entries were left out).
 */
export function fitToBudget(value: JsonObject, maxBytes: number, path: string, cuts: Cut[]): JsonObject {
  const size = byteSize(value);
  if (size <= maxBytes) return value;
  // Shares are estimates (JSON escapes, markers): aim lower until the result fits.
  for (let budget = maxBytes; budget >= 2 * MARKER_BYTES; budget = Math.floor(budget * 0.8)) {
    const attempt: Cut[] = [];
    const fitted = fit(value, budget, path, attempt, size);
    if (fitted !== null && typeof fitted === 'object' && !Array.isArray(fitted) && byteSize(fitted) <= maxBytes) {
      cuts.push(...attempt);
      return fitted;
    }
  }
  cuts.push({ path, original_bytes: size });
  return { sgp_otel_omitted: `field larger than maxFieldBytes (${maxBytes})` };
}

function fit(value: JsonValue, budget: number, path: string, cuts: Cut[], size = byteSize(value)): JsonValue {
  if (size <= budget) return value;
  if (typeof value === 'string') return fitString(value, budget, path, cuts);
  if (value === null || typeof value !== 'object') return null;
  if (budget < MARKER_BYTES) {
    cuts.push({ path, original_bytes: size, reason: 'omitted' });
    return OMITTED;
  }
  return fitContainer(value, budget, path, cuts, size);
}

function fitString(value: string, budget: number, path: string, cuts: Cut[]): string {
  let maxBytes = Math.max(0, budget - 2);
  let cut = truncateText(value, maxBytes);
  // Escaped characters make the JSON longer than the text.
  while (byteSize(cut) > budget && maxBytes > 0) {
    maxBytes = Math.floor(maxBytes * 0.75);
    cut = truncateText(value, maxBytes);
  }
  cuts.push({ path, original_bytes: Buffer.byteLength(value) });
  return cut;
}

interface Entry {
  key: string;
  value: JsonValue;
  /** Bytes around the value: the key and colon of an object entry, and the comma. */
  overhead: number;
  size: number;
}

function fitContainer(container: JsonValue[] | JsonObject, budget: number, path: string, cuts: Cut[], size: number): JsonValue {
  const isArray = Array.isArray(container);
  const keys = isArray ? container.map((_, i) => String(i)) : Object.keys(container);
  const entries: Entry[] = keys.map((key) => {
    const value = isArray ? container[Number(key)]! : container[key]!;
    return { key, value, overhead: isArray ? 1 : byteSize(key) + 2, size: byteSize(value) };
  });
  let available = budget - 2;
  let kept = entries.length;
  const floors = entries.reduce((sum, e) => sum + e.overhead + Math.min(e.size, MIN_SHARE), 0);
  if (floors > available) {
    available -= MARKER_BYTES;
    let used = 0;
    kept = 0;
    while (kept < entries.length && used + entries[kept]!.overhead + Math.min(entries[kept]!.size, MIN_SHARE) <= available) {
      used += entries[kept]!.overhead + Math.min(entries[kept]!.size, MIN_SHARE);
      kept += 1;
    }
    cuts.push({ path, original_bytes: size, reason: `${entries.length - kept} of ${entries.length} entries omitted` });
  }
  const keptEntries = entries.slice(0, kept);
  let remaining = available - keptEntries.reduce((sum, e) => sum + e.overhead, 0);
  const fitted = new Map<Entry, JsonValue>();
  const smallestFirst = [...keptEntries].sort((a, b) => a.size - b.size);
  smallestFirst.forEach((entry, i) => {
    const share = Math.max(0, Math.floor(remaining / (smallestFirst.length - i)));
    const childPath = isArray ? `${path}[${entry.key}]` : path ? `${path}.${entry.key}` : entry.key;
    const value = fit(entry.value, share, childPath, cuts, entry.size);
    fitted.set(entry, value);
    remaining -= value === entry.value ? entry.size : byteSize(value);
  });
  const omitted = entries.length - kept;
  if (isArray) {
    const out = keptEntries.map((entry) => fitted.get(entry)!);
    if (omitted > 0) out.push(`[${omitted} more omitted]`);
    return out;
  }
  const out: JsonObject = {};
  for (const entry of keptEntries) setOwn(out, entry.key, fitted.get(entry)!);
  if (omitted > 0) setOwn(out, 'sgp_otel_omitted', `${omitted} more keys`);
  return out;
}
