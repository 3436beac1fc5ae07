/**
 * What `captureContent: false` leaves of an item. It holds by construction, not by a list of
 * content attributes that is complete until the next convention ships:
 *
 * - `input` / `output` keep only the positions the conventions define as structure (message role,
 *   part type, tool name, tool call id, finish reason, ...). Everything else, numbers and booleans
 *   included, becomes `"[not captured]"`; arguments, results, objects and documents become that
 *   marker whole, keys and all.
 * - In `metadata`, an attribute of an LLM convention's family (`gen_ai.*`, `ai.*`, `llm.*`, ...)
 *   stays only when it is known not to be content (model, usage, operation, ids, finish reasons,
 *   settings); so do the attributes of events and links. Events named in those families keep only
 *   known non-content attributes, whatever their keys.
 */
import type { JsonObject, JsonValue } from './item.js';
import { setOwn } from './json.js';

/** Replaces content when content capture is off. */
export const NOT_CAPTURED = '[not captured]';

/**
 * A position in `input`/`output`: `keep` names the keys whose scalar values are structure,
 * `fields` the keys that hold more structure, `items` the shape of an array's elements. A value
 * anywhere else is content.
 */
interface Shape {
  keep?: readonly string[];
  fields?: Readonly<Record<string, Shape>>;
  items?: Shape;
}

/** An array whose elements are all content: its length is kept. */
const LIST: Shape = { items: {} };
const PART: Shape = {
  keep: ['type', 'id', 'name', 'mime_type', 'mimeType', 'mediaType', 'modality', 'toolCallId', 'toolName', 'tool_call_id'],
};
const TOOL_CALL: Shape = {
  keep: ['id', 'type', 'name', 'toolCallId', 'toolName', 'toolCallType'],
  fields: { function: { keep: ['name'] } },
};
const MESSAGE: Shape = {
  keep: ['role', 'finish_reason', 'index', 'tool_call_id', 'toolCallId', 'function_call_name'],
  fields: { parts: { items: PART }, content: { items: PART }, contents: { items: PART }, tool_calls: { items: TOOL_CALL } },
};
const TOOL_DEFINITION: Shape = { keep: ['type', 'name'], fields: { function: { keep: ['name'] } } };

export const INPUT_SHAPE: Shape = {
  fields: {
    messages: { items: MESSAGE },
    system_instructions: { items: PART },
    tools: { items: TOOL_DEFINITION },
    documents: LIST,
    values: LIST,
    prompts: LIST,
  },
};
export const OUTPUT_SHAPE: Shape = {
  keep: ['embeddings', 'dimensions'],
  fields: {
    messages: { items: MESSAGE },
    tool_calls: { items: TOOL_CALL },
    documents: LIST,
    choices: LIST,
    ranking: { items: { keep: ['index', 'originalIndex'] } },
  },
};

/**
 * `value` reduced to the structure `shape` defines. The walk follows the shape, so it is as deep
 * as the shape at most, whatever the value's depth.
 */
export function withoutContent(value: JsonValue, shape: Shape): JsonValue {
  if (value === null) return null;
  if (Array.isArray(value)) return shape.items ? value.map((element) => withoutContent(element, shape.items!)) : NOT_CAPTURED;
  if (typeof value !== 'object' || (shape.keep === undefined && shape.fields === undefined)) return NOT_CAPTURED;
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    const child = value[key]!;
    const field = shape.fields?.[key];
    if (field !== undefined) setOwn(out, key, withoutContent(child, field));
    else if (shape.keep?.includes(key) && (child === null || typeof child !== 'object')) setOwn(out, key, child);
    else setOwn(out, key, NOT_CAPTURED);
  }
  return out;
}

/** Attribute families whose values may be LLM content (prompts, completions, documents, tool I/O). */
const CONTENT_FAMILY =
  /^(gen_ai|ai|llm|input|output|retrieval|reranker|embedding|document|documents|message|messages|message_content|tool|tool_call|prompt|traceloop|langsmith|openinference|sgp)\./;

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
    ].join('|') +
    ')$',
);

/** Whether an attribute may leave the process with content capture off. */
export function mayHoldContent(key: string): boolean {
  return CONTENT_FAMILY.test(key) && !NON_CONTENT.test(key);
}

/** Attributes without the ones that may hold content; `strict` keeps only known non-content ones. */
function attributesWithoutContent(attributes: JsonValue | undefined, strict: boolean): JsonValue | undefined {
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) return attributes;
  const out: JsonObject = {};
  for (const key of Object.keys(attributes)) {
    if (strict ? NON_CONTENT.test(key) : !mayHoldContent(key)) setOwn(out, key, attributes[key]!);
  }
  return out;
}

/** Event names of the LLM conventions: their attributes are content unless known otherwise. */
const LLM_EVENT = /^(gen_ai|ai|llm)\./;

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
