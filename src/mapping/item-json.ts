/**
 * An item's JSON text, exactly as `JSON.stringify` writes it (same key order, same escapes, same
 * numbers), but with the fragments every item of a provider shares (its resource, its tracer's
 * scope: a quarter of a small item) written once and reused. SGP's item schema repeats the
 * resource in every item, where OTLP sends it once per batch.
 *
 * Only plain objects are walked here; anything else (arrays, numbers, objects with a `toJSON` or
 * another prototype) is handed to `JSON.stringify` itself, so its rules apply unchanged.
 */
import type { JsonObject } from './item.js';

/** Shared, never mutated, JSON objects -> their text. */
const sharedTexts = new WeakMap<object, string>();

/**
 * Declares `json` shared between items and never to be mutated again (span-to-item's resource and
 * scope conversions), so its text is made once. Returns `json`.
 */
export function shareJson<T extends JsonObject>(json: T): T {
  sharedTexts.set(json, JSON.stringify(json));
  return json;
}

/** `JSON.stringify(value)` for a mapped item (or any value), with shared fragments reused. */
export function jsonText(value: unknown): string {
  return valueText(value) as string;
}

/** A string `JSON.stringify` writes as is between quotes: no quote, backslash, control character or surrogate. */
const NEEDS_ESCAPING = /["\\\u0000-\u001f\ud800-\udfff]/;

const LONG_STRING = 256;

/** Quoted keys ready to write, for the attribute names that come back in every item. */
const keyTexts = new Map<string, string>();
const MAX_KEY_TEXTS = 2000;

function keyText(key: string): string {
  let text = keyTexts.get(key);
  if (text === undefined) {
    text = `${JSON.stringify(key)}:`;
    if (keyTexts.size < MAX_KEY_TEXTS) keyTexts.set(key, text);
  }
  return text;
}

/** The text of `value`, or undefined where `JSON.stringify` leaves a property out. */
function valueText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      // A long text is one native call anyway, and comes back flat rather than as a concatenation.
      return value.length > LONG_STRING || NEEDS_ESCAPING.test(value) ? JSON.stringify(value) : `"${value}"`;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      const shared = sharedTexts.get(value);
      if (shared !== undefined) return shared;
      return isPlainObject(value) ? objectText(value as Record<string, unknown>) : JSON.stringify(value);
    }
    default:
      return JSON.stringify(value);
  }
}

function objectText(object: Record<string, unknown>): string {
  let text = '{';
  let first = true;
  for (const key of Object.keys(object)) {
    const value = valueText(object[key]);
    if (value === undefined) continue;
    text += first ? keyText(key) + value : `,${keyText(key)}${value}`;
    first = false;
  }
  return `${text}}`;
}

function isPlainObject(value: object): boolean {
  if (Array.isArray(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
