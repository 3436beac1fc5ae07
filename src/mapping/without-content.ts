/**
 * What `captureContent: false` leaves of an item. It holds by construction, not by a list of
 * content attributes that is complete until the next convention ships:
 *
 * - `input` / `output` keep structure only where the mapping read them from a format a convention
 *   defines (chat messages, tool definitions, retrieval and rerank lists, the embedding counts the
 *   mapping itself computes), and only at the positions that format defines as structure (message
 *   role, part type, tool name, tool call id, finish reason, ...), and only values that look like
 *   structure there (a `role` is one of the known roles, an `index` a small integer). Everything
 *   else, numbers and booleans included, becomes `"[not captured]"`. A free-form field (tool
 *   arguments and results, `sgp.input`, `input.value`, `traceloop.entity.*`, generated objects)
 *   becomes `{ "value": "[not captured]" }` whole: its keys can be content too.
 * - In `metadata`, an attribute of an LLM convention's family (`gen_ai.*`, `ai.*`, `llm.*`, ...)
 *   stays only when it is known not to be content (model, usage, operation, ids, finish reasons,
 *   settings); so do the attributes of events and links. Events named in those families keep only
 *   known non-content attributes, whatever their keys.
 */
import type { JsonObject, JsonPrimitive, JsonValue } from './item.js';
import { setOwn } from './json.js';

/** Replaces content when content capture is off. */
export const NOT_CAPTURED = '[not captured]';

/**
 * Where the keys a format does not define go: all of them together become one
 * `value: "[not captured]"` entry, so neither their names nor their number is sent. `value` is
 * never a structural key of any shape below.
 */
const OTHER_KEYS = 'value';

/** Whether a scalar at a structural position really is structure; if not, it is content. */
type Check = (value: JsonPrimitive) => boolean;

/**
 * A position in `input`/`output` as a format defines it: `keep` names the keys whose scalar value
 * is structure (when it passes the check), `fields` the keys that hold more structure, `content`
 * the keys the format defines as content (sent by name, value replaced), `items` the shape of an
 * array's elements. A shape that defines no key at all is content whole.
 */
export interface Shape {
  keep?: Readonly<Record<string, Check>>;
  fields?: Readonly<Record<string, Shape>>;
  content?: readonly string[];
  items?: Shape;
}

const oneOfLowercase = (...values: string[]): Check => {
  const known = new Set(values);
  return (value) => typeof value === 'string' && known.has(value.toLowerCase());
};

/** Message roles of the chat formats the conventions record (OpenAI, Anthropic, Gemini, Cohere, AI SDK). */
const isRole = oneOfLowercase('system', 'user', 'assistant', 'tool', 'developer', 'model', 'function', 'human', 'ai', 'chatbot', 'ipython');
const isFinishReason = oneOfLowercase(
  'stop', 'length', 'content_filter', 'content-filter', 'tool_call', 'tool_calls', 'tool-calls', 'function_call', 'error',
  'end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal', 'safety', 'recitation', 'blocklist',
  'prohibited_content', 'spii', 'malformed_function_call', 'finish_reason_unspecified', 'other', 'unknown',
);
/** Part, tool and call types of those formats. */
const isPartType = oneOfLowercase(
  'text', 'image', 'image_url', 'audio', 'input_audio', 'video', 'file', 'document', 'blob', 'uri', 'reasoning', 'thinking',
  'redacted_thinking', 'refusal', 'tool_call', 'tool_call_response', 'server_tool_call', 'server_tool_call_response',
  'tool-call', 'tool-result', 'tool_use', 'tool_result', 'function', 'function_call', 'function_call_output', 'custom',
  'input_text', 'output_text', 'input_image', 'json', 'json_schema', 'source', 'provider-defined', 'dynamic',
);
const isModality = oneOfLowercase('text', 'image', 'audio', 'video');
/**
 * Ids and tool names: short, without spaces and with a letter, like every id and tool name the
 * providers issue. The letter keeps out numbers that are content (a card, phone or account number).
 */
const isIdentifier: Check = (value) => typeof value === 'string' && /^[A-Za-z0-9_.:\-]{1,64}$/.test(value) && /[A-Za-z]/.test(value);
const isMimeType: Check = (value) => typeof value === 'string' && /^[a-z]+\/[a-z0-9.+-]{1,64}$/i.test(value);
/** A position in a list: a small non-negative integer. */
const isIndex: Check = (value) => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 10_000;
/** A count the mapping computed itself (number of embeddings, their dimensions). */
const isCount: Check = (value) => typeof value === 'number' && Number.isInteger(value) && value >= 0;

/** Content whole: free-form, its keys and numbers included. */
export const FREE_FORM: Shape = {};
/** A list whose elements are content: its length is kept. */
export const LIST: Shape = { items: FREE_FORM };

const PART: Shape = {
  keep: {
    type: isPartType,
    id: isIdentifier,
    name: isIdentifier,
    tool_call_id: isIdentifier,
    toolCallId: isIdentifier,
    toolName: isIdentifier,
    mime_type: isMimeType,
    mimeType: isMimeType,
    mediaType: isMimeType,
    modality: isModality,
  },
  content: [
    'content', 'text', 'arguments', 'response', 'result', 'input', 'output', 'args', 'image', 'image_url', 'data', 'url', 'uri',
    'file', 'file_id', 'filename', 'source', 'reasoning', 'signature', 'providerOptions', 'providerMetadata',
  ],
};
const FUNCTION_CALL: Shape = { keep: { name: isIdentifier }, content: ['arguments'] };
const TOOL_CALL: Shape = {
  keep: { id: isIdentifier, type: isPartType, name: isIdentifier, toolCallId: isIdentifier, toolName: isIdentifier, toolCallType: isPartType },
  fields: { function: FUNCTION_CALL },
  content: ['arguments', 'input', 'args', 'providerMetadata'],
};
const MESSAGE: Shape = {
  keep: {
    role: isRole,
    finish_reason: isFinishReason,
    index: isIndex,
    id: isIdentifier,
    tool_call_id: isIdentifier,
    toolCallId: isIdentifier,
    function_call_name: isIdentifier,
  },
  fields: { parts: { items: PART }, content: { items: PART }, contents: { items: PART }, tool_calls: { items: TOOL_CALL } },
  // `name` of a message is a participant's name: content.
  content: ['content', 'name', 'text', 'message', 'reasoning', 'refusal', 'audio', 'function_call', 'function_call_arguments_json', 'providerOptions'],
};
const TOOL_DEFINITION: Shape = {
  keep: { type: isPartType, name: isIdentifier },
  fields: { function: { keep: { name: isIdentifier }, content: ['description', 'parameters', 'strict'] } },
  content: ['description', 'parameters', 'inputSchema', 'input_schema', 'strict', 'providerOptions'],
};
const RANKED: Shape = {
  keep: { index: isIndex, originalIndex: isIndex, id: isIdentifier },
  content: ['score', 'relevanceScore', 'document', 'content', 'metadata'],
};

/** Lists of what the chat formats define, for the mapping to name the format of what it read. */
export const MESSAGES: Shape = { items: MESSAGE };
export const PARTS: Shape = { items: PART };
export const TOOL_CALLS: Shape = { items: TOOL_CALL };
export const TOOL_DEFINITIONS: Shape = { items: TOOL_DEFINITION };
export const RANKING: Shape = { items: RANKED };
/** The count and size of embeddings, which the mapping computes in place of the vectors. */
export const EMBEDDING_COUNTS: Shape = { keep: { embeddings: isCount, dimensions: isCount } };

/** A top-level `input`/`output` object made of the fields named, each in its format. */
export function fieldsOf(fields: Readonly<Record<string, Shape>>): Shape {
  return { fields };
}

/** `shape` with one more field. */
export function withField(shape: Shape, key: string, field: Shape): Shape {
  return { ...shape, fields: { ...shape.fields, [key]: field } };
}

/**
 * The format the mapping read each `input`/`output` object in, carried to `prepareItem` without
 * changing the item: keyed by the object itself. An object without an entry (built or replaced
 * anywhere after the mapping) is free-form, so the fallback is "nothing is structure".
 */
const formats = new WeakMap<JsonObject, Shape>();

export function recordFormat(field: JsonObject, shape: Shape): JsonObject {
  formats.set(field, shape);
  return field;
}

export function formatOf(field: JsonObject): Shape {
  return formats.get(field) ?? FREE_FORM;
}

function definesKeys(shape: Shape): boolean {
  return shape.keep !== undefined || shape.fields !== undefined || shape.content !== undefined;
}

/**
 * `value` reduced to the structure `shape` defines. The walk follows the shape, so it is as deep
 * as the shape at most, whatever the value's depth.
 */
export function withoutContent(value: JsonValue, shape: Shape): JsonValue {
  if (value === null) return null;
  if (Array.isArray(value)) return shape.items ? value.map((element) => withoutContent(element, shape.items!)) : NOT_CAPTURED;
  if (typeof value !== 'object' || !definesKeys(shape)) return NOT_CAPTURED;
  const out: JsonObject = {};
  let otherKeys = false;
  for (const key of Object.keys(value)) {
    const child = value[key]!;
    const field = own(shape.fields, key);
    const check = own(shape.keep, key);
    if (field !== undefined) setOwn(out, key, withoutContent(child, field));
    else if (check !== undefined) setOwn(out, key, isStructure(child, check) ? child : NOT_CAPTURED);
    else if (shape.content?.includes(key)) setOwn(out, key, NOT_CAPTURED);
    else otherKeys = true;
  }
  if (otherKeys) setOwn(out, OTHER_KEYS, NOT_CAPTURED);
  return out;
}

/** `table[key]` only when `table` itself has it: `constructor` or `toString` must not look like a rule. */
function own<T>(table: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return table !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

function isStructure(value: JsonValue, check: Check): boolean {
  return value === null || (typeof value !== 'object' && check(value));
}

/** An `input`/`output` object without content, by the format the mapping recorded for it. */
export function fieldWithoutContent(field: JsonObject): JsonObject {
  if (Object.keys(field).length === 0) return {};
  const reduced = withoutContent(field, formatOf(field));
  return reduced !== null && typeof reduced === 'object' && !Array.isArray(reduced) ? reduced : { [OTHER_KEYS]: NOT_CAPTURED };
}

/** Attribute families whose values may be LLM content (prompts, completions, documents, tool I/O). */
const CONTENT_FAMILY =
  /^(gen_ai|ai|llm|input|output|retrieval|reranker|embedding|document|documents|message|messages|message_content|tool|tool_call|prompt|traceloop|langsmith|openinference|openai_agents|sgp)\./i;

/** Attributes of those families known to carry no content. */
const NON_CONTENT = new RegExp(
  '^(?:' +
    [
      'gen_ai\\.(?:operation\\.name|provider\\.name|system|conversation\\.id|output\\.type|data_source\\.id|token\\.type|prompt\\.name|workflow\\.name|embeddings\\.dimension\\.count)',
      'gen_ai\\.request\\.(?:model|temperature|top_p|top_k|max_tokens|frequency_penalty|presence_penalty|seed|stream|choice\\.count|encoding_formats)',
      'gen_ai\\.response\\.(?:id|model|finish_reasons|time_to_first_chunk)',
      'gen_ai\\.usage\\.[a-z_.]+',
      'gen_ai\\.agent\\.(?:id|name|version)',
      'gen_ai\\.tool\\.(?:name|type|call\\.id)',
      'gen_ai\\.evaluation\\.(?:name|score\\.value|score\\.label)',
      'gen_ai\\.openai\\.(?:request|response)\\.(?:service_tier|seed|system_fingerprint)',
      'ai\\.(?:operationId|model\\.(?:id|provider)|settings\\.[\\w.]+|telemetry\\.functionId|telemetry\\.metadata\\.[\\w.-]+|usage\\.[\\w.]+)',
      'ai\\.response\\.(?:id|model|finishReason|timestamp|msToFirstChunk|msToFinish|avgOutputTokensPerSecond|avgCompletionTokensPerSecond)',
      'ai\\.(?:stream\\.msToFirstChunk|toolCall\\.(?:name|id)|prompt\\.toolChoice|schema\\.name|ranking\\.type)',
      'llm\\.(?:model_name|provider|system|is_streaming|finish_reason|usage\\.[\\w.]+|token_count\\.[\\w.]+|cost\\.[\\w.]+)',
      'llm\\.request\\.(?:type|model|model_name|max_tokens|temperature|top_p|top_k|is_streaming)',
      'llm\\.response\\.(?:model|model_name|finish_reason|id)',
      'llm\\.prompt_template\\.version',
      'embedding\\.model_name',
      'reranker\\.(?:model_name|top_k)',
      '(?:input|output)\\.mime_type',
      'openinference\\.span\\.kind',
      'tool\\.(?:name|id)',
      'tool_call\\.(?:id|function\\.name)',
      'prompt\\.(?:vendor|id|url)',
      'traceloop\\.(?:span\\.kind|entity\\.(?:name|path|version)|workflow\\.name|association\\.properties\\.[\\w.-]+)',
      'langsmith\\.(?:span\\.kind|trace\\.(?:name|session_id|session_name)|metadata\\.[\\w.-]+)',
      'sgp\\.span_type',
      'openai_agents\\.(?:span_id|trace_id|parent_id|name|type|handoffs|tools|output_type|model|model_config\\.[\\w.]+|usage\\.[\\w.]+|from_agent|to_agent|triggered|response_id|server)',
    ].join('|') +
    ')$',
);

/** User metadata the conventions define (documented as kept): its values are not checked. */
const USER_METADATA = /^(?:ai\.telemetry\.metadata|traceloop\.association\.properties|langsmith\.metadata)\./;

/**
 * A value a non-content attribute may carry: a number, a boolean, or a short word (a model name,
 * an id, a finish reason), or a list of those. A sentence is content whatever its key says.
 */
function isTokenLike(value: JsonValue): boolean {
  if (typeof value === 'number' || typeof value === 'boolean') return true;
  if (typeof value === 'string') return value.length <= 128 && !/\s/.test(value);
  return Array.isArray(value) && value.length <= 64 && value.every((element) => typeof element !== 'object' && isTokenLike(element));
}

/** Whether a known non-content attribute may keep its value. */
function keptAsNonContent(key: string, value: JsonValue): boolean {
  return NON_CONTENT.test(key) && (USER_METADATA.test(key) || isTokenLike(value));
}

/** Whether an attribute may hold content (it belongs to an LLM family and is not known otherwise); its value, when given, is checked too. */
export function mayHoldContent(key: string, value?: JsonValue): boolean {
  return CONTENT_FAMILY.test(key) && !(value === undefined ? NON_CONTENT.test(key) : keptAsNonContent(key, value));
}

/** Attributes without the ones that may hold content; `strict` keeps only known non-content ones. */
function attributesWithoutContent(attributes: JsonValue | undefined, strict: boolean): JsonValue | undefined {
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) return attributes;
  const out: JsonObject = {};
  for (const key of Object.keys(attributes)) {
    const value = attributes[key]!;
    if (strict ? keptAsNonContent(key, value) : !mayHoldContent(key, value)) setOwn(out, key, value);
  }
  return out;
}

/**
 * Whether a span carries LLM content: an attribute of an LLM family or an LLM event. Its error
 * texts are then content too.
 */
export function carriesLlmContent(span: { attributes?: Record<string, unknown>; events?: readonly { name: string }[] }): boolean {
  return (
    Object.keys(span.attributes ?? {}).some((key) => CONTENT_FAMILY.test(key)) ||
    (span.events ?? []).some((event) => LLM_EVENT.test(event.name))
  );
}

/** Event names of the LLM conventions: their attributes are content unless known otherwise. */
const LLM_EVENT = /^(gen_ai|ai|llm)\./i;

/**
 * `metadata` without content: span attributes at its top level, and the attributes of
 * `otel.events` and `otel.links`. Our own keys (`llm`, `otel`, `error*`, `sgp_otel`) have no dot
 * and pass; the shared resource and scope objects are not copied.
 */
export function metadataWithoutContent(metadata: JsonObject): JsonObject {
  const out = attributesWithoutContent(metadata, false) as JsonObject;
  const otel = metadata.otel;
  if (otel === null || typeof otel !== 'object' || Array.isArray(otel)) return out;
  const cleaned: JsonObject = { ...otel };
  if (Array.isArray(otel.events)) {
    cleaned.events = otel.events.map((event) => {
      if (event === null || typeof event !== 'object' || Array.isArray(event)) return event;
      const strict = typeof event.name === 'string' && LLM_EVENT.test(event.name);
      return event.attributes === undefined ? event : { ...event, attributes: attributesWithoutContent(event.attributes, strict)! };
    });
  }
  if (Array.isArray(otel.links)) {
    cleaned.links = otel.links.map((link) =>
      link !== null && typeof link === 'object' && !Array.isArray(link) && link.attributes !== undefined
        ? { ...link, attributes: attributesWithoutContent(link.attributes, false)! }
        : link,
    );
  }
  setOwn(out, 'otel', cleaned);
  return out;
}

/**
 * `metadata` of an LLM span without the texts an error carries: a provider's error message can
 * quote the prompt ("Invalid prompt: ..."), and a stack trace starts with the message. The error's
 * type and `error: true` stay. Returns a copy; `metadata` itself is shared and not changed.
 */
export function errorsWithoutContent(metadata: JsonObject): JsonObject {
  const out: JsonObject = { ...metadata };
  if (typeof out.error_message === 'string') setOwn(out, 'error_message', NOT_CAPTURED);
  const otel = out.otel;
  if (otel === null || typeof otel !== 'object' || Array.isArray(otel)) return out;
  const cleaned: JsonObject = { ...otel };
  if (typeof cleaned.status_message === 'string') cleaned.status_message = NOT_CAPTURED;
  if (Array.isArray(otel.events)) cleaned.events = otel.events.map(exceptionWithoutText);
  setOwn(out, 'otel', cleaned);
  return out;
}

/** The texts of an OpenTelemetry `exception` event. */
const EXCEPTION_TEXTS = ['exception.message', 'exception.stacktrace'];

function exceptionWithoutText(event: JsonValue): JsonValue {
  if (event === null || typeof event !== 'object' || Array.isArray(event) || event.name !== 'exception') return event;
  const attributes = event.attributes;
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) return event;
  const cleaned: JsonObject = { ...attributes };
  for (const key of EXCEPTION_TEXTS) if (cleaned[key] !== undefined) setOwn(cleaned, key, NOT_CAPTURED);
  return { ...event, attributes: cleaned };
}
