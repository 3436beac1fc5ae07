/**
 * Typed manual spans: the Python SDK's `create_span` / `create_trace` as OpenTelemetry spans that
 * carry the `sgp.*` attributes, so every exporter in the provider sees them.
 */
import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { SGP_ATTRIBUTES } from '../mapping/conventions.js';
import type { SGPSpanType } from '../mapping/item.js';
import { jsonText, toAttributeValue } from './attributes.js';
import { contextWithGroupId, inheritedGroupId } from './group-id.js';

/** A plain object: `input`, `output` and `metadata` are sent as JSON objects. */
export type SGPFields = Record<string, unknown>;

export interface SGPSpanOptions {
  /** SGP span type. Default: what the span's attributes say, else `STANDALONE`. */
  type?: SGPSpanType;
  input?: SGPFields;
  output?: SGPFields;
  /** Each key becomes a metadata key; nested objects and mixed arrays are sent as JSON text. */
  metadata?: SGPFields;
  /**
   * Groups traces (a conversation, a session). Spans started under this one inherit it, new
   * traces (`root`) included; without it, the span inherits the group it is started in.
   */
  groupId?: string;
  /** Start a new trace even inside another span (the Python SDK's `create_trace`). */
  root?: boolean;
  /** Default: `trace.getTracer('sgp-otel')` from the global provider. */
  tracer?: Tracer;
}

/** What the function running inside the span gets. Calls after the span ended are ignored. */
export interface SGPSpan {
  /** The OpenTelemetry span, for anything else (events, links, attributes). */
  readonly span: Span;
  setInput(input: SGPFields): void;
  /** Replaces the output; it is serialized once, when the span ends. */
  setOutput(output: SGPFields): void;
  /** Adds these keys to the metadata. */
  setMetadata(metadata: SGPFields): void;
  /** Marks the span `ERROR` with `error_type` and `error_message`, without throwing. */
  setError(error: unknown): void;
}

const DEFAULT_TRACER_NAME = 'sgp-otel';

/**
 * Runs `fn` inside an active span and ends the span when `fn` returns or its promise settles. A
 * thrown error (or rejection) marks the span `ERROR` and is rethrown unchanged.
 */
export function withSGPSpan<T>(name: string, fn: (span: SGPSpan) => T): T;
export function withSGPSpan<T>(name: string, options: SGPSpanOptions, fn: (span: SGPSpan) => T): T;
export function withSGPSpan<T>(name: string, optionsOrFn: SGPSpanOptions | ((span: SGPSpan) => T), maybeFn?: (span: SGPSpan) => T): T {
  const [options, fn] = typeof optionsOrFn === 'function' ? [{}, optionsOrFn] : [optionsOrFn, maybeFn!];
  const parent = context.active();
  const groupId = options.groupId ?? inheritedGroupId(parent);
  // Only cheap values at start: content is serialized below, and only for a recording span.
  const attributes: Attributes = {};
  if (options.type !== undefined) attributes[SGP_ATTRIBUTES.spanType] = options.type;
  if (groupId !== undefined) attributes[SGP_ATTRIBUTES.groupId] = groupId;
  const tracer = options.tracer ?? trace.getTracer(DEFAULT_TRACER_NAME);
  const span = tracer.startSpan(name, { attributes, root: options.root }, parent);
  const handle = new ManualSpan(span, options);

  let inside = trace.setSpan(parent, span);
  if (groupId !== undefined) inside = contextWithGroupId(inside, groupId);
  let result: T;
  try {
    result = context.with(inside, fn, undefined, handle);
  } catch (error) {
    handle.fail(error);
    throw error;
  }
  if (result instanceof Promise) {
    // Watched on a side branch: the caller gets the very promise it returned (with any extra
    // methods), and its rejection reaches the caller exactly as without the span.
    result
      .then(
        () => handle.end(),
        (error: unknown) => handle.fail(error),
      )
      .catch(() => undefined);
    return result;
  }
  // Anything else, lazy thenables included (a query builder runs when awaited), is returned as it
  // is and never called: the span ends now.
  handle.end();
  return result;
}

class ManualSpan implements SGPSpan {
  private ended = false;
  /** An error was set through setError(): a later throw does not replace it, so type and message stay a pair. */
  private errorSet = false;
  private output: SGPFields | undefined;
  private readonly recording: boolean;

  constructor(
    readonly span: Span,
    options: SGPSpanOptions,
  ) {
    this.recording = span.isRecording();
    if (options.input !== undefined) this.setInput(options.input);
    if (options.metadata !== undefined) this.setMetadata(options.metadata);
    this.output = options.output;
  }

  setInput(input: SGPFields): void {
    if (this.ended || !this.recording) return;
    const text = jsonText(input);
    if (text !== undefined) this.span.setAttribute(SGP_ATTRIBUTES.input, text);
  }

  setOutput(output: SGPFields): void {
    if (!this.ended) this.output = output;
  }

  setMetadata(metadata: SGPFields): void {
    if (this.ended || !this.recording) return;
    for (const [key, value] of Object.entries(metadata)) {
      // The sgp.* keys say what the span is; metadata must not rewrite them.
      if (key.startsWith('sgp.')) continue;
      const attribute = toAttributeValue(value);
      if (attribute !== undefined) this.span.setAttribute(key, attribute);
    }
  }

  setError(error: unknown): void {
    if (this.ended || !this.recording) return;
    this.errorSet = true;
    const { type, message } = describeError(error);
    const event: Attributes = { 'exception.type': type, 'exception.message': message };
    const stack = readSafely(() => (error instanceof Error ? error.stack : undefined));
    if (typeof stack === 'string' && stack !== '') event['exception.stacktrace'] = stack;
    this.span.addEvent('exception', event);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  fail(error: unknown): void {
    try {
      if (!this.errorSet) this.setError(error);
    } finally {
      this.end();
    }
  }

  end(): void {
    if (this.ended) return;
    if (this.recording && this.output !== undefined) {
      const text = jsonText(this.output);
      if (text !== undefined) this.span.setAttribute(SGP_ATTRIBUTES.output, text);
    }
    this.ended = true;
    this.span.end();
  }
}

/**
 * What the Python SDK records: the error's class name and its message. Never throws, whatever was
 * thrown (an object without a prototype, a message getter that throws): the caller must get its
 * own error back.
 */
export function describeError(error: unknown): { type: string; message: string } {
  if (error instanceof Error) {
    // `class QuotaError extends Error {}` keeps the name "Error": its constructor names it.
    const name = readSafely(() => error.name);
    const ctor = readSafely(() => error.constructor?.name);
    const type =
      typeof name === 'string' && name !== '' && name !== 'Error' ? name : typeof ctor === 'string' && ctor !== '' && ctor !== 'Object' ? ctor : 'Error';
    const message = readSafely(() => error.message);
    return { type, message: typeof message === 'string' ? message : '' };
  }
  if (typeof error === 'string') return { type: 'Error', message: error };
  if (error === null || error === undefined) return { type: String(error), message: String(error) };
  const message = readSafely(() => (error as { message?: unknown }).message);
  return { type: typeof error, message: typeof message === 'string' ? message : (readSafely(() => String(error)) ?? '[unprintable]') };
}

function readSafely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
