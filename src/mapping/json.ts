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

/**
 * JSON parsed from attribute text nests at most this deep: deeper text is kept as the string it
 * was. Mapping wraps parsed values in a few levels at most, so items stay far below
 * `MAX_WALK_DEPTH`, the bound every walk over JSON (and `JSON.stringify`) can rely on.
 */
export const MAX_JSON_DEPTH = 128;
/** How deep truncation, content removal, masking and budgets walk; deeper values become `TOO_DEEP`. */
export const MAX_WALK_DEPTH = 2 * MAX_JSON_DEPTH;
/** Replaces a value nested deeper than `MAX_WALK_DEPTH` (only a mask's result can be). */
export const TOO_DEEP = '[nested too deep]';

/** Whether `value` nests at most `maxDepth` levels (a scalar is 0). Iterative: safe on any depth. */
export function depthWithin(value: JsonValue, maxDepth: number): boolean {
  const stack: [JsonValue, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > maxDepth) return false;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return true;
}

/** `text` parsed as JSON, or undefined when it is not JSON or nests deeper than `MAX_JSON_DEPTH`. */
export function parseJsonText(text: string): JsonValue | undefined {
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(text) as JsonValue;
  } catch {
    return undefined;
  }
  return depthWithin(parsed, MAX_JSON_DEPTH) ? parsed : undefined;
}

/**
 * `value` unchanged when it nests at most `maxDepth` levels, else a copy in which everything below
 * that depth is `TOO_DEEP`, so later walks and `JSON.stringify` cannot exhaust the stack.
 */
export function clampDepth(value: JsonValue, maxDepth = MAX_WALK_DEPTH): JsonValue {
  return depthWithin(value, maxDepth) ? value : clampCopy(value, maxDepth);
}

function clampCopy(value: JsonValue, levelsLeft: number): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  if (levelsLeft === 0) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((element) => clampCopy(element, levelsLeft - 1));
  const out: JsonObject = {};
  for (const key of Object.keys(value)) setOwn(out, key, clampCopy(value[key]!, levelsLeft - 1));
  return out;
}

/** An OpenTelemetry attribute value as JSON: non-finite numbers become strings, `undefined` in arrays `null`. */
export function attributeToJson(value: unknown, depth = 0): JsonValue | undefined {
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
      // The SDK only stores flat arrays; a hand-made span may nest them, so the depth is bounded.
      if (Array.isArray(value)) {
        return depth >= MAX_JSON_DEPTH ? TOO_DEEP : value.map((element) => attributeToJson(element, depth + 1) ?? null);
      }
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
    if (text.startsWith('{') || text.startsWith('[')) parsed = parseJsonText(text) ?? value;
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed;
  const wrapped: JsonObject = {};
  if (parsed !== undefined) wrapped.value = parsed;
  return wrapped;
}
