// The public API. Everything else is internal and may change in any release.
export { SGPSpanProcessor } from './pipeline/processor.js';
export type { SGPStats, SGPDropCounts, SGPLastError } from './pipeline/stats.js';
export { SGPSpanExporter } from './delivery/exporter.js';
export { toSGPSpanItem } from './mapping/span-to-item.js';
export type { MappingOptions } from './mapping/span-to-item.js';
export type { MaskFunction, MaskField } from './mapping/prepare.js';
export { SGP_SPAN_TYPES } from './mapping/item.js';
export type { SGPSpanItem, SGPSpanType, SGPSpanStatus, JsonObject, JsonValue, JsonPrimitive } from './mapping/item.js';
export { SGPConfigError, SGPExportError, SGPFlushError } from './errors.js';
export type { SGPExportErrorKind } from './errors.js';
export type { SGPExporterOptions, SGPSpanProcessorOptions, DisabledReason, Environment, LogLevel } from './config.js';
export type { Clock } from './clock.js';
export { withSGPFlush } from './pipeline/serverless.js';
export type { Flushable, WithSGPFlushOptions } from './pipeline/serverless.js';
export { withSGPSpan } from './manual/spans.js';
export type { SGPSpan, SGPSpanOptions, SGPFields } from './manual/spans.js';
export { SGPGroupIdProcessor } from './manual/group-id.js';
