/**
 * How the LLM tracing conventions in use today map onto SGP's fields: one precedence table per
 * field, highest first. The README's "LLM conventions" section documents the same tables.
 *
 * Every content attribute and message event a source recognises is claimed (left out of
 * `metadata`), whichever source wins: `metadata` never carries a second copy of a prompt.
 */
import type { Attributes } from '@opentelemetry/api';
import type { JsonObject, JsonValue, SGPSpanType } from './item.js';
import { isSGPSpanType } from './item.js';
import { rebuildIndexed } from './indexed.js';
import { attributeToJson, parseJsonText, setOwn, toJsonObjectField } from './json.js';

/** The parts of a span the conventions read. */
export interface ConventionInput {
  name: string;
  attributes: Attributes;
  events: readonly { name: string; attributes?: Attributes }[];
}

export interface ConventionResult {
  input: JsonObject | undefined;
  output: JsonObject | undefined;
  type: SGPSpanType | undefined;
  groupId: string | undefined;
  /** Model and token usage, normalised (`metadata.llm`). */
  llm: JsonObject | undefined;
  /** Attribute keys that must not be copied into metadata. */
  claimedAttribute(key: string): boolean;
  /** Indexes of events consumed into input/output. */
  claimedEvents: Set<number>;
}

/** The attributes to set on your own spans; they take precedence over every convention below. */
export const SGP_ATTRIBUTES = {
  input: 'sgp.input',
  output: 'sgp.output',
  spanType: 'sgp.span_type',
  groupId: 'sgp.group_id',
} as const;

type Read = (span: ConventionInput, attrs: Attributes) => JsonObject | undefined;

interface ContentSource {
  /** Which convention this is, for the README table. */
  name: string;
  claims: (key: string) => boolean;
  read: Read;
}

const has = (attrs: Attributes, key: string) => attrs[key] !== undefined;
const prefixed = (prefix: string) => (key: string) => key.startsWith(prefix);
const oneOf =
  (...keys: string[]) =>
  (key: string) =>
    keys.includes(key);

/** JSON text parsed; other text kept as text; other attribute values as JSON. */
export function parseMaybeJson(value: unknown): JsonValue | undefined {
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('{') || text.startsWith('[') || text.startsWith('"')) return parseJsonText(text) ?? value;
    return value;
  }
  // Attribute arrays are flat: only their strings may hold JSON.
  if (Array.isArray(value)) {
    return value.map((element) => (typeof element === 'string' ? parseMaybeJson(element) : attributeToJson(element, 1)) ?? null);
  }
  return attributeToJson(value);
}

/**
 * Flattened indexed attributes (`gen_ai.prompt.0.role`, `gen_ai.completion.0.tool_calls.0.name`)
 * rebuilt as a dense array of objects in index order, values parsed like every other attribute.
 */
export function unflattenIndexed(attrs: Attributes, prefix: string): JsonObject[] {
  return rebuildIndexed(attrs, prefix, parseMaybeJson);
}

/** OpenInference wraps each message as `{ message: {...} }` and tool calls as `{ tool_call: {...} }`. */
function unwrapOpenInference(messages: JsonObject[]): JsonObject[] {
  return messages.map((entry) => {
    const message = (entry.message ?? entry) as JsonObject;
    const out: JsonObject = { ...message };
    if (Array.isArray(message.tool_calls)) {
      out.tool_calls = message.tool_calls.map((call) => ((call as JsonObject)?.tool_call ?? call) as JsonValue);
    }
    if (Array.isArray(message.contents)) {
      out.contents = message.contents.map((part) => ((part as JsonObject)?.message_content ?? part) as JsonValue);
    }
    return out;
  });
}

/** `value` if it is a JSON object, else `{ [key]: value }`. */
function objectOr(value: JsonValue | undefined, key: string): JsonObject | undefined {
  if (value === undefined) return undefined;
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value;
  const out: JsonObject = {};
  setOwn(out, key, value);
  return out;
}

/** Builds an object from the keys whose value is defined. */
function defined(fields: Record<string, JsonValue | undefined>): JsonObject | undefined {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) setOwn(out, key, value);
  return Object.keys(out).length > 0 ? out : undefined;
}

const GENAI_INPUT_EVENTS: Record<string, string> = {
  'gen_ai.system.message': 'system',
  'gen_ai.user.message': 'user',
  'gen_ai.assistant.message': 'assistant',
  'gen_ai.tool.message': 'tool',
};

/** A deprecated GenAI message event as a message: its body (`gen_ai.event.content`) or its attributes. */
function eventMessage(event: ConventionInput['events'][number], role: string | undefined): JsonObject {
  const attrs = event.attributes ?? {};
  const body = parseMaybeJson(attrs['gen_ai.event.content']);
  const base: JsonObject =
    body !== null && typeof body === 'object' && !Array.isArray(body) ? { ...body } : {};
  for (const key of ['role', 'content', 'tool_calls', 'id', 'index', 'finish_reason', 'message']) {
    if (attrs[key] !== undefined && base[key] === undefined) setOwn(base, key, parseMaybeJson(attrs[key]) ?? null);
  }
  if (role !== undefined && base.role === undefined) return { role, ...base };
  return base;
}

/**
 * The deprecated `gen_ai.prompt` / `gen_ai.completion`: flattened `<key>.N.*` attributes rebuilt as
 * messages, else the attribute itself (a JSON array of messages, or text kept under `textKey`).
 */
function deprecatedGenAIContent(key: string, textKey: string): ContentSource {
  return {
    name: `${key}, ${key}.N.* (deprecated)`,
    claims: (k) => k === key || k.startsWith(`${key}.`),
    read: (_, a) => {
      const flattened = unflattenIndexed(a, `${key}.`);
      if (flattened.length > 0) return { messages: flattened };
      const value = parseMaybeJson(a[key]);
      return Array.isArray(value) ? { messages: value } : objectOr(value, textKey);
    },
  };
}

export const INPUT_SOURCES: ContentSource[] = [
  {
    name: SGP_ATTRIBUTES.input,
    claims: oneOf(SGP_ATTRIBUTES.input),
    read: (_, a) => (has(a, SGP_ATTRIBUTES.input) ? toJsonObjectField(a[SGP_ATTRIBUTES.input]) : undefined),
  },
  {
    name: 'gen_ai.input.messages (+ gen_ai.system_instructions, gen_ai.tool.definitions)',
    claims: oneOf('gen_ai.input.messages', 'gen_ai.system_instructions', 'gen_ai.tool.definitions'),
    read: (_, a) =>
      has(a, 'gen_ai.input.messages') || has(a, 'gen_ai.system_instructions')
        ? defined({
            system_instructions: parseMaybeJson(a['gen_ai.system_instructions']),
            messages: parseMaybeJson(a['gen_ai.input.messages']),
            tools: parseMaybeJson(a['gen_ai.tool.definitions']),
          })
        : undefined,
  },
  deprecatedGenAIContent('gen_ai.prompt', 'prompt'),
  {
    name: 'gen_ai.{system,user,assistant,tool}.message events (deprecated)',
    claims: () => false,
    read: (span) => {
      const messages = span.events
        .filter((event) => event.name in GENAI_INPUT_EVENTS)
        .map((event) => eventMessage(event, GENAI_INPUT_EVENTS[event.name]));
      return messages.length > 0 ? { messages } : undefined;
    },
  },
  {
    name: 'Vercel AI SDK: ai.prompt.messages, ai.prompt, ai.toolCall.args',
    claims: oneOf('ai.prompt.messages', 'ai.prompt', 'ai.prompt.tools', 'ai.toolCall.args'),
    read: (_, a) => {
      if (has(a, 'ai.prompt.messages')) {
        return defined({ messages: parseMaybeJson(a['ai.prompt.messages']), tools: parseMaybeJson(a['ai.prompt.tools']) });
      }
      if (has(a, 'ai.prompt')) return objectOr(parseMaybeJson(a['ai.prompt']), 'prompt');
      if (has(a, 'ai.toolCall.args')) return objectOr(parseMaybeJson(a['ai.toolCall.args']), 'arguments');
      return undefined;
    },
  },
  {
    name: 'OpenInference: llm.input_messages.N.message.*, input.value',
    claims: (key) => key === 'input.value' || key === 'input.mime_type' || key.startsWith('llm.input_messages.'),
    read: (_, a) => {
      const messages = unflattenIndexed(a, 'llm.input_messages.');
      if (messages.length > 0) return { messages: unwrapOpenInference(messages) };
      return has(a, 'input.value') ? objectOr(parseMaybeJson(a['input.value']), 'value') : undefined;
    },
  },
  {
    name: 'Traceloop: traceloop.entity.input',
    claims: oneOf('traceloop.entity.input'),
    read: (_, a) => (has(a, 'traceloop.entity.input') ? objectOr(parseMaybeJson(a['traceloop.entity.input']), 'value') : undefined),
  },
  {
    name: 'gen_ai.tool.call.arguments',
    claims: oneOf('gen_ai.tool.call.arguments'),
    read: (_, a) =>
      has(a, 'gen_ai.tool.call.arguments') ? objectOr(parseMaybeJson(a['gen_ai.tool.call.arguments']), 'arguments') : undefined,
  },
];

export const OUTPUT_SOURCES: ContentSource[] = [
  {
    name: SGP_ATTRIBUTES.output,
    claims: oneOf(SGP_ATTRIBUTES.output),
    read: (_, a) => (has(a, SGP_ATTRIBUTES.output) ? toJsonObjectField(a[SGP_ATTRIBUTES.output]) : undefined),
  },
  {
    name: 'gen_ai.output.messages',
    claims: oneOf('gen_ai.output.messages'),
    read: (_, a) => (has(a, 'gen_ai.output.messages') ? { messages: parseMaybeJson(a['gen_ai.output.messages']) ?? null } : undefined),
  },
  deprecatedGenAIContent('gen_ai.completion', 'completion'),
  {
    name: 'gen_ai.choice events (deprecated)',
    claims: () => false,
    read: (span) => {
      const choices = span.events.filter((event) => event.name === 'gen_ai.choice').map((event) => eventMessage(event, undefined));
      if (choices.length === 0) return undefined;
      // A choice carries its message under `message`; lift it so output reads like the other conventions.
      const messages = choices.map((choice) => {
        const { message, ...rest } = choice;
        return message !== null && typeof message === 'object' && !Array.isArray(message) ? { ...message, ...rest } : choice;
      });
      return { messages };
    },
  },
  {
    name: 'Vercel AI SDK: ai.response.text, .reasoning, .object, .toolCalls; ai.toolCall.result',
    claims: oneOf('ai.response.text', 'ai.response.reasoning', 'ai.response.object', 'ai.response.toolCalls', 'ai.toolCall.result'),
    read: (_, a) => {
      const response = defined({
        text: attributeToJson(a['ai.response.text']),
        reasoning: attributeToJson(a['ai.response.reasoning']),
        object: parseMaybeJson(a['ai.response.object']),
        tool_calls: parseMaybeJson(a['ai.response.toolCalls']),
      });
      if (response) return response;
      return has(a, 'ai.toolCall.result') ? objectOr(parseMaybeJson(a['ai.toolCall.result']), 'result') : undefined;
    },
  },
  {
    name: 'OpenInference: llm.output_messages.N.message.*, retrieval.documents.N.document.*, output.value',
    claims: (key) =>
      key === 'output.value' ||
      key === 'output.mime_type' ||
      key.startsWith('llm.output_messages.') ||
      key.startsWith('retrieval.documents.'),
    read: (_, a) => {
      const messages = unflattenIndexed(a, 'llm.output_messages.');
      if (messages.length > 0) return { messages: unwrapOpenInference(messages) };
      const documents = unflattenIndexed(a, 'retrieval.documents.');
      if (documents.length > 0) return { documents: documents.map((d) => (d.document ?? d) as JsonValue) };
      return has(a, 'output.value') ? objectOr(parseMaybeJson(a['output.value']), 'value') : undefined;
    },
  },
  {
    name: 'Traceloop: traceloop.entity.output',
    claims: oneOf('traceloop.entity.output'),
    read: (_, a) => (has(a, 'traceloop.entity.output') ? objectOr(parseMaybeJson(a['traceloop.entity.output']), 'value') : undefined),
  },
  {
    name: 'gen_ai.tool.call.result',
    claims: oneOf('gen_ai.tool.call.result'),
    read: (_, a) => (has(a, 'gen_ai.tool.call.result') ? objectOr(parseMaybeJson(a['gen_ai.tool.call.result']), 'result') : undefined),
  },
];

/** `gen_ai.operation.name` -> SGP type. */
export const GENAI_OPERATION_TYPES: Record<string, SGPSpanType> = {
  chat: 'COMPLETION',
  text_completion: 'COMPLETION',
  generate_content: 'COMPLETION',
  invoke_agent: 'AGENT_WORKFLOW',
  create_agent: 'AGENT_WORKFLOW',
  execute_tool: 'CODE_EXECUTION',
  embeddings: 'CUSTOM',
  retrieval: 'KB_RETRIEVAL',
};

/** `openinference.span.kind` -> SGP type. */
export const OPENINFERENCE_KIND_TYPES: Record<string, SGPSpanType> = {
  LLM: 'COMPLETION',
  AGENT: 'AGENT_WORKFLOW',
  CHAIN: 'AGENT_WORKFLOW',
  TOOL: 'CODE_EXECUTION',
  RETRIEVER: 'KB_RETRIEVAL',
  RERANKER: 'RERANKING',
  GUARDRAIL: 'GUARDRAIL',
  EVALUATOR: 'EVALUATION',
  EMBEDDING: 'CUSTOM',
};

/** `traceloop.span.kind` (and Traceloop's `llm.request.type`) -> SGP type. */
export const TRACELOOP_KIND_TYPES: Record<string, SGPSpanType> = {
  workflow: 'AGENT_WORKFLOW',
  agent: 'AGENT_WORKFLOW',
  task: 'CUSTOM',
  tool: 'CODE_EXECUTION',
  chat: 'COMPLETION',
  completion: 'COMPLETION',
  embedding: 'CUSTOM',
};

/** Vercel AI SDK operation (`ai.operationId`, else the span name) -> SGP type. */
export function aiSdkOperationType(operation: string): SGPSpanType | undefined {
  if (/^ai\.(generateText|streamText|generateObject|streamObject)(\.do(Generate|Stream))?$/.test(operation)) return 'COMPLETION';
  if (operation === 'ai.toolCall') return 'CODE_EXECUTION';
  if (/^ai\.(embed|embedMany)(\.doEmbed)?$/.test(operation)) return 'CUSTOM';
  return undefined;
}

export const TYPE_SOURCES: { name: string; read: (span: ConventionInput) => SGPSpanType | undefined }[] = [
  {
    name: SGP_ATTRIBUTES.spanType,
    read: ({ attributes: a }) => {
      const value = a[SGP_ATTRIBUTES.spanType];
      return isSGPSpanType(value) ? value : undefined;
    },
  },
  { name: 'gen_ai.operation.name', read: ({ attributes: a }) => GENAI_OPERATION_TYPES[String(a['gen_ai.operation.name'])] },
  { name: 'openinference.span.kind', read: ({ attributes: a }) => OPENINFERENCE_KIND_TYPES[String(a['openinference.span.kind']).toUpperCase()] },
  {
    name: 'traceloop.span.kind, llm.request.type',
    read: ({ attributes: a }) => TRACELOOP_KIND_TYPES[String(a['traceloop.span.kind'] ?? a['llm.request.type'])],
  },
  {
    name: 'Vercel AI SDK operation (ai.operationId or span name)',
    read: ({ attributes: a, name }) => aiSdkOperationType(typeof a['ai.operationId'] === 'string' ? a['ai.operationId'] : name),
  },
];

export const GROUP_ID_SOURCES = [SGP_ATTRIBUTES.groupId, 'gen_ai.conversation.id', 'session.id'];

/** Where `metadata.llm` takes each value from, first present wins. */
export const LLM_FIELDS: Record<string, string[]> = {
  request_model: ['gen_ai.request.model', 'ai.model.id', 'llm.model_name'],
  response_model: ['gen_ai.response.model', 'ai.response.model'],
  provider: ['gen_ai.provider.name', 'gen_ai.system', 'ai.model.provider', 'llm.provider', 'llm.system'],
  input_tokens: [
    'gen_ai.usage.input_tokens',
    'gen_ai.usage.prompt_tokens',
    'ai.usage.inputTokens',
    'ai.usage.promptTokens',
    'llm.token_count.prompt',
  ],
  output_tokens: [
    'gen_ai.usage.output_tokens',
    'gen_ai.usage.completion_tokens',
    'ai.usage.outputTokens',
    'ai.usage.completionTokens',
    'llm.token_count.completion',
  ],
  total_tokens: ['llm.usage.total_tokens', 'ai.usage.totalTokens', 'llm.token_count.total'],
};

const LLM_FAMILY = /^(gen_ai|ai|llm)\./;

function llmMetadata(a: Attributes): JsonObject | undefined {
  if (!Object.keys(a).some((key) => LLM_FAMILY.test(key))) return undefined;
  const out: JsonObject = {};
  for (const [field, keys] of Object.entries(LLM_FIELDS)) {
    const key = keys.find((k) => a[k] !== undefined && a[k] !== '');
    if (key !== undefined) out[field] = attributeToJson(a[key]) ?? null;
  }
  if (Object.keys(out).length === 0) return undefined;
  const model = out.response_model ?? out.request_model;
  if (model !== undefined) out.model = model;
  if (out.total_tokens === undefined && typeof out.input_tokens === 'number' && typeof out.output_tokens === 'number') {
    out.total_tokens = out.input_tokens + out.output_tokens;
  }
  return out;
}

function firstContent(sources: ContentSource[], span: ConventionInput): JsonObject | undefined {
  for (const source of sources) {
    const value = source.read(span, span.attributes);
    if (value !== undefined) return value;
  }
  return undefined;
}

const CLAIMERS = [...INPUT_SOURCES, ...OUTPUT_SOURCES].map((source) => source.claims);
/** Every key a content source claims starts like this: other keys skip the claim checks. */
const CONTENT_FAMILY = /^(sgp|gen_ai|ai|llm|input|output|retrieval|traceloop)\./;
const CONTENT_EVENTS = new Set([...Object.keys(GENAI_INPUT_EVENTS), 'gen_ai.choice']);

export function interpretConventions(span: ConventionInput): ConventionResult {
  const a = span.attributes;
  let type: SGPSpanType | undefined;
  for (const source of TYPE_SOURCES) {
    type = source.read(span);
    if (type !== undefined) break;
  }
  const groupKey = GROUP_ID_SOURCES.find((key) => typeof a[key] === 'string' && a[key] !== '');
  const claimedEvents = new Set<number>();
  span.events.forEach((event, index) => {
    if (CONTENT_EVENTS.has(event.name)) claimedEvents.add(index);
  });
  return {
    input: firstContent(INPUT_SOURCES, span),
    output: firstContent(OUTPUT_SOURCES, span),
    type,
    groupId: groupKey === undefined ? undefined : (a[groupKey] as string),
    llm: llmMetadata(a),
    claimedAttribute: (key) =>
      key === SGP_ATTRIBUTES.groupId ||
      (key === SGP_ATTRIBUTES.spanType && type === a[SGP_ATTRIBUTES.spanType]) ||
      (CONTENT_FAMILY.test(key) && CLAIMERS.some((claims) => claims(key))),
    claimedEvents,
  };
}

const GENAI_ATTRIBUTE = /^(gen_ai|llm|ai|openinference|traceloop|sgp)\./;
const GENAI_NAME =
  /^(ai\.|gen_ai|chat |text_completion|generate_content|invoke_agent|create_agent|execute_tool|embeddings|turn:|llm:|tool:|reasoning:|subtask:|agent)/i;

/**
 * The `shouldExportSpan: 'genai'` preset: a span with LLM or agent content, recognised at start by
 * an attribute of one of the conventions above or by a name the conventions (or SGP's profiler) use.
 */
export function isGenAISpan(span: { name: string; attributes: Attributes }): boolean {
  return GENAI_NAME.test(span.name) || Object.keys(span.attributes).some((key) => GENAI_ATTRIBUTE.test(key));
}
