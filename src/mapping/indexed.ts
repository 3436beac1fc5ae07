/**
 * Flattened indexed attributes (`gen_ai.prompt.0.role`, `llm.input_messages.1.message.content`,
 * `gen_ai.completion.0.tool_calls.0.name`) rebuilt as JSON. The cost follows the attributes given:
 * indexes are collected, sorted and compacted, never used as array positions (an index of 10^8
 * would otherwise allocate a sparse array of that length), and key paths nest at most
 * `MAX_JSON_DEPTH` levels.
 */
import type { Attributes } from '@opentelemetry/api';
import type { JsonObject, JsonValue } from './item.js';
import { MAX_JSON_DEPTH, setOwn } from './json.js';

/** An intermediate node: children by path segment, or the attribute's value. */
type Node = Map<string, Node> | { leaf: JsonValue };

const INDEX = /^\d+$/;

/**
 * The entries whose key starts with `prefix` followed by an integer index, as a dense array of
 * objects in index order. `parse` turns each attribute value into JSON.
 */
export function rebuildIndexed(attrs: Attributes, prefix: string, parse: (value: unknown) => JsonValue | undefined): JsonObject[] {
  const root = new Map<string, Node>();
  for (const key of Object.keys(attrs)) {
    if (!key.startsWith(prefix)) continue;
    const path = pathOf(key.slice(prefix.length));
    if (path.length < 2 || !INDEX.test(path[0]!)) continue;
    let node = root;
    for (let i = 0; i < path.length - 1; i += 1) {
      const existing = node.get(path[i]!);
      const next: Node = existing instanceof Map ? existing : new Map();
      if (next !== existing) node.set(path[i]!, next);
      node = next;
    }
    const last = path[path.length - 1]!;
    // A value never replaces a branch already built from longer keys.
    if (!(node.get(last) instanceof Map)) node.set(last, { leaf: parse(attrs[key]) ?? null });
  }
  const items: JsonObject[] = [];
  for (const index of sortedIndexes(root)) {
    const value = toJson(root.get(index)!);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) items.push(value);
  }
  return items;
}

/** Path segments; those beyond `MAX_JSON_DEPTH` stay joined in the last segment, so depth is bounded. */
function pathOf(rest: string): string[] {
  const segments = rest.split('.', MAX_JSON_DEPTH);
  if (segments.length === MAX_JSON_DEPTH) {
    const head = segments.slice(0, MAX_JSON_DEPTH - 1).join('.');
    segments[MAX_JSON_DEPTH - 1] = rest.slice(head.length + 1);
  }
  return segments;
}

function sortedIndexes(node: Map<string, Node>): string[] {
  return [...node.keys()].filter((key) => INDEX.test(key)).sort(compareIndexes);
}

/** Numeric order on digit strings of any length (no precision loss past 2^53). */
function compareIndexes(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}

/** A node whose keys are all indexes becomes a dense array in index order; others an object. */
function toJson(node: Node): JsonValue {
  if (!(node instanceof Map)) return node.leaf;
  const keys = [...node.keys()];
  if (keys.length > 0 && keys.every((key) => INDEX.test(key))) return sortedIndexes(node).map((key) => toJson(node.get(key)!));
  const out: JsonObject = {};
  for (const key of keys) setOwn(out, key, toJson(node.get(key)!));
  return out;
}
