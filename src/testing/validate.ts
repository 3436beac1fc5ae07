import { SGP_SPAN_STATUSES, SGP_SPAN_TYPES } from '../mapping/item.js';
import type { SGPSpanItem } from '../mapping/item.js';

/** The server's per-request cap on items. */
export const MAX_ITEMS = 1000;
const MAX_ID_BYTES = 256;
const ID_FIELDS = ['trace_id', 'id', 'parent_id', 'group_id'] as const;
const STRING_FIELDS = ['name', 'application_interaction_id', 'application_variant_id'] as const;
const OBJECT_FIELDS = ['input', 'output', 'metadata'] as const;
const KNOWN_FIELDS = new Set<string>([
  ...ID_FIELDS,
  ...STRING_FIELDS,
  ...OBJECT_FIELDS,
  'start_timestamp',
  'end_timestamp',
  'status',
  'type',
]);
const TYPES: ReadonlySet<string> = new Set(SGP_SPAN_TYPES);
const STATUSES: ReadonlySet<string> = new Set(SGP_SPAN_STATUSES);

/** A rejection with the status SGP would answer and a FastAPI-style detail. */
export interface Rejection {
  status: 400 | 409 | 422;
  detail: string;
}

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Microseconds since the epoch of an ISO 8601 timestamp, or undefined when it is not one. Every
 * calendar field is checked, because `Date` would roll `2026-02-30` over to March 2 where SGP
 * answers 422. Year 0 (Python's datetime has none), hour 24 and leap second 60 are refused too.
 */
export function isoToMicros(value: string): number | undefined {
  const match = ISO_8601.exec(value);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (match[8] !== undefined) {
    const offsetHours = Number(match[9]);
    const offsetRest = Number(match[10]);
    if (offsetHours > 23 || offsetRest > 59) return undefined;
    offsetMinutes = (match[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetRest);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC, which maps years 0-99 to 1900-1999
  date.setUTCHours(hour, minute - offsetMinutes, second, 0);
  const fraction = (match[7] ?? '').padEnd(6, '0').slice(0, 6);
  return date.getTime() * 1000 + Number(fraction);
}

const HEX_ID = /^[0-9a-f]+$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** OpenTelemetry's hex ids (32 digits for a trace, 16 for a span) and the UUIDs SGP itself makes. */
function isSpanOrTraceId(value: string): boolean {
  return HEX_ID.test(value) || UUID.test(value);
}

/** A NUL, or a lone surrogate (what invalid UTF-8 becomes once decoded): SGP answers 400 for either. */
function isUnsafeText(text: string): boolean {
  return text.includes('\u0000') || !text.isWellFormed();
}

interface UnsafeText {
  /** Keys and indexes from the item down to the string. */
  path: (string | number)[];
  /** The string is the last key of `path`, not a value. */
  inKey: boolean;
}

/**
 * The first string, value or key, anywhere in `root` that is unsafe text. A loop over its own stack
 * rather than recursion: JSON.parse takes a body nested a million levels deep, so this must too.
 */
function findUnsafeText(root: Record<string, unknown>): UnsafeText | undefined {
  type Frame = { value: object; parent: Frame | undefined; key: string | number };
  const pathTo = (frame: Frame | undefined, last: string | number): (string | number)[] => {
    const path = [last];
    for (let f = frame; f?.parent !== undefined; f = f.parent) path.push(f.key);
    return path.reverse();
  };
  const stack: Frame[] = [{ value: root, parent: undefined, key: '' }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const container = frame.value as Record<string | number, unknown>;
    const keys: readonly (string | number)[] = Array.isArray(container) ? Array.from(container, (_, i) => i) : Object.keys(container);
    for (const key of keys) {
      if (typeof key === 'string' && isUnsafeText(key)) return { path: pathTo(frame, key), inKey: true };
      const child = container[key];
      if (typeof child === 'string') {
        if (isUnsafeText(child)) return { path: pathTo(frame, key), inKey: false };
      } else if (child !== null && typeof child === 'object') {
        stack.push({ value: child, parent: frame, key });
      }
    }
  }
  return undefined;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const PATH_EDGE = 8;

/** `items[2].metadata.tags[0]["a key"]`; a path deeper than 16 steps keeps its first and last 8. */
function formatPath(prefix: string, path: readonly (string | number)[]): string {
  const step = (key: string | number) =>
    typeof key === 'number' ? `[${key}]` : IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  if (path.length <= 2 * PATH_EDGE) return prefix + path.map(step).join('');
  const skipped = path.length - 2 * PATH_EDGE;
  return `${prefix}${path.slice(0, PATH_EDGE).map(step).join('')}…(${skipped} more)…${path.slice(-PATH_EDGE).map(step).join('')}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Checks one item the way SGP's schema does; returns a rejection or undefined when it is valid. */
export function validateItem(item: unknown, index: number): Rejection | undefined {
  const at = (field: string) => `items[${index}].${field}`;
  if (!isPlainObject(item)) return { status: 422, detail: `items[${index}]: expected an object` };
  const unsafe = findUnsafeText(item);
  if (unsafe) {
    const where = formatPath(`items[${index}]`, unsafe.path);
    return { status: 400, detail: `${where}: NUL byte or invalid UTF-8${unsafe.inKey ? ' in the key' : ''}` };
  }
  for (const key of Object.keys(item)) {
    if (!KNOWN_FIELDS.has(key)) return { status: 422, detail: `${at(key)}: unknown field` };
  }
  for (const field of ['name', 'trace_id', 'start_timestamp'] as const) {
    if (item[field] === undefined || item[field] === null) return { status: 422, detail: `${at(field)}: field required` };
  }
  for (const field of [...ID_FIELDS, ...STRING_FIELDS]) {
    const value = item[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') return { status: 422, detail: `${at(field)}: expected a string` };
  }
  for (const field of ID_FIELDS) {
    const value = item[field];
    if (typeof value !== 'string') continue;
    if (value === '') return { status: 422, detail: `${at(field)}: must not be empty` };
    if (Buffer.byteLength(value) > MAX_ID_BYTES) {
      return { status: 422, detail: `${at(field)}: longer than ${MAX_ID_BYTES} bytes` };
    }
    // group_id is a free grouping key in practice (a conversation or session id, which our own
    // mapping takes from `gen_ai.conversation.id` or `session.id`), so only span and trace ids
    // must look like ids.
    if (field !== 'group_id' && !isSpanOrTraceId(value)) {
      return { status: 422, detail: `${at(field)}: expected a hex id or a UUID` };
    }
  }
  for (const field of OBJECT_FIELDS) {
    if (item[field] !== undefined && !isPlainObject(item[field])) {
      return { status: 422, detail: `${at(field)}: expected a JSON object` };
    }
  }
  if (item.status !== undefined && !STATUSES.has(item.status as string)) {
    return { status: 422, detail: `${at('status')}: not one of ${[...STATUSES].join(', ')}` };
  }
  if (item.type !== undefined && !TYPES.has(item.type as string)) {
    return { status: 422, detail: `${at('type')}: not a valid span type` };
  }
  const start = typeof item.start_timestamp === 'string' ? isoToMicros(item.start_timestamp) : undefined;
  if (start === undefined) return { status: 422, detail: `${at('start_timestamp')}: not an ISO 8601 timestamp` };
  if (item.end_timestamp !== undefined && item.end_timestamp !== null) {
    const end = typeof item.end_timestamp === 'string' ? isoToMicros(item.end_timestamp) : undefined;
    if (end === undefined) return { status: 422, detail: `${at('end_timestamp')}: not an ISO 8601 timestamp` };
    if (end < start) return { status: 422, detail: `${at('end_timestamp')}: before start_timestamp` };
  }
  return undefined;
}

/**
 * Checks a whole request body: the items array, the 1000-item cap, each item, then the batch's
 * parent links (a cycle, or a parent in another trace, is a 409). `known` maps ids already stored
 * to their trace ids; `storedParents` maps each trace id to its stored spans' parent ids, so a
 * cycle closed across two requests is found too.
 */
export function validateBatch(
  body: unknown,
  known: ReadonlyMap<string, string>,
  storedParents?: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Rejection | undefined {
  if (!isPlainObject(body) || !Array.isArray(body.items)) {
    return { status: 422, detail: 'body: expected {"items": [...]}' };
  }
  const items = body.items as unknown[];
  if (items.length > MAX_ITEMS) return { status: 422, detail: `items: at most ${MAX_ITEMS} per request, got ${items.length}` };
  for (let i = 0; i < items.length; i += 1) {
    const rejection = validateItem(items[i], i);
    if (rejection) return rejection;
  }
  return checkParentLinks(items as SGPSpanItem[], known, storedParents ?? new Map());
}

function checkParentLinks(
  items: readonly SGPSpanItem[],
  known: ReadonlyMap<string, string>,
  storedParents: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Rejection | undefined {
  const traceOf = new Map(known);
  // The batch's records replace stored ones, parent included (a record without parent_id has none).
  const batchParents = new Map<string, Map<string, string | undefined>>();
  for (const item of items) {
    if (item.id === undefined) continue;
    traceOf.set(item.id, item.trace_id);
    const links = batchParents.get(item.trace_id) ?? new Map<string, string | undefined>();
    batchParents.set(item.trace_id, links);
    links.set(item.id, item.parent_id);
  }
  const parentOf = (traceId: string, id: string): string | undefined => {
    const links = batchParents.get(traceId);
    return links?.has(id) ? links.get(id) : storedParents.get(traceId)?.get(id);
  };
  // Spans whose ancestry is known to end at a root, so each chain is walked once per batch.
  const rooted = new Set<string>();
  for (let i = 0; i < items.length; i += 1) {
    const item = items[i]!;
    const parentTrace = item.parent_id !== undefined ? traceOf.get(item.parent_id) : undefined;
    if (parentTrace !== undefined && parentTrace !== item.trace_id) {
      return { status: 409, detail: `items[${i}].parent_id: parent ${item.parent_id} belongs to another trace` };
    }
    if (item.id === undefined) continue;
    const chain = new Set<string>();
    for (let id: string | undefined = item.id; id !== undefined; id = parentOf(item.trace_id, id)) {
      if (rooted.has(`${item.trace_id}/${id}`)) break;
      if (chain.has(id)) return { status: 409, detail: `items[${i}].parent_id: parent cycle ${[...chain, id].join(' -> ')}` };
      chain.add(id);
    }
    for (const id of chain) rooted.add(`${item.trace_id}/${id}`);
  }
  return undefined;
}
