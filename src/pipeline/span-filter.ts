import type { ReadableSpan, Span } from '@opentelemetry/sdk-trace-base';
import type { SGPSpanProcessorOptions } from '../config.js';
import { SGPConfigError } from '../errors.js';
import { isGenAISpan } from '../mapping/conventions.js';

/**
 * `shouldExportSpan`, decided when each span starts, so that children, which usually end before
 * their parents, already know their nearest kept ancestor when they are sent.
 */
export class SpanFilter {
  /** Spans the filter left out. */
  private readonly filteredOut = new WeakSet<object>();
  /** Span id of a left-out span -> its nearest kept ancestor (null: none), for its descendants. Bounded. */
  private readonly keptAncestor = new Map<string, string | null>();
  /** Kept spans whose parent was left out: the parent id to send instead. */
  private readonly parentOverrides = new WeakMap<object, string | null>();

  private constructor(
    private readonly predicate: (span: ReadableSpan) => boolean,
    private readonly maxRemembered: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The filter for the option, or undefined when every span is kept. Throws on an invalid option. */
  static fromOption(
    option: SGPSpanProcessorOptions['shouldExportSpan'],
    maxRemembered: number,
    onError: (error: unknown) => void,
  ): SpanFilter | undefined {
    if (option === undefined) return undefined;
    if (option === 'genai') return new SpanFilter(isGenAISpan, maxRemembered, onError);
    if (typeof option === 'function') return new SpanFilter(option, maxRemembered, onError);
    throw new SGPConfigError(`Invalid option shouldExportSpan: expected a function or 'genai', got ${JSON.stringify(option)}`);
  }

  /** Decides at start whether `span` is kept; a filter that throws keeps the span. */
  decide(span: Span): boolean {
    let keep = true;
    try {
      keep = this.predicate(span as unknown as ReadableSpan) !== false;
    } catch (error) {
      this.onError(error);
    }
    const readable = span as unknown as ReadableSpan & { parentSpanId?: string };
    const parentId = readable.parentSpanContext?.spanId ?? readable.parentSpanId;
    const ancestor = parentId === undefined ? null : this.keptAncestor.has(parentId) ? this.keptAncestor.get(parentId)! : parentId;
    if (keep) {
      if (parentId !== undefined && ancestor !== parentId) this.parentOverrides.set(span, ancestor);
      return true;
    }
    this.filteredOut.add(span);
    this.keptAncestor.set(span.spanContext().spanId, ancestor);
    // Bounded: forget the oldest decisions first (their descendants have long started).
    if (this.keptAncestor.size > this.maxRemembered) this.keptAncestor.delete(this.keptAncestor.keys().next().value!);
    return false;
  }

  isFilteredOut(span: ReadableSpan): boolean {
    return this.filteredOut.has(span);
  }

  /** The parent id to send instead of the span's own (null: none), or undefined to keep its own. */
  parentOverride(span: ReadableSpan): string | null | undefined {
    return this.parentOverrides.get(span);
  }
}
