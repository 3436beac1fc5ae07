/**
 * The two things sgp-otel needs from `@opentelemetry/core`, written against the API alone, so
 * that it adds no second copy of core next to the one the application's SDK brings.
 */
import { createContextKey } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';

/** Core's `ExportResultCode`. */
export const ExportResultCode = { SUCCESS: 0, FAILED: 1 } as const;

/** Core's `ExportResult`: what a `SpanExporter` hands its callback. */
export interface ExportResult {
  code: (typeof ExportResultCode)[keyof typeof ExportResultCode];
  error?: Error;
}

// The same key core uses (createContextKey is Symbol.for), so every SDK copy and instrumentation sees it.
const SUPPRESS_TRACING_KEY = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/** `context` with tracing suppressed: the exporter's own HTTP requests are not traced. */
export function suppressTracing(context: Context): Context {
  return context.setValue(SUPPRESS_TRACING_KEY, true);
}
