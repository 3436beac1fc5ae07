/**
 * What an OpenAI Agents SDK span says, as SGP wants it: name, type, input, output and the rest as
 * metadata, following the Python SDK's integration. Pure: same span data in, same fields out.
 */
import type { SGPSpanType } from '../../mapping/item.js';

/** The fields of an Agents span's data this module reads; every span data has `type`. */
export interface AgentsSpanData {
  type: string;
  [key: string]: unknown;
}

export const AGENTS_SPAN_TYPES: Record<string, SGPSpanType> = {
  generation: 'COMPLETION',
  response: 'COMPLETION',
  agent: 'AGENT_WORKFLOW',
  function: 'CODE_EXECUTION',
  handoff: 'CUSTOM',
  custom: 'CUSTOM',
  guardrail: 'STANDALONE',
  transcription: 'STANDALONE',
  speech: 'STANDALONE',
  speech_group: 'STANDALONE',
  mcp_tools: 'STANDALONE',
};

/** Names for span data without a `name` of its own (the Python SDK uses the data's class name). */
const DEFAULT_NAMES: Record<string, string> = {
  task: 'Task',
  generation: 'Generation',
  response: 'Response',
  handoff: 'Handoff',
  transcription: 'Transcription',
  speech: 'Speech',
  speech_group: 'SpeechGroup',
  mcp_tools: 'MCPListTools',
  turn: 'Turn',
};

export interface AgentsSpanFields {
  name: string;
  type: SGPSpanType;
  input: Record<string, unknown> | undefined;
  output: Record<string, unknown> | undefined;
  /** The other fields of the span data, by key (private `_` fields left out). */
  metadata: Record<string, unknown>;
  /** A model call's model and token counts, as GenAI attributes, so `metadata.llm` reads them like any other. */
  llm: Record<string, string | number>;
}

/**
 * Span data whose `name` is not what the span is called. A task (one `Runner.run`, a span the
 * Python SDK does not have) carries the workflow name, which is already the name of the trace's
 * root item: `Agent workflow` twice in a row. It goes to metadata (`openai_agents.name`).
 */
const NAME_IS_METADATA = new Set(['task']);

export function agentsSpanFields(data: AgentsSpanData): AgentsSpanFields {
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (key !== 'type' && key !== 'input' && key !== 'output' && !key.startsWith('_')) metadata[key] = value;
  }
  const isResponse = data.type === 'response';
  const response = isResponse && isPlainObject(data._response) ? data._response : undefined;
  return {
    name: typeof data.name === 'string' && data.name !== '' && !NAME_IS_METADATA.has(data.type) ? data.name : (DEFAULT_NAMES[data.type] ?? capitalize(data.type)),
    type: AGENTS_SPAN_TYPES[data.type] ?? 'CUSTOM',
    input: asObject(isResponse ? data._input : data.input, 'input'),
    output: asObject(isResponse ? response?.output : data.output, 'output'),
    metadata,
    // Only model calls: a turn's or task's usage sums its calls, and would count them twice.
    llm: data.type === 'generation' || isResponse ? llmAttributes(data.model ?? response?.model, data.usage ?? response?.usage) : {},
  };
}

/**
 * `value` as an SGP object field: objects as they are, JSON text of an object parsed, anything
 * else wrapped as `{ [key]: value }`.
 */
export function asObject(value: unknown, key: 'input' | 'output'): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (isPlainObject(value)) return value;
  if (typeof value === 'string' && value.trimStart().startsWith('{')) {
    const parsed = parseJson(value);
    if (isPlainObject(parsed)) return parsed;
  }
  return { [key]: value };
}

function llmAttributes(model: unknown, usage: unknown): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (typeof model === 'string' && model !== '') out['gen_ai.request.model'] = model;
  if (isPlainObject(usage)) {
    if (typeof usage.input_tokens === 'number') out['gen_ai.usage.input_tokens'] = usage.input_tokens;
    if (typeof usage.output_tokens === 'number') out['gen_ai.usage.output_tokens'] = usage.output_tokens;
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function capitalize(text: string): string {
  return text ? text[0].toUpperCase() + text.slice(1) : 'Span';
}
