/**
 * A trace processor for the OpenAI Agents SDK that turns its traces and spans into OpenTelemetry
 * spans, so they reach SGP through the application's own SGPSpanProcessor (batching, retries,
 * outages, privacy and stats included) and every other exporter sees them too.
 */
import { context as otelContext, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, Tracer, TracerProvider } from '@opentelemetry/api';
import { SGP_ATTRIBUTES } from '../../mapping/conventions.js';
import { jsonText, toAttributeValue } from '../../manual/attributes.js';
import { contextWithGroupId, inheritedGroupId } from '../../manual/group-id.js';
import { describeError } from '../../manual/spans.js';
import { agentsContextBridge } from './context-bridge.js';
import type { AgentsContextBridge, AgentsContextStore, BridgeClient } from './context-bridge.js';
import { agentsSpanFields } from './span-data.js';
import type { AgentsSpanData } from './span-data.js';

/** The parts of an Agents `Trace` read here (structural: no runtime dependency on the SDK). */
export interface AgentsTrace {
  traceId: string;
  name: string;
  groupId: string | null;
  metadata?: Record<string, unknown>;
}

/** The parts of an Agents `Span` read here. */
export interface AgentsSpan {
  traceId: string;
  spanId: string;
  parentId: string | null;
  spanData: AgentsSpanData;
  startedAt: string | null;
  endedAt: string | null;
  error: { message: string; data?: Record<string, unknown> } | null;
}

export interface SGPAgentsTraceProcessorOptions {
  /** Where the spans are started. Default: the global tracer provider. */
  tracerProvider?: TracerProvider;
}

/** Agents spans open at once beyond which new ones are started only when they end. */
const MAX_OPEN_SPANS = 10_000;
const SCOPE = 'sgp-otel/openai-agents';
/** Attribute prefix for the Agents span data that is not input or output. */
const PREFIX = 'openai_agents.';

interface OpenTrace {
  span: Span;
  /** The context the trace's spans start in: the caller's, with the group id. */
  context: Context;
  groupId: string | undefined;
}

/**
 * Register with `addTraceProcessor(new SGPAgentsTraceProcessor())` (keeps the OpenAI exporter) or
 * `setTraceProcessors([...])`. Each Agents trace becomes a root `AGENT_WORKFLOW` span (a child of
 * the span active where the run started, if any); each Agents span its child. Inside an Agents
 * span (a tool's `execute`, a model call), the active OpenTelemetry span is the one that stands for
 * it, so spans started there are its children.
 */
export class SGPAgentsTraceProcessor implements BridgeClient {
  private readonly provider: TracerProvider | undefined;
  private tracer: Tracer | undefined;
  private readonly traces = new Map<string, OpenTrace>();
  private readonly spans = new Map<string, Span>();
  /** Spans the SDK ended inside a scope not returned yet: they end once it returns, or when its generator is done. */
  private readonly ending = new Map<string, { span: Span; agentsSpan: AgentsSpan; generator: boolean }>();
  private readonly bridge: AgentsContextBridge;

  constructor(options: SGPAgentsTraceProcessorOptions = {}) {
    this.provider = options.tracerProvider;
    // Installed now, not at the first trace: a trace keeps the storage it started in.
    this.bridge = agentsContextBridge();
  }

  async onTraceStart(agentsTrace: AgentsTrace): Promise<void> {
    // Bounded like open spans: traces that never end must not grow memory without limit.
    if (this.traces.size >= MAX_OPEN_SPANS || this.traces.has(agentsTrace.traceId)) return;
    this.bridge.clients.add(this);
    const caller = otelContext.active();
    const groupId = agentsTrace.groupId || inheritedGroupId(caller);
    const attributes: Attributes = { [SGP_ATTRIBUTES.spanType]: 'AGENT_WORKFLOW', [`${PREFIX}trace_id`]: agentsTrace.traceId };
    if (groupId) attributes[SGP_ATTRIBUTES.groupId] = groupId;
    const span = this.getTracer().startSpan(agentsTrace.name || 'Agent Workflow', { attributes, startTime: new Date() }, caller);
    if (span.isRecording()) setEach(span, '', agentsTrace.metadata);
    this.traces.set(agentsTrace.traceId, {
      span,
      context: groupId ? contextWithGroupId(caller, groupId) : caller,
      groupId: groupId || undefined,
    });
  }

  async onTraceEnd(agentsTrace: AgentsTrace): Promise<void> {
    const open = this.traces.get(agentsTrace.traceId);
    if (!open) return;
    this.traces.delete(agentsTrace.traceId);
    const now = new Date();
    // A generator its caller never finished iterating (or a scope still running): the span ends
    // with the trace at the latest.
    for (const [spanId, pending] of this.ending) {
      if (pending.agentsSpan.traceId === agentsTrace.traceId) this.endPending(spanId, pending.generator ? now : toDate(pending.agentsSpan.endedAt));
    }
    open.span.end(now);
  }

  async onSpanStart(agentsSpan: AgentsSpan): Promise<void> {
    if (this.spans.size >= MAX_OPEN_SPANS || this.spans.has(agentsSpan.spanId)) return;
    this.spans.set(agentsSpan.spanId, this.startSpan(agentsSpan));
  }

  async onSpanEnd(agentsSpan: AgentsSpan): Promise<void> {
    if (this.ending.has(agentsSpan.spanId)) return;
    // A span that started before this processor was added, or past the open-span bound, starts now.
    const span = this.spans.get(agentsSpan.spanId) ?? this.startSpan(agentsSpan);
    const scope = this.bridge.scopeOf(agentsSpan);
    if (!scope) {
      this.spans.delete(agentsSpan.spanId);
      finish(span, agentsSpan, toDate(agentsSpan.endedAt));
      return;
    }
    // A `with*Span` helper ended it as its callback returned. If that was an async generator (a
    // custom model's streamed response, a streaming function), the work happens as it is iterated:
    // the span ends, with the data set meanwhile, when the iteration does.
    this.spans.set(agentsSpan.spanId, span);
    const pending = { span, agentsSpan, generator: false };
    this.ending.set(agentsSpan.spanId, pending);
    const endAt = (time: Date, error?: unknown) => this.endPending(agentsSpan.spanId, time, error);
    scope.then(
      (value) => {
        if (!isAsyncGenerator(value)) return endAt(toDate(agentsSpan.endedAt));
        pending.generator = true;
        whenIterated(value, endAt);
      },
      () => endAt(toDate(agentsSpan.endedAt)),
    );
  }

  /** Flushes the tracer provider (the Agents SDK calls this from its own `forceFlush`). */
  async forceFlush(): Promise<void> {
    const provider = this.provider ?? trace.getTracerProvider();
    // The global provider is a proxy; its delegate is the SDK provider that can flush.
    const target = (provider as { getDelegate?: () => TracerProvider }).getDelegate?.() ?? provider;
    await (target as { forceFlush?: () => Promise<void> }).forceFlush?.();
  }

  /** Flushes; the tracer provider belongs to the application, which shuts it down. */
  async shutdown(): Promise<void> {
    this.bridge.clients.delete(this);
    await this.forceFlush();
  }

  /**
   * The span active inside an Agents context: the current Agents span's, else its parent's (a span
   * past the open-span bound), else the trace's. Starts nothing: it is read while spans start.
   */
  spanInside(store: AgentsContextStore): Span | undefined {
    if (!store.trace) return undefined;
    const current = store.span;
    const own = current && (this.spans.get(current.spanId) ?? (current.parentId ? this.spans.get(current.parentId) : undefined));
    return own ?? this.traces.get(store.trace.traceId)?.span;
  }

  private endPending(spanId: string, time: Date, error?: unknown): void {
    const pending = this.ending.get(spanId);
    if (!pending) return;
    this.ending.delete(spanId);
    this.spans.delete(spanId);
    finish(pending.span, pending.agentsSpan, time, error);
  }

  private getTracer(): Tracer {
    this.tracer ??= (this.provider ?? trace.getTracerProvider()).getTracer(SCOPE);
    return this.tracer;
  }

  private startSpan(agentsSpan: AgentsSpan): Span {
    const fields = agentsSpanFields(agentsSpan.spanData);
    const open = this.traces.get(agentsSpan.traceId);
    const parent = (agentsSpan.parentId ? this.spans.get(agentsSpan.parentId) : undefined) ?? open?.span;
    const base = open?.context ?? otelContext.active();
    const attributes: Attributes = {
      [SGP_ATTRIBUTES.spanType]: fields.type,
      [`${PREFIX}span_type`]: agentsSpan.spanData.type,
      [`${PREFIX}span_id`]: agentsSpan.spanId,
      [`${PREFIX}trace_id`]: agentsSpan.traceId,
    };
    if (open?.groupId) attributes[SGP_ATTRIBUTES.groupId] = open.groupId;
    const startTime = toDate(agentsSpan.startedAt);
    return this.getTracer().startSpan(fields.name, { attributes, startTime }, parent ? trace.setSpan(base, parent) : base);
  }
}

function finish(span: Span, agentsSpan: AgentsSpan, time: Date, error?: unknown): void {
  if (span.isRecording()) {
    recordEnd(span, agentsSpan);
    if (error !== undefined && !agentsSpan.error) {
      span.setAttribute('error.type', describeError(error).type);
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error).message });
    }
  }
  span.end(time);
}

/**
 * Calls `done` once the generator is finished: iterated to its end, returned from, or failed. The
 * generator stays the same object, with `next`, `return` and `throw` watched in place.
 */
function whenIterated(generator: AsyncGenerator<unknown>, done: (time: Date, error?: unknown) => void): void {
  let finished = false;
  const settle = (error?: unknown) => {
    if (finished) return;
    finished = true;
    done(new Date(), error);
  };
  for (const method of ['next', 'return', 'throw'] as const) {
    const original = generator[method] as (...args: unknown[]) => Promise<IteratorResult<unknown>>;
    Object.defineProperty(generator, method, {
      configurable: true,
      writable: true,
      value: (...args: unknown[]) => {
        const result = original.apply(generator, args);
        result.then(
          (step) => step.done && settle(),
          (error: unknown) => settle(error),
        );
        return result;
      },
    });
  }
}

function isAsyncGenerator(value: unknown): value is AsyncGenerator<unknown> {
  return Object.prototype.toString.call(value) === '[object AsyncGenerator]';
}

/** The span data as it is at the end (generation input, tool output and usage are set late). */
function recordEnd(span: Span, agentsSpan: AgentsSpan): void {
  const fields = agentsSpanFields(agentsSpan.spanData);
  span.updateName(fields.name);
  const input = fields.input && jsonText(fields.input);
  const output = fields.output && jsonText(fields.output);
  if (input !== undefined) span.setAttribute(SGP_ATTRIBUTES.input, input);
  if (output !== undefined) span.setAttribute(SGP_ATTRIBUTES.output, output);
  setEach(span, PREFIX, fields.metadata);
  span.setAttributes(fields.llm);
  const error = agentsSpan.error;
  if (error) {
    span.setAttribute('error.type', 'SpanError');
    if (error.data !== undefined) span.setAttribute(`${PREFIX}error.data`, jsonText(error.data) ?? '');
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }
}

function setEach(span: Span, prefix: string, values: Record<string, unknown> | undefined): void {
  for (const [key, value] of Object.entries(values ?? {})) {
    if (key.startsWith('sgp.')) continue;
    const attribute = toAttributeValue(value);
    if (attribute !== undefined) span.setAttribute(`${prefix}${key}`, attribute);
  }
}

function toDate(iso: string | null): Date {
  const time = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(time) ? new Date() : new Date(time);
}
