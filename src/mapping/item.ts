/** The SGP span item, as `PUT /v5/spans/batch` accepts it (see the README's mapping section). */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export const SGP_SPAN_TYPES = [
  'TEXT_INPUT',
  'TEXT_OUTPUT',
  'COMPLETION_INPUT',
  'COMPLETION',
  'KB_RETRIEVAL',
  'KB_INPUT',
  'RERANKING',
  'EXTERNAL_ENDPOINT',
  'PROMPT_ENGINEERING',
  'DOCUMENT_INPUT',
  'MAP_REDUCE',
  'DOCUMENT_SEARCH',
  'DOCUMENT_PROMPT',
  'CUSTOM',
  'CODE_EXECUTION',
  'DATA_MANIPULATION',
  'EVALUATION',
  'FILE_RETRIEVAL',
  'KB_ADD_CHUNK',
  'KB_MANAGEMENT',
  'GUARDRAIL',
  'TRACER',
  'AGENT_TRACER',
  'AGENT_WORKFLOW',
  'STANDALONE',
] as const;

export type SGPSpanType = (typeof SGP_SPAN_TYPES)[number];
export type SGPSpanStatus = 'SUCCESS' | 'ERROR' | 'CANCELED';
export const SGP_SPAN_STATUSES: readonly SGPSpanStatus[] = ['SUCCESS', 'ERROR', 'CANCELED'];

export interface SGPSpanItem {
  name: string;
  id: string;
  trace_id: string;
  parent_id?: string;
  group_id?: string;
  start_timestamp: string;
  /** Absent while the span is in progress. */
  end_timestamp?: string;
  input: JsonObject;
  output: JsonObject;
  metadata: JsonObject;
  status: SGPSpanStatus;
  type: SGPSpanType;
}

const SPAN_TYPE_SET: ReadonlySet<string> = new Set(SGP_SPAN_TYPES);

export function isSGPSpanType(value: unknown): value is SGPSpanType {
  return typeof value === 'string' && SPAN_TYPE_SET.has(value);
}
