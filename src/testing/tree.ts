import type { SGPSpanItem } from '../mapping/item.js';
import { isoToMicros } from './validate.js';

/**
 * Renders received spans as one indented tree per trace, children in start order:
 *
 *     trace 4bf92f3577b34da6a3ce929d0e0e4736
 *     └─ agent.turn  AGENT_WORKFLOW  SUCCESS  12.3 ms
 *        ├─ llm:gpt-4o  COMPLETION  SUCCESS  8.1 ms
 */
export function formatTraceTree(items: readonly SGPSpanItem[]): string {
  const byTrace = new Map<string, SGPSpanItem[]>();
  for (const item of items) {
    const list = byTrace.get(item.trace_id) ?? [];
    list.push(item);
    byTrace.set(item.trace_id, list);
  }
  const lines: string[] = [];
  for (const [traceId, spans] of byTrace) {
    lines.push(`trace ${traceId}`);
    const ids = new Set(spans.map((span) => span.id));
    const children = new Map<string | undefined, SGPSpanItem[]>();
    for (const span of spans) {
      const parent = span.parent_id !== undefined && ids.has(span.parent_id) ? span.parent_id : undefined;
      const list = children.get(parent) ?? [];
      list.push(span);
      children.set(parent, list);
    }
    const byStart = (a: SGPSpanItem, b: SGPSpanItem) => a.start_timestamp.localeCompare(b.start_timestamp);
    const walk = (parent: string | undefined, prefix: string) => {
      const list = (children.get(parent) ?? []).sort(byStart);
      list.forEach((span, index) => {
        const last = index === list.length - 1;
        lines.push(`${prefix}${last ? '└─ ' : '├─ '}${describe(span)}`);
        walk(span.id, `${prefix}${last ? '   ' : '│  '}`);
      });
    };
    walk(undefined, '');
  }
  return lines.join('\n');
}

function describe(span: SGPSpanItem): string {
  const start = isoToMicros(span.start_timestamp);
  const end = span.end_timestamp === undefined ? undefined : isoToMicros(span.end_timestamp);
  const duration = start !== undefined && end !== undefined ? `${((end - start) / 1000).toFixed(1)} ms` : 'in progress';
  const message = span.metadata?.error_message;
  const error = span.status === 'ERROR' && typeof message === 'string' ? `(${message})` : undefined;
  // Fields a client left out (the server's defaults apply) are not shown.
  return [span.name, span.type, span.status, duration, error].filter((part) => part !== undefined).join('  ');
}
