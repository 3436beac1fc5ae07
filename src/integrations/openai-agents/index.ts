// `sgp-otel/openai-agents`: OpenAI Agents SDK traces into SGP through OpenTelemetry.
export { SGPAgentsTraceProcessor } from './processor.js';
export type { SGPAgentsTraceProcessorOptions, AgentsTrace, AgentsSpan } from './processor.js';
export { AGENTS_SPAN_TYPES } from './span-data.js';
export type { AgentsSpanData } from './span-data.js';
