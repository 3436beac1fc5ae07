/**
 * The last step before an item leaves the process: content capture, the user's mask, and the
 * per-field size budget, in that order (so the budget applies to what is really sent).
 */
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../clock.js';
import type { JsonObject, JsonValue, SGPSpanItem } from './item.js';
import { clampDepth, MAX_WALK_DEPTH, setOwn } from './json.js';
import { carriesLlmContent, errorsWithoutContent, fieldWithoutContent, metadataWithoutContent, NOT_CAPTURED } from './without-content.js';
import { isGenAISpan } from './conventions.js';
import type { Cut } from './truncate.js';
import { fitToBudget } from './budget.js';

export type MaskField = 'input' | 'output' | 'metadata' | 'name' | 'group_id';

/**
 * Rewrites a value before it is sent: called with the whole `input` and `output` objects, with
 * every string in `metadata` (events included, with its `path`), with every attribute key in
 * `metadata` (span, event, link and resource attributes; `key: true`, and the result must be a
 * non-empty string), and with the span's `name` and `group_id`. May be async.
 */
export type MaskFunction = (value: JsonValue, context: MaskContext) => JsonValue | Promise<JsonValue>;

export interface MaskContext {
  field: MaskField;
  path: string;
  span: ReadableSpan;
  /** True when `value` is an attribute key in `metadata` (at `path`), not a value. */
  key?: boolean;
}

export interface PrepareOptions {
  captureContent: boolean;
  mask: MaskFunction | undefined;
  maxFieldBytes: number;
  /** How long an async mask may take before the field fails closed. */
  maskTimeoutMillis: number;
  /** Times the mask. */
  clock: Clock;
}

export { NOT_CAPTURED };
/** Replaces a field (or a metadata string) whose mask threw, returned nothing, or timed out. */
export const MASK_FAILED = '[mask failed]';

function asObject(value: JsonValue | undefined): JsonObject {
  if (value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value)) return value;
  return value === undefined ? { value: MASK_FAILED } : { value };
}

/**
 * `work`, or TIMED_OUT once `deadline` passes; any thenable counts, not only a native promise.
 * Past the deadline a thenable that settles at once (an async mask with nothing to wait for) is
 * still taken: the timeout comes on a later turn of the event loop.
 */
async function byDeadline<T>(work: T | PromiseLike<T>, deadline: number, clock: Clock): Promise<T | typeof TIMED_OUT> {
  if (!isThenable(work)) return work;
  let cancel = noop;
  const left = deadline - clock.now();
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    if (left > 0) cancel = clock.schedule(() => resolve(TIMED_OUT), left);
    else void clock.yield().then(() => resolve(TIMED_OUT));
  });
  try {
    return await Promise.race([Promise.resolve(work), timeout]);
  } finally {
    cancel();
  }
}

/**
 * Whether a mask's result is JSON as it stands: strings, numbers, booleans, null, arrays and plain
 * objects. Anything else (undefined, a Date, a bigint, an object with a toJSON) would be sent as
 * something the mask did not say, or make the whole item unsendable: that field fails closed.
 */
function isJsonValue(value: unknown): value is JsonValue {
  const stack: [unknown, number][] = [[value, 0]];
  let visited = 0;
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    visited += 1;
    // A cycle, or more than any field could carry, is not JSON worth sending.
    if (visited > MAX_MASK_RESULT_NODES) return false;
    // What is nested deeper than any walk goes is replaced by clampDepth, whatever it is.
    if (depth > MAX_WALK_DEPTH) continue;
    switch (typeof node) {
      case 'string':
      case 'number':
      case 'boolean':
        continue;
      case 'object': {
        if (node === null) continue;
        if (Array.isArray(node)) {
          // JSON writes undefined in an array as null, and leaves an undefined property out.
          for (const element of node) if (element !== undefined) stack.push([element, depth + 1]);
          continue;
        }
        const proto: unknown = Object.getPrototypeOf(node);
        if ((proto !== Object.prototype && proto !== null) || typeof (node as { toJSON?: unknown }).toJSON === 'function') return false;
        for (const key of Object.keys(node)) {
          const child = (node as Record<string, unknown>)[key];
          if (child !== undefined) stack.push([child, depth + 1]);
        }
        continue;
      }
      default:
        return false;
    }
  }
  return true;
}
const MAX_MASK_RESULT_NODES = 1_000_000;

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<T>).then === 'function';
}
function noop(): void {}
const TIMED_OUT = Symbol('timed out');

/** Every call of the mask for one item shares one deadline, however many fields it has. */
interface MaskTiming {
  deadline: number;
  clock: Clock;
}

/** Applies the mask to one value; anything but a returned JSON value fails closed. */
async function masked(mask: MaskFunction, value: JsonValue, context: MaskContext, timing: MaskTiming): Promise<JsonValue> {
  try {
    const result = await byDeadline(mask(value, context), timing.deadline, timing.clock);
    return result === TIMED_OUT || !isJsonValue(result) ? MASK_FAILED : clampDepth(result);
  } catch {
    return MASK_FAILED;
  }
}

async function maskStrings(
  mask: MaskFunction,
  value: JsonValue,
  path: string,
  span: ReadableSpan,
  timing: MaskTiming,
  depth = 0,
): Promise<JsonValue> {
  if (typeof value === 'string') return masked(mask, value, { field: 'metadata', path, span }, timing);
  if (value === null || typeof value !== 'object') return value;
  // Unmasked text must not pass: what is too deep to visit is not sent.
  if (depth >= MAX_WALK_DEPTH) return MASK_FAILED;
  if (Array.isArray(value)) {
    const out: JsonValue[] = [];
    for (let i = 0; i < value.length; i += 1) out.push(await maskStrings(mask, value[i]!, `${path}[${i}]`, span, timing, depth + 1));
    return out;
  }
  const out: JsonObject = {};
  const keys = Object.keys(value);
  const attributeKey = (key: string) => isAttributeKey(path, key);
  // Our own keys keep their names: a masked attribute key must not take one of them.
  const taken = new Set(keys.filter((key) => !attributeKey(key)));
  for (const key of keys) {
    const entryPath = path ? `${path}.${key}` : key;
    const name = attributeKey(key) ? uniqueKey(await maskedKey(mask, key, entryPath, span, timing), taken) : key;
    setOwn(out, name, await maskStrings(mask, value[key]!, entryPath, span, timing, depth + 1));
  }
  return out;
}

/** Our own keys at the top of `metadata`; every other key there is a span attribute's. */
const OWN_METADATA_KEYS: ReadonlySet<string> = new Set(['llm', 'otel', 'error', 'error_type', 'error_message', 'sgp_otel']);
/** The other attribute maps in `metadata`: resource, event and link attributes. */
const ATTRIBUTE_MAP = /^otel\.(?:resource|(?:events|links)\[\d+\]\.attributes)$/;

/** Whether `key`, in the object at `path` of `metadata`, is an attribute key (which may be content, e.g. `quota.alice@example.com`). */
function isAttributeKey(path: string, key: string): boolean {
  return path === '' ? !OWN_METADATA_KEYS.has(key) : ATTRIBUTE_MAP.test(path);
}

/** An attribute key through the mask; anything but a non-empty string fails closed. */
async function maskedKey(mask: MaskFunction, key: string, path: string, span: ReadableSpan, timing: MaskTiming): Promise<string> {
  const result = await masked(mask, key, { field: 'metadata', path, span, key: true }, timing);
  return typeof result === 'string' && result !== '' ? result : MASK_FAILED;
}

/** `name`, or `name (2)`, `name (3)`, ... when taken: two keys masked alike both arrive. */
function uniqueKey(name: string, taken: Set<string>): string {
  let unique = name;
  for (let n = 2; taken.has(unique); n += 1) unique = `${name} (${n})`;
  taken.add(unique);
  return unique;
}

export { fitToBudget };

/** Adds entries to `metadata.sgp_otel.truncated`, keeping what is there. */
export function markTruncated(metadata: JsonObject, cuts: Cut[], extra: JsonObject = {}): void {
  if (cuts.length === 0) return;
  const marker = (metadata.sgp_otel ?? {}) as JsonObject;
  const previous = Array.isArray(marker.truncated) ? marker.truncated : [];
  setOwn(metadata, 'sgp_otel', { ...marker, truncated: [...previous, ...(cuts as unknown as JsonObject[])], ...extra });
}

export async function prepareItem(item: SGPSpanItem, span: ReadableSpan, options: PrepareOptions): Promise<SGPSpanItem> {
  let { input, output, metadata, name, group_id: groupId } = item;
  if (!options.captureContent) {
    // By the format the mapping recorded for each object: free-form unless it came from a chat format.
    input = fieldWithoutContent(input);
    output = fieldWithoutContent(output);
    metadata = metadataWithoutContent(metadata);
    if (carriesLlmContent(span) || isGenAISpan({ name: String(span.name), attributes: span.attributes ?? {} })) {
      metadata = errorsWithoutContent(metadata);
    }
  }
  if (options.mask) {
    const { mask } = options;
    const timeout: MaskTiming = { deadline: options.clock.now() + options.maskTimeoutMillis, clock: options.clock };
    input = asObject(await masked(mask, input, { field: 'input', path: 'input', span }, timeout));
    output = asObject(await masked(mask, output, { field: 'output', path: 'output', span }, timeout));
    metadata = asObject(await maskStrings(mask, metadata, '', span, timeout));
    name = asString(await masked(mask, name, { field: 'name', path: 'name', span }, timeout)) ?? MASK_FAILED;
    // A failed mask must not group unrelated traces under one marker: the group id is left out.
    if (groupId !== undefined) groupId = asString(await masked(mask, groupId, { field: 'group_id', path: 'group_id', span }, timeout));
  }
  const cuts: Cut[] = [];
  input = fitToBudget(input, options.maxFieldBytes, 'input', cuts);
  output = fitToBudget(output, options.maxFieldBytes, 'output', cuts);
  metadata = fitToBudget(metadata, options.maxFieldBytes, 'metadata', cuts);
  if (cuts.length > 0) {
    metadata = { ...metadata };
    markTruncated(metadata, cuts);
  }
  const prepared: SGPSpanItem = { ...item, name, input, output, metadata };
  if (groupId === undefined || groupId === MASK_FAILED || groupId === '') delete prepared.group_id;
  else prepared.group_id = groupId;
  return prepared;
}

function asString(value: JsonValue): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
