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
import type { Shape } from './without-content.js';
import {
  EMBEDDING_COUNTS,
  fieldsOf,
  FREE_FORM,
  LIST,
  MESSAGES,
  PARTS,
  RANKING,
  recordFormat,
  TOOL_CALLS,
  TOOL_DEFINITIONS,
  withField,
} from './without-content.js';

/** The parts of a span the conventions read. */
export interface ConventionInput {
  name: string;
  attributes: Attributes;
  events: readonly { name: string; attributes?: Attributes }[];
}

export interface ConventionResult {
  /** Each carries the format it was read in (`recordFormat`), for `captureContent: false`: pass the objects on as they are. */
  input: JsonObject | undefined;
  output: JsonObject | undefined;
  type: SGPSpanType | undefined;
  groupId: string | undefined;
  /** Model and token usage, normalised (`metadata.llm`). */
  llm: JsonObject | undefined;
  /** Attribute keys that must not be copied into metadata. */
  claimedAttribute(key: string): boolean;
  /** Indexes of events consumed into input/output. */
  claimedEvents: ReadonlySet<number>;
}

/** The attributes to set on your own spans; they take precedence over every convention below. */
export const SGP_ATTRIBUTES = {
  input: 'sgp.input',
  output: 'sgp.output',
  spanType: 'sgp.span_type',
  groupId: 'sgp.group_id',
} as const;

/**
 * What a source read, and the format it read it in: which positions are structure when content
 * capture is off. Only formats a convention defines have any; what a user or a tool wrote is
 * {@link FREE_FORM}.
 */
interface Content {
  value: JsonObject;
  format: Shape;
}

type Read = (span: ConventionInput, attrs: Attributes) => Content | undefined;

function inFormat(format: Shape, value: JsonObject | undefined): Content | undefined {
  return value === undefined ? undefined : { value, format };
}
const freeForm = (value: JsonObject | undefined) => inFormat(FREE_FORM, value);
const CHAT: Shape = fieldsOf({ messages: MESSAGES });

interface ContentSource {
  /** Which convention this is, for the README table. */
  name: string;
  /**
   * The key families (`gen_ai` for `gen_ai.*`) it reads, and whether it reads content events: a
   * span with none of them is not asked (the first segment of a key is cheap to know; asking
   * every source is not).
   */
  families: readonly ContentFamily[];
  events?: true;
  claims: (key: string) => boolean;
  read: Read;
}

/** Every key a content source reads or claims starts with one of these, then a dot. */
type ContentFamily = 'sgp' | 'gen_ai' | 'ai' | 'llm' | 'input' | 'output' | 'retrieval' | 'traceloop' | 'embedding' | 'reranker';
const CONTENT_FAMILY = /^(sgp|gen_ai|ai|llm|input|output|retrieval|traceloop|embedding|reranker)\./;

const has = (attrs: Attributes, key: string) => attrs[key] !== undefined;
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
  if (!indexedKeysPossible) return [];
  return rebuildIndexed(attrs, prefix, parseMaybeJson);
}

/**
 * False only while {@link interpretConventions} maps a span none of whose keys contains `.<digits>.`,
 * the mark of every flattened indexed key: then the dozen indexed sources it asks need not each
 * walk the attributes to find nothing, which most spans would otherwise pay for.
 */
let indexedKeysPossible = true;
const INDEXED_KEY_MARK = /\.\d+\./;

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
  let any = false;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === undefined) continue;
    setOwn(out, key, value);
    any = true;
  }
  return any ? out : undefined;
}

/** A list attribute (JSON text of an array, or an array of JSON texts) as a JSON array. */
function parsedList(value: unknown): JsonValue[] | undefined {
  const parsed = parseMaybeJson(value);
  if (parsed === undefined) return undefined;
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** The indexed entries under `prefix`, each unwrapped from its `wrapper` key when it has one. */
function indexedList(attrs: Attributes, prefix: string, wrapper: string): JsonValue[] | undefined {
  const entries = unflattenIndexed(attrs, prefix);
  return entries.length > 0 ? entries.map((entry) => (entry[wrapper] ?? entry) as JsonValue) : undefined;
}

/** OpenInference's `llm.prompts.N.prompt.text` / `llm.choices.N.completion.text` as a list of texts. */
function indexedTexts(attrs: Attributes, prefix: string, wrapper: string): JsonValue[] | undefined {
  return indexedList(attrs, prefix, wrapper)?.map((entry) =>
    entry !== null && typeof entry === 'object' && !Array.isArray(entry) && entry.text !== undefined ? entry.text : entry,
  );
}

/** `<prefix>N.<field>` keys, where N is an integer: the only keys an indexed family owns. */
const indexedUnder = (prefix: string) => {
  const pattern = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\d+\\.`);
  return (key: string) => pattern.test(key);
};

const OPENINFERENCE_INDEXED_INPUTS = ['llm.input_messages.', 'llm.prompts.', 'embedding.embeddings.', 'reranker.input_documents.'].map(indexedUnder);
const OPENINFERENCE_INDEXED_OUTPUTS = ['llm.output_messages.', 'llm.choices.', 'retrieval.documents.', 'reranker.output_documents.'].map(indexedUnder);

const GENAI_INPUT_EVENTS: Record<string, string> = {
  'gen_ai.system.message': 'system',
  'gen_ai.user.message': 'user',
  'gen_ai.assistant.message': 'assistant',
  'gen_ai.tool.message': 'tool',
};
/** The current spec's opt-in event: the span's content attributes, recorded as an event instead. */
const GENAI_DETAILS_EVENT = 'gen_ai.client.inference.operation.details';
/** Semantic conventions 1.26-1.27: the prompt and completion as events carrying `gen_ai.prompt` / `gen_ai.completion`. */
const GENAI_CONTENT_EVENTS = { prompt: 'gen_ai.content.prompt', completion: 'gen_ai.content.completion' } as const;

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

/** Attributes of the first event named `name`, if any. */
function eventAttributes(span: ConventionInput, name: string): Attributes | undefined {
  return span.events.find((event) => event.name === name)?.attributes;
}

/**
 * `gen_ai.prompt` / `gen_ai.completion` content: a JSON array of messages, or text kept under
 * `textKey`; a JSON object is nobody's format, so it is free-form.
 */
function genAIText(value: unknown, textKey: string): Content | undefined {
  const parsed = parseMaybeJson(value);
  if (Array.isArray(parsed)) return inFormat(CHAT, { messages: parsed });
  if (parsed !== null && typeof parsed === 'object') return freeForm(parsed);
  return inFormat(fieldsOf({ [textKey]: FREE_FORM }), objectOr(parsed, textKey));
}

/**
 * The deprecated `gen_ai.prompt` / `gen_ai.completion`: flattened `<key>.N.*` attributes rebuilt as
 * messages, else the attribute itself, else the 1.26-1.27 event that carries it. Only
 * integer-indexed keys belong here: `gen_ai.prompt.name` is a current, non-content attribute.
 */
function deprecatedGenAIContent(key: 'gen_ai.prompt' | 'gen_ai.completion', textKey: string): ContentSource {
  const event = key === 'gen_ai.prompt' ? GENAI_CONTENT_EVENTS.prompt : GENAI_CONTENT_EVENTS.completion;
  const flattened = indexedUnder(`${key}.`);
  return {
    name: `${key}, ${key}.N.* (deprecated); ${event} events`,
    families: ['gen_ai'],
    events: true,
    claims: (k) => k === key || flattened(k),
    read: (span, a) => {
      const messages = unflattenIndexed(a, `${key}.`);
      if (messages.length > 0) return inFormat(CHAT, { messages });
      if (has(a, key)) return genAIText(a[key], textKey);
      const fromEvent = eventAttributes(span, event)?.[key];
      return fromEvent === undefined ? undefined : genAIText(fromEvent, textKey);
    },
  };
}

/** GenAI input content from span attributes, or from the details event when the span has none. */
function genAIInput(attrs: Attributes): Content | undefined {
  if (!has(attrs, 'gen_ai.input.messages') && !has(attrs, 'gen_ai.system_instructions')) return undefined;
  const input = defined({
    system_instructions: parseMaybeJson(attrs['gen_ai.system_instructions']),
    messages: parseMaybeJson(attrs['gen_ai.input.messages']),
  });
  return inFormat(fieldsOf({ system_instructions: PARTS, messages: MESSAGES }), input);
}

/** An AI SDK value serialized from a `Uint8Array` (`{"0":137,"1":80,...}`) as base64 text. */
function bytesAsBase64(value: JsonValue): JsonValue {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 0) return value;
  const bytes = new Uint8Array(keys.length);
  for (let i = 0; i < keys.length; i += 1) {
    const byte = value[String(i)];
    if (typeof byte !== 'number' || !Number.isInteger(byte) || byte < 0 || byte > 255) return value;
    bytes[i] = byte;
  }
  return Buffer.from(bytes).toString('base64');
}

/** AI SDK messages with binary parts (`image`, `data`) as base64, as the SDK itself records files. */
function aiSdkMessages(value: JsonValue | undefined): JsonValue | undefined {
  if (!Array.isArray(value)) return value;
  return value.map((message) => {
    if (message === null || typeof message !== 'object' || Array.isArray(message) || !Array.isArray(message.content)) return message;
    const content = message.content.map((part) => {
      if (part === null || typeof part !== 'object' || Array.isArray(part)) return part;
      const out: JsonObject = { ...part };
      for (const key of ['image', 'data']) if (out[key] !== undefined) setOwn(out, key, bytesAsBase64(out[key]!));
      return out;
    });
    return { ...message, content };
  });
}

/** AI SDK tool calls with their `input` (JSON text from the provider) parsed, like other conventions' arguments. */
function aiSdkToolCalls(value: JsonValue | undefined): JsonValue | undefined {
  if (!Array.isArray(value)) return value;
  return value.map((call) =>
    call !== null && typeof call === 'object' && !Array.isArray(call) && typeof call.input === 'string'
      ? { ...call, input: parseMaybeJson(call.input) ?? null }
      : call,
  );
}

const QUERY: Shape = fieldsOf({ query: FREE_FORM });
const DOCUMENTS: Shape = fieldsOf({ documents: LIST });
/** The AI SDK's `ai.prompt`: `{ system?, prompt?, messages? }`. */
const AI_SDK_PROMPT: Shape = { fields: { messages: MESSAGES }, content: ['system', 'prompt'] };
const AI_SDK_RESPONSE: Shape = fieldsOf({ text: FREE_FORM, reasoning: FREE_FORM, object: FREE_FORM, tool_calls: TOOL_CALLS });

export const INPUT_SOURCES: ContentSource[] = [
  {
    name: SGP_ATTRIBUTES.input,
    families: ['sgp'],
    claims: oneOf(SGP_ATTRIBUTES.input),
    read: (_, a) => (has(a, SGP_ATTRIBUTES.input) ? freeForm(toJsonObjectField(a[SGP_ATTRIBUTES.input])) : undefined),
  },
  {
    name: `gen_ai.input.messages (+ gen_ai.system_instructions); ${GENAI_DETAILS_EVENT} event`,
    families: ['gen_ai'],
    events: true,
    claims: oneOf('gen_ai.input.messages', 'gen_ai.system_instructions'),
    read: (span, a) => genAIInput(a) ?? genAIInput(eventAttributes(span, GENAI_DETAILS_EVENT) ?? {}),
  },
  deprecatedGenAIContent('gen_ai.prompt', 'prompt'),
  {
    name: 'gen_ai.{system,user,assistant,tool}.message events (deprecated)',
    families: [],
    events: true,
    claims: () => false,
    read: (span) => {
      const messages = span.events
        .filter((event) => event.name in GENAI_INPUT_EVENTS)
        .map((event) => eventMessage(event, GENAI_INPUT_EVENTS[event.name]));
      return messages.length > 0 ? inFormat(CHAT, { messages }) : undefined;
    },
  },
  {
    name: 'gen_ai.retrieval.query.text, gen_ai.memory.query.text',
    families: ['gen_ai'],
    claims: oneOf('gen_ai.retrieval.query.text', 'gen_ai.memory.query.text'),
    read: (_, a) =>
      inFormat(QUERY, defined({ query: attributeToJson(a['gen_ai.retrieval.query.text'] ?? a['gen_ai.memory.query.text']) })),
  },
  {
    name: 'Vercel AI SDK: ai.prompt.messages, ai.prompt, ai.toolCall.args, ai.value(s), ai.documents',
    families: ['ai'],
    claims: oneOf('ai.prompt.messages', 'ai.prompt', 'ai.toolCall.args', 'ai.value', 'ai.values', 'ai.documents'),
    read: (_, a) => {
      if (has(a, 'ai.prompt.messages')) return inFormat(CHAT, { messages: aiSdkMessages(parseMaybeJson(a['ai.prompt.messages'])) ?? null });
      if (has(a, 'ai.prompt')) return inFormat(AI_SDK_PROMPT, objectOr(parseMaybeJson(a['ai.prompt']), 'prompt'));
      if (has(a, 'ai.toolCall.args')) return freeForm(objectOr(parseMaybeJson(a['ai.toolCall.args']), 'arguments'));
      if (has(a, 'ai.values') || has(a, 'ai.value')) return inFormat(fieldsOf({ values: LIST }), { values: parsedList(a['ai.values'] ?? a['ai.value']) ?? [] });
      if (has(a, 'ai.documents')) return inFormat(fieldsOf({ documents: LIST }), { documents: parsedList(a['ai.documents']) ?? [] });
      return undefined;
    },
  },
  {
    name: 'OpenInference: llm.input_messages.N.message.*, llm.prompts, llm.prompt_template.*, embedding.embeddings.N.embedding.text, reranker.query + reranker.input_documents, input.value',
    families: ['llm', 'embedding', 'reranker', 'input'],
    claims: (key) =>
      key === 'input.value' ||
      key === 'input.mime_type' ||
      key === 'llm.prompts' ||
      key === 'llm.prompt_template.template' ||
      key === 'llm.prompt_template.variables' ||
      key === 'reranker.query' ||
      OPENINFERENCE_INDEXED_INPUTS.some((owns) => owns(key)),
    read: (_, a) => {
      const inputMessages = unflattenIndexed(a, 'llm.input_messages.');
      const llm = defined({
        messages: inputMessages.length > 0 ? unwrapOpenInference(inputMessages) : undefined,
        prompts: indexedTexts(a, 'llm.prompts.', 'prompt') ?? parsedList(a['llm.prompts']),
        template: attributeToJson(a['llm.prompt_template.template']),
        variables: parseMaybeJson(a['llm.prompt_template.variables']),
      });
      if (llm) return inFormat(fieldsOf({ messages: MESSAGES, prompts: LIST, template: FREE_FORM, variables: FREE_FORM }), llm);
      const texts = unflattenIndexed(a, 'embedding.embeddings.');
      const values = texts.map((entry) => ((entry.embedding as JsonObject | undefined)?.text ?? null) as JsonValue);
      if (values.some((value) => value !== null)) return inFormat(fieldsOf({ values: LIST }), { values });
      const reranker = defined({
        query: attributeToJson(a['reranker.query']),
        documents: indexedList(a, 'reranker.input_documents.', 'document'),
      });
      if (reranker) return inFormat(fieldsOf({ query: FREE_FORM, documents: LIST }), reranker);
      return has(a, 'input.value') ? freeForm(objectOr(parseMaybeJson(a['input.value']), 'value')) : undefined;
    },
  },
  {
    name: 'Traceloop: traceloop.entity.input',
    families: ['traceloop'],
    claims: oneOf('traceloop.entity.input'),
    read: (_, a) => (has(a, 'traceloop.entity.input') ? freeForm(objectOr(parseMaybeJson(a['traceloop.entity.input']), 'value')) : undefined),
  },
  {
    name: 'gen_ai.tool.call.arguments',
    families: ['gen_ai'],
    claims: oneOf('gen_ai.tool.call.arguments'),
    read: (_, a) =>
      has(a, 'gen_ai.tool.call.arguments') ? freeForm(objectOr(parseMaybeJson(a['gen_ai.tool.call.arguments']), 'arguments')) : undefined,
  },
];

/**
 * Tool definitions, from whichever convention records them, as `input.tools` (added to the input
 * any other source gave, or alone when the span records nothing else).
 */
export const TOOL_DEFINITION_SOURCES: {
  name: string;
  families: readonly ContentFamily[];
  claims: (key: string) => boolean;
  read: (attrs: Attributes) => JsonValue[] | undefined;
}[] = [
  { name: 'gen_ai.tool.definitions', families: ['gen_ai'], claims: oneOf('gen_ai.tool.definitions'), read: (a) => parsedList(a['gen_ai.tool.definitions']) },
  { name: 'Vercel AI SDK: ai.prompt.tools', families: ['ai'], claims: oneOf('ai.prompt.tools'), read: (a) => parsedList(a['ai.prompt.tools']) },
  {
    name: 'OpenInference: llm.tools.N.tool.json_schema',
    families: ['llm'],
    claims: indexedUnder('llm.tools.'),
    read: (a) => {
      const tools = unflattenIndexed(a, 'llm.tools.');
      return tools.length > 0 ? tools.map((entry) => ((entry.tool as JsonObject | undefined)?.json_schema ?? entry) as JsonValue) : undefined;
    },
  },
  {
    name: 'OpenLLMetry: llm.request.functions.N.*',
    families: ['llm'],
    claims: indexedUnder('llm.request.functions.'),
    read: (a) => {
      const functions = unflattenIndexed(a, 'llm.request.functions.');
      return functions.length > 0 ? functions : undefined;
    },
  },
];

export const OUTPUT_SOURCES: ContentSource[] = [
  {
    name: SGP_ATTRIBUTES.output,
    families: ['sgp'],
    claims: oneOf(SGP_ATTRIBUTES.output),
    read: (_, a) => (has(a, SGP_ATTRIBUTES.output) ? freeForm(toJsonObjectField(a[SGP_ATTRIBUTES.output])) : undefined),
  },
  {
    name: `gen_ai.output.messages; ${GENAI_DETAILS_EVENT} event`,
    families: ['gen_ai'],
    events: true,
    claims: oneOf('gen_ai.output.messages'),
    read: (span, a) => {
      const messages = a['gen_ai.output.messages'] ?? eventAttributes(span, GENAI_DETAILS_EVENT)?.['gen_ai.output.messages'];
      return messages === undefined ? undefined : inFormat(CHAT, { messages: parseMaybeJson(messages) ?? null });
    },
  },
  deprecatedGenAIContent('gen_ai.completion', 'completion'),
  {
    name: 'gen_ai.choice events (deprecated)',
    families: [],
    events: true,
    claims: () => false,
    read: (span) => {
      const choices = span.events.filter((event) => event.name === 'gen_ai.choice').map((event) => eventMessage(event, undefined));
      if (choices.length === 0) return undefined;
      // A choice carries its message under `message`; lift it so output reads like the other conventions.
      const messages = choices.map((choice) => {
        const { message, ...rest } = choice;
        return message !== null && typeof message === 'object' && !Array.isArray(message) ? { ...message, ...rest } : choice;
      });
      return inFormat(CHAT, { messages });
    },
  },
  {
    name: 'gen_ai.retrieval.documents, gen_ai.memory.records',
    families: ['gen_ai'],
    claims: oneOf('gen_ai.retrieval.documents', 'gen_ai.memory.records'),
    read: (_, a) => {
      const documents = parsedList(a['gen_ai.retrieval.documents'] ?? a['gen_ai.memory.records']);
      return inFormat(DOCUMENTS, documents && { documents });
    },
  },
  {
    name: 'Vercel AI SDK: ai.response.text, .reasoning, .object, .toolCalls; ai.toolCall.result; ai.embedding(s); ai.ranking',
    families: ['ai'],
    claims: oneOf(
      'ai.response.text',
      'ai.response.reasoning',
      'ai.response.object',
      'ai.response.toolCalls',
      'ai.toolCall.result',
      'ai.embedding',
      'ai.embeddings',
      'ai.ranking',
    ),
    read: (_, a) => {
      const response = defined({
        text: attributeToJson(a['ai.response.text']),
        reasoning: attributeToJson(a['ai.response.reasoning']),
        object: parseMaybeJson(a['ai.response.object']),
        tool_calls: aiSdkToolCalls(parseMaybeJson(a['ai.response.toolCalls'])),
      });
      if (response) return inFormat(AI_SDK_RESPONSE, response);
      if (has(a, 'ai.toolCall.result')) return freeForm(objectOr(parseMaybeJson(a['ai.toolCall.result']), 'result'));
      if (has(a, 'ai.ranking')) return inFormat(fieldsOf({ ranking: RANKING }), { ranking: parsedList(a['ai.ranking']) ?? [] });
      const vectors = parsedList(a['ai.embeddings']) ?? (has(a, 'ai.embedding') ? [parseMaybeJson(a['ai.embedding']) ?? null] : undefined);
      return vectors === undefined ? undefined : embeddingSummary(vectors);
    },
  },
  {
    name: 'OpenInference: llm.output_messages.N.message.*, llm.choices.N.completion.text, retrieval.documents.N.document.*, reranker.output_documents, embedding.embeddings.N.embedding.vector, output.value',
    families: ['llm', 'retrieval', 'reranker', 'embedding', 'output'],
    claims: (key) =>
      key === 'output.value' ||
      key === 'output.mime_type' ||
      OPENINFERENCE_INDEXED_OUTPUTS.some((owns) => owns(key)),
    read: (_, a) => {
      const messages = unflattenIndexed(a, 'llm.output_messages.');
      if (messages.length > 0) return inFormat(CHAT, { messages: unwrapOpenInference(messages) });
      const choices = indexedTexts(a, 'llm.choices.', 'completion');
      if (choices) return inFormat(fieldsOf({ choices: LIST }), { choices });
      const documents = indexedList(a, 'retrieval.documents.', 'document');
      if (documents) return inFormat(DOCUMENTS, { documents });
      const ranking = indexedList(a, 'reranker.output_documents.', 'document');
      if (ranking) return inFormat(fieldsOf({ ranking: RANKING }), { ranking });
      const vectors = unflattenIndexed(a, 'embedding.embeddings.')
        .map((entry) => (entry.embedding as JsonObject | undefined)?.vector)
        .filter((vector) => vector !== undefined);
      if (vectors.length > 0) return embeddingSummary(vectors);
      return has(a, 'output.value') ? freeForm(objectOr(parseMaybeJson(a['output.value']), 'value')) : undefined;
    },
  },
  {
    name: 'Traceloop: traceloop.entity.output',
    families: ['traceloop'],
    claims: oneOf('traceloop.entity.output'),
    read: (_, a) => (has(a, 'traceloop.entity.output') ? freeForm(objectOr(parseMaybeJson(a['traceloop.entity.output']), 'value')) : undefined),
  },
  {
    name: 'gen_ai.tool.call.result',
    families: ['gen_ai'],
    claims: oneOf('gen_ai.tool.call.result'),
    read: (_, a) => (has(a, 'gen_ai.tool.call.result') ? freeForm(objectOr(parseMaybeJson(a['gen_ai.tool.call.result']), 'result')) : undefined),
  },
];

/** Embedding vectors are never sent: their count and dimensions describe them. */
function embeddingSummary(vectors: JsonValue[]): Content | undefined {
  const first = vectors.find(Array.isArray);
  return inFormat(EMBEDDING_COUNTS, defined({ embeddings: vectors.length, dimensions: first?.length }) ?? {});
}

/** `gen_ai.operation.name` -> SGP type. */
export const GENAI_OPERATION_TYPES: Record<string, SGPSpanType> = {
  chat: 'COMPLETION',
  text_completion: 'COMPLETION',
  generate_content: 'COMPLETION',
  invoke_agent: 'AGENT_WORKFLOW',
  create_agent: 'AGENT_WORKFLOW',
  invoke_workflow: 'AGENT_WORKFLOW',
  execute_tool: 'CODE_EXECUTION',
  embeddings: 'CUSTOM',
  retrieval: 'KB_RETRIEVAL',
  search_memory: 'KB_RETRIEVAL',
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
  PROMPT: 'PROMPT_ENGINEERING',
};

/** `traceloop.span.kind` (and OpenLLMetry's `llm.request.type`) -> SGP type. */
export const TRACELOOP_KIND_TYPES: Record<string, SGPSpanType> = {
  workflow: 'AGENT_WORKFLOW',
  agent: 'AGENT_WORKFLOW',
  task: 'CUSTOM',
  tool: 'CODE_EXECUTION',
  chat: 'COMPLETION',
  completion: 'COMPLETION',
  embedding: 'CUSTOM',
  rerank: 'RERANKING',
};

/** `langsmith.span.kind` (LangSmith's OpenTelemetry attributes) -> SGP type. */
export const LANGSMITH_KIND_TYPES: Record<string, SGPSpanType> = {
  llm: 'COMPLETION',
  chain: 'AGENT_WORKFLOW',
  tool: 'CODE_EXECUTION',
  retriever: 'KB_RETRIEVAL',
  embedding: 'CUSTOM',
  prompt: 'PROMPT_ENGINEERING',
};

/** Vercel AI SDK operation (`ai.operationId`, else the span name) -> SGP type. */
export function aiSdkOperationType(operation: string): SGPSpanType | undefined {
  if (/^ai\.(generateText|streamText|generateObject|streamObject)(\.do(Generate|Stream))?$/.test(operation)) return 'COMPLETION';
  if (operation === 'ai.toolCall') return 'CODE_EXECUTION';
  if (/^ai\.(embed|embedMany)(\.doEmbed)?$/.test(operation)) return 'CUSTOM';
  if (/^ai\.rerank(\.doRerank)?$/.test(operation)) return 'RERANKING';
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
  { name: 'langsmith.span.kind', read: ({ attributes: a }) => LANGSMITH_KIND_TYPES[String(a['langsmith.span.kind']).toLowerCase()] },
  {
    name: 'Vercel AI SDK operation (ai.operationId or span name)',
    read: ({ attributes: a, name }) => aiSdkOperationType(typeof a['ai.operationId'] === 'string' ? a['ai.operationId'] : name),
  },
];

export const GROUP_ID_SOURCES = [
  SGP_ATTRIBUTES.groupId,
  'gen_ai.conversation.id',
  'session.id',
  'ai.telemetry.metadata.sessionId',
  'langsmith.metadata.thread_id',
  'langsmith.metadata.session_id',
  'langsmith.metadata.conversation_id',
];

/** Where `metadata.llm` takes each value from, first present wins. */
export const LLM_FIELDS: Record<string, string[]> = {
  request_model: ['gen_ai.request.model', 'ai.model.id', 'llm.request.model_name', 'llm.model_name'],
  response_model: ['gen_ai.response.model', 'ai.response.model', 'llm.response.model_name', 'llm.response.model'],
  embedding_model: ['embedding.model_name'],
  provider: ['gen_ai.provider.name', 'gen_ai.system', 'ai.model.provider', 'llm.provider', 'llm.system'],
  input_tokens: [
    'gen_ai.usage.input_tokens',
    'gen_ai.usage.prompt_tokens',
    'ai.usage.inputTokens',
    'ai.usage.promptTokens',
    'ai.usage.tokens',
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
  cache_read_input_tokens: [
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_read_input_tokens',
    'ai.usage.inputTokenDetails.cacheReadTokens',
    'ai.usage.cachedInputTokens',
    'llm.token_count.prompt_details.cache_read',
  ],
  cache_creation_input_tokens: [
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens',
    'ai.usage.inputTokenDetails.cacheWriteTokens',
    'llm.token_count.prompt_details.cache_write',
  ],
  reasoning_tokens: [
    'gen_ai.usage.reasoning.output_tokens',
    'gen_ai.usage.reasoning_tokens',
    'ai.usage.outputTokenDetails.reasoningTokens',
    'ai.usage.reasoningTokens',
    'llm.token_count.completion_details.reasoning',
  ],
};


/** For each attribute key that feeds `metadata.llm`: its field, and its rank among that field's sources (0 wins). */
const LLM_FIELD_OF_KEY = new Map<string, { field: string; rank: number }>(
  Object.entries(LLM_FIELDS).flatMap(([field, sources]) => sources.map((key, rank) => [key, { field, rank }] as const)),
);
const LLM_FIELD_ORDER = Object.keys(LLM_FIELDS);

function llmMetadata(a: Attributes, keys: readonly string[]): JsonObject | undefined {
  // The span's own keys are looked up (a few), not every source of every field (forty).
  let best: Map<string, { rank: number; key: string }> | undefined;
  for (const key of keys) {
    const source = LLM_FIELD_OF_KEY.get(key);
    if (source === undefined) continue;
    const value = a[key];
    if (value === undefined || value === '') continue;
    best ??= new Map();
    const current = best.get(source.field);
    if (current === undefined || source.rank < current.rank) best.set(source.field, { rank: source.rank, key });
  }
  if (best === undefined) return undefined;
  const out: JsonObject = {};
  // Fields in LLM_FIELDS order, as they were always written.
  for (const field of LLM_FIELD_ORDER) {
    const chosen = best.get(field);
    if (chosen !== undefined) out[field] = attributeToJson(a[chosen.key]) ?? null;
  }
  const model = out.response_model ?? out.request_model ?? out.embedding_model;
  if (model !== undefined) out.model = model;
  if (out.total_tokens === undefined && typeof out.input_tokens === 'number' && typeof out.output_tokens === 'number') {
    out.total_tokens = out.input_tokens + out.output_tokens;
  }
  return out;
}

/** Which content families a span's keys belong to, and whether it has a content event. */
interface Presence {
  families: ReadonlySet<string>;
  events: boolean;
}

function asks(source: { families: readonly ContentFamily[]; events?: true }, present: Presence): boolean {
  return (source.events === true && present.events) || source.families.some((family) => present.families.has(family));
}

function firstContent(sources: ContentSource[], span: ConventionInput, present: Presence): Content | undefined {
  for (const source of sources) {
    if (!asks(source, present)) continue;
    const content = source.read(span, span.attributes);
    if (content !== undefined) return content;
  }
  return undefined;
}

/** The winning input, with tool definitions from any convention as `tools` (never over `sgp.input`). */
function inputWithTools(span: ConventionInput, present: Presence): Content | undefined {
  const input = firstContent(INPUT_SOURCES, span, present);
  if (has(span.attributes, SGP_ATTRIBUTES.input)) return input;
  if (input?.value.tools !== undefined) return input;
  for (const source of TOOL_DEFINITION_SOURCES) {
    if (!asks(source, present)) continue;
    const tools = source.read(span.attributes);
    if (tools !== undefined) return { value: { ...input?.value, tools }, format: withField(input?.format ?? {}, 'tools', TOOL_DEFINITIONS) };
  }
  return input;
}

/** The object, labelled with its format for `captureContent: false` (see without-content.ts). */
function recorded(content: Content | undefined): JsonObject | undefined {
  return content === undefined ? undefined : recordFormat(content.value, content.format);
}

const CLAIMERS = [...INPUT_SOURCES, ...OUTPUT_SOURCES, ...TOOL_DEFINITION_SOURCES].map((source) => source.claims);

/**
 * Whether a content source claims `key` (so it is not repeated in metadata). A program uses few
 * distinct keys, asked for every span: the answers are remembered, up to a bound.
 */
const CLAIM_MEMO = new Map<string, boolean>();
const CLAIM_MEMO_MAX = 4096;
function claimedByContent(key: string): boolean {
  const known = CLAIM_MEMO.get(key);
  if (known !== undefined) return known;
  const claimed = CONTENT_FAMILY.test(key) && CLAIMERS.some((claims) => claims(key));
  if (CLAIM_MEMO.size >= CLAIM_MEMO_MAX) CLAIM_MEMO.clear();
  CLAIM_MEMO.set(key, claimed);
  return claimed;
}

/** Events whose content is read into input/output (and so left out of `metadata.otel.events`). */
export const CONTENT_EVENTS: ReadonlySet<string> = new Set([
  ...Object.keys(GENAI_INPUT_EVENTS),
  'gen_ai.choice',
  GENAI_DETAILS_EVENT,
  GENAI_CONTENT_EVENTS.prompt,
  GENAI_CONTENT_EVENTS.completion,
]);

export function interpretConventions(span: ConventionInput): ConventionResult {
  const keys = Object.keys(span.attributes);
  indexedKeysPossible = keys.some((key) => INDEXED_KEY_MARK.test(key));
  try {
    return readConventions(span, keys);
  } finally {
    indexedKeysPossible = true;
  }
}

function readConventions(span: ConventionInput, keys: readonly string[]): ConventionResult {
  const a = span.attributes;
  let type: SGPSpanType | undefined;
  for (const source of TYPE_SOURCES) {
    type = source.read(span);
    if (type !== undefined) break;
  }
  const groupKey = GROUP_ID_SOURCES.find((key) => typeof a[key] === 'string' && a[key] !== '');
  let claimedEvents: ReadonlySet<number> = NO_CLAIMED_EVENTS;
  span.events.forEach((event, index) => {
    if (!CONTENT_EVENTS.has(event.name)) return;
    if (claimedEvents === NO_CLAIMED_EVENTS) claimedEvents = new Set<number>();
    (claimedEvents as Set<number>).add(index);
  });
  // Only the sources of the families present are asked: none for a span with no content key and
  // no content event (HTTP, database, most of a program's spans).
  const families = new Set<string>();
  for (const key of keys) {
    const family = CONTENT_FAMILY.exec(key)?.[1];
    if (family !== undefined) families.add(family);
  }
  const present: Presence = { families, events: claimedEvents.size > 0 };
  const mayHaveContent = present.events || families.size > 0;
  return {
    input: mayHaveContent ? recorded(inputWithTools(span, present)) : undefined,
    output: mayHaveContent ? recorded(firstContent(OUTPUT_SOURCES, span, present)) : undefined,
    type,
    groupId: groupKey === undefined ? undefined : (a[groupKey] as string),
    llm: llmMetadata(a, keys),
    claimedAttribute: (key) =>
      key === SGP_ATTRIBUTES.groupId ||
      (key === SGP_ATTRIBUTES.spanType && type === a[SGP_ATTRIBUTES.spanType]) ||
      claimedByContent(key),
    claimedEvents,
  };
}

const NO_CLAIMED_EVENTS: ReadonlySet<number> = new Set();

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
