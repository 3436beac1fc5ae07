/**
 * Group id inheritance: a group id set on a span is carried in the OpenTelemetry context of
 * everything that runs inside it, and written as `sgp.group_id` on each span started there.
 */
import { createContextKey, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SGP_ATTRIBUTES } from '../mapping/conventions.js';

// Symbol.for underneath: the ES module and CommonJS builds, loaded side by side, share the key.
const GROUP_ID_KEY = createContextKey('sgp-otel group id');

export function contextWithGroupId(context: Context, groupId: string): Context {
  return context.setValue(GROUP_ID_KEY, groupId);
}

/**
 * The group id spans started in `context` inherit: the `sgp.group_id` of the parent span (the
 * nearest setting), else the one the context carries (past a parent that has none: a span from
 * another provider, or one started before this processor was added).
 */
export function inheritedGroupId(context: Context): string | undefined {
  const parent = trace.getSpan(context) as Partial<ReadableSpan> | undefined;
  const own = parent?.attributes?.[SGP_ATTRIBUTES.groupId];
  if (typeof own === 'string' && own !== '') return own;
  const carried = context.getValue(GROUP_ID_KEY);
  return typeof carried === 'string' ? carried : undefined;
}

/**
 * Writes the inherited group id on every span started under a span that has one (spans from
 * instrumentations included), unless the span sets its own. Put it before `SGPSpanProcessor`:
 * `spanProcessors: [new SGPGroupIdProcessor(), new SGPSpanProcessor()]`.
 */
export class SGPGroupIdProcessor implements SpanProcessor {
  onStart(span: Span, parentContext: Context): void {
    if (span.attributes?.[SGP_ATTRIBUTES.groupId] !== undefined) return;
    const groupId = inheritedGroupId(parentContext);
    if (groupId !== undefined) span.setAttribute(SGP_ATTRIBUTES.groupId, groupId);
  }

  onEnd(): void {}

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
