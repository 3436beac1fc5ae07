import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { HrTime, Link, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { ResourceAttributeFilter } from '../config.js';
import { DEFAULT_RESOURCE_ATTRIBUTES } from '../config.js';
import type { JsonObject, JsonValue, SGPSpanItem } from './item.js';
import { interpretConventions } from './conventions.js';
import { attributesToJson, attributeToJson, setOwn } from './json.js';
import { shareJson } from './item-json.js';


/**
 * The fields a span from either SDK line carries: 2.x names (`parentSpanContext`,
 * `instrumentationScope`) and the 1.x ones (`parentSpanId`, `instrumentationLibrary`).
 */
type AnySdkSpan = ReadableSpan & {
  parentSpanId?: string;
  instrumentationLibrary?: { name: string; version?: string; schemaUrl?: string };
  parentSpanContext?: SpanContext;
};

/** SGP's limit on an id (`group_id` included). */
const MAX_ID_BYTES = 256;

const SPAN_KIND_NAMES: Record<number, string> = {
  [SpanKind.INTERNAL]: 'INTERNAL',
  [SpanKind.SERVER]: 'SERVER',
  [SpanKind.CLIENT]: 'CLIENT',
  [SpanKind.PRODUCER]: 'PRODUCER',
  [SpanKind.CONSUMER]: 'CONSUMER',
};

export interface MappingOptions {
  /**
   * Map the span as still running: no `end_timestamp`, and `metadata.sgp_otel.in_progress = true`.
   * Spans that have not ended (`ended === false`) are always mapped this way.
   */
  inProgress?: boolean;
  /** Send this parent id instead of the span's own (null: no parent), e.g. after a filter dropped the parent. */
  parentId?: string | null;
  /**
   * Which resource attributes go to `metadata.otel.resource`: `true` for all, or names and prefixes
   * (ending in '.'). Default: {@link DEFAULT_RESOURCE_ATTRIBUTES}, which leaves out the command line.
   */
  resourceAttributes?: ResourceAttributeFilter;
}

/**
 * Maps an OpenTelemetry span to an SGP span item. Pure: same span in, same item out.
 * Throws only on a span too malformed to read; callers drop such spans alone.
 */
export function toSGPSpanItem(span: ReadableSpan, options: MappingOptions = {}): SGPSpanItem {
  const source = span as AnySdkSpan;
  const context = source.spanContext();
  const attributes = source.attributes ?? {};
  const events = source.events ?? [];
  const conventions = interpretConventions({ name: String(source.name), attributes, events });

  const metadata = attributesToJson(attributes as Record<string, unknown>, conventions.claimedAttribute);
  if (conventions.llm) setOwn(metadata, 'llm', conventions.llm);
  const isError = source.status?.code === SpanStatusCode.ERROR;
  if (isError) Object.assign(metadata, errorMetadata(source));
  setOwn(metadata, 'otel', otelMetadata(source, conventions.claimedEvents, options.resourceAttributes ?? DEFAULT_RESOURCE_ATTRIBUTES));

  const start = source.startTime;
  const item: SGPSpanItem = {
    name: String(source.name),
    id: context.spanId,
    trace_id: context.traceId,
    start_timestamp: hrTimeToIso(start),
    input: conventions.input ?? {},
    output: conventions.output ?? {},
    metadata,
    status: isError ? 'ERROR' : 'SUCCESS',
    type: conventions.type ?? 'STANDALONE',
  };
  const parentId = options.parentId !== undefined ? options.parentId : (source.parentSpanContext?.spanId ?? source.parentSpanId);
  if (parentId) item.parent_id = parentId;
  // SGP refuses an id over 256 bytes with the whole batch: a group id that long is left out, the span kept.
  if (conventions.groupId !== undefined && Buffer.byteLength(conventions.groupId) <= MAX_ID_BYTES) item.group_id = conventions.groupId;
  if (options.inProgress === true || source.ended === false) {
    setOwn(metadata, 'sgp_otel', { in_progress: true });
  } else {
    item.end_timestamp = hrTimeToIso(laterOf(start, source.endTime));
  }
  return item;
}

/**
 * `metadata.error`, `error_type`, `error_message`, as the official SDK records a failure. The type
 * comes from the exception event, else from the span's `error.type` (set without any exception).
 */
function errorMetadata(span: AnySdkSpan): JsonObject {
  const exception = span.events?.find((event) => event.name === 'exception')?.attributes ?? {};
  const out: JsonObject = { error: true };
  const type = exception['exception.type'] ?? span.attributes?.['error.type'];
  if (typeof type === 'string' && type !== '') out.error_type = type;
  const message = span.status.message || exception['exception.message'];
  if (typeof message === 'string' && message !== '') out.error_message = message;
  return out;
}

/** What OpenTelemetry knows beyond the attributes: kind, scope, resource, events, links. */
function otelMetadata(span: AnySdkSpan, consumedEvents: ReadonlySet<number>, keep: ResourceAttributeFilter): JsonObject {
  const scope = span.instrumentationScope ?? span.instrumentationLibrary;
  const otel: JsonObject = {
    kind: SPAN_KIND_NAMES[span.kind] ?? String(span.kind),
    scope: scope ? cached(scope, () => compact({ name: scope.name, version: scope.version, schema_url: scope.schemaUrl })) : {},
    resource: span.resource ? resourceJson(span.resource, keep) : {},
  };
  if (span.status?.code === SpanStatusCode.OK) otel.status_code = 'OK';
  if (span.status?.message && span.status.code !== SpanStatusCode.ERROR) otel.status_message = span.status.message;
  const events = span.events?.length ? span.events.filter((_, index) => !consumedEvents.has(index)) : NO_EVENTS;
  if (events.length > 0) {
    otel.events = events.map((event) =>
      compact({
        name: event.name,
        timestamp: hrTimeToIso(event.time),
        attributes: event.attributes ? attributesToJson(event.attributes as Record<string, unknown>) : undefined,
      }),
    );
  }
  if (span.links?.length) otel.links = span.links.map(linkToJson);
  if (span.droppedAttributesCount || span.droppedEventsCount || span.droppedLinksCount) {
    otel.dropped = compact({
      attributes: span.droppedAttributesCount || undefined,
      events: span.droppedEventsCount || undefined,
      links: span.droppedLinksCount || undefined,
    });
  }
  return otel;
}
const NO_EVENTS: readonly never[] = [];

/**
 * Resource and scope objects are shared by every span of a provider or tracer: convert each once.
 * The JSON is shared between items, so nothing downstream may mutate it (prepare.ts copies), and
 * its text is made once too ({@link shareJson}).
 */
const conversions = new WeakMap<object, JsonObject>();
function cached(source: object, convert: () => JsonObject): JsonObject {
  let json = conversions.get(source);
  if (json === undefined) {
    json = shareJson(convert());
    conversions.set(source, json);
  }
  return json;
}

/** A resource's attributes that `keep` lets through, converted once per resource and filter. */
const resourceConversions = new WeakMap<object, Map<ResourceAttributeFilter, JsonObject>>();
function resourceJson(resource: ReadableSpan['resource'], keep: ResourceAttributeFilter): JsonObject {
  let byFilter = resourceConversions.get(resource);
  if (byFilter === undefined) {
    byFilter = new Map();
    resourceConversions.set(resource, byFilter);
  }
  let json = byFilter.get(keep);
  if (json === undefined) {
    const wanted = keep === true ? undefined : keep;
    const skip = wanted && ((key: string) => !wanted.some((name) => (name.endsWith('.') ? key.startsWith(name) : key === name)));
    json = shareJson(attributesToJson(resource.attributes as Record<string, unknown>, skip));
    byFilter.set(keep, json);
  }
  return json;
}

function linkToJson(link: Link): JsonObject {
  return compact({
    trace_id: link.context.traceId,
    span_id: link.context.spanId,
    attributes: link.attributes ? attributesToJson(link.attributes as Record<string, unknown>) : undefined,
  });
}

function compact(fields: Record<string, unknown>): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(fields)) {
    const json: JsonValue | undefined = value !== null && typeof value === 'object' ? (value as JsonObject) : attributeToJson(value);
    if (json !== undefined) out[key] = json;
  }
  return out;
}

function laterOf(start: HrTime, end: HrTime): HrTime {
  return end[0] > start[0] || (end[0] === start[0] && end[1] >= start[1]) ? end : start;
}

/** ISO 8601 UTC with microseconds, e.g. `2026-11-29T03:23:15.123456Z`. */
export function hrTimeToIso(time: HrTime): string {
  const nanos = Math.trunc(time[1]);
  const seconds = Math.trunc(time[0]) + Math.floor(nanos / 1e9);
  const micros = Math.floor((((nanos % 1e9) + 1e9) % 1e9) / 1000);
  // Spans come in bursts within the same second: format that second once.
  if (seconds !== isoCache.seconds) {
    isoCache.seconds = seconds;
    isoCache.prefix = new Date(seconds * 1000).toISOString().slice(0, 19);
  }
  return `${isoCache.prefix}.${String(micros).padStart(6, '0')}Z`;
}
const isoCache = { seconds: Number.NaN, prefix: '' };
