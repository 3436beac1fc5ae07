import type { JsonObject, JsonValue } from './item.js';

/**
 * Sets `key` as an own, enumerable property even when it is `__proto__`, so attribute keys taken
 * from user data stay data and never change an object's prototype.
 */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  // Only "__proto__" is special on assignment; defining every key would cost 4x on the export path.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** An OpenTelemetry attribute value as JSON: non-finite numbers become strings, `undefined` in arrays `null`. */
export function attributeToJson(value: unknown): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'undefined':
      return undefined;
    default:
      if (value === null) return null;
      if (Array.isArray(value)) return value.map((element) => attributeToJson(element) ?? null);
      // Not a valid attribute value; the SDK normally filters these. Keep a readable trace of it.
      return String(value);
  }
}

/** Attributes as a JSON object, skipping keys for which `skip` is true. */
export function attributesToJson(
  attributes: Record<string, unknown> | undefined,
  skip?: (key: string) => boolean,
): JsonObject {
  const out: JsonObject = {};
  if (!attributes) return out;
  for (const key of Object.keys(attributes)) {
    if (skip?.(key)) continue;
    const value = attributeToJson(attributes[key]);
    if (value !== undefined) setOwn(out, key, value);
  }
  return out;
}

/**
 * An `input`/`output` field from an attribute: JSON text is parsed, text that is not JSON is kept
 * as text, and anything that is not a JSON object is wrapped as `{ value }` (SGP requires objects).
 */
export function toJsonObjectField(value: unknown): JsonObject {
  let parsed: JsonValue | undefined = attributeToJson(value);
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('{') || text.startsWith('[')) {
      try {
        parsed = JSON.parse(text) as JsonValue;
      } catch {
        parsed = value;
      }
    }
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  const wrapped: JsonObject = {};
  if (parsed !== undefined) wrapped.value = parsed;
  return wrapped;
}
