import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { hrTimeToIso, toSGPSpanItem } from '../src/mapping/span-to-item.js';
import { validateItem } from '../src/testing/validate.js';

function record(build: (tracer: ReturnType<BasicTracerProvider['getTracer']>) => void): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
    resource: resourceFromAttributes({ 'service.name': 'agent-svc', 'deployment.environment': 'test' }),
  });
  build(provider.getTracer('sgp-otel-test', '1.2.3'));
  return exporter.getFinishedSpans();
}

const T0: HrTime = [1_764_417_600, 123_456_789]; // 2025-11-29T12:00:00.123456789Z

describe('toSGPSpanItem', () => {
  it('maps ids, parent, name, microsecond timestamps and defaults', () => {
    const [child, parent] = record((tracer) => {
      const root = tracer.startSpan('agent.turn', { startTime: T0 });
      const ctx = trace.setSpan(context.active(), root);
      tracer.startSpan('llm.call', { startTime: [T0[0], T0[1] + 1000] }, ctx).end([T0[0] + 2, 5_000]);
      root.end([T0[0] + 3, 0]);
    });
    const item = toSGPSpanItem(child!);
    expect(item).toMatchObject({
      name: 'llm.call',
      id: child!.spanContext().spanId,
      trace_id: parent!.spanContext().traceId,
      parent_id: parent!.spanContext().spanId,
      start_timestamp: '2025-11-29T12:00:00.123457Z',
      end_timestamp: '2025-11-29T12:00:02.000005Z',
      status: 'SUCCESS',
      type: 'STANDALONE',
      input: {},
      output: {},
    });
    expect(toSGPSpanItem(parent!).parent_id).toBeUndefined();
    expect(validateItem(JSON.parse(JSON.stringify(item)), 0)).toBeUndefined();
  });

  it('never sends an end before the start', () => {
    const [span] = record((tracer) => tracer.startSpan('clock-skew', { startTime: T0 }).end([T0[0] - 1, 0]));
    const item = toSGPSpanItem(span!);
    expect(item.end_timestamp).toBe(item.start_timestamp);
  });

  it('puts attributes, kind, scope, resource, events and links in metadata', () => {
    const [span] = record((tracer) => {
      const s = tracer.startSpan('GET /chat', {
        kind: SpanKind.SERVER,
        startTime: T0,
        attributes: { 'http.method': 'GET', 'http.status_code': 200, retries: [1, 2], __agent_name__: 'helper' },
        links: [{ context: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }, attributes: { why: 'follows' } }],
      });
      s.addEvent('cache.miss', { key: 'abc' }, [T0[0] + 1, 0]);
      s.end([T0[0] + 2, 0]);
    });
    expect(toSGPSpanItem(span!).metadata).toEqual({
      'http.method': 'GET',
      'http.status_code': 200,
      retries: [1, 2],
      __agent_name__: 'helper',
      otel: {
        kind: 'SERVER',
        scope: { name: 'sgp-otel-test', version: '1.2.3' },
        resource: expect.objectContaining({ 'service.name': 'agent-svc', 'deployment.environment': 'test' }),
        events: [{ name: 'cache.miss', timestamp: '2025-11-29T12:00:01.000000Z', attributes: { key: 'abc' } }],
        links: [{ trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16), attributes: { why: 'follows' } }],
      },
    });
  });

  it('marks errors with the exception type and message', () => {
    const [span] = record((tracer) => {
      const s = tracer.startSpan('tool:search');
      s.recordException(new TypeError('index out of range'));
      s.setStatus({ code: SpanStatusCode.ERROR });
      s.end();
    });
    const item = toSGPSpanItem(span!);
    expect(item.status).toBe('ERROR');
    expect(item.metadata).toMatchObject({ error: true, error_type: 'TypeError', error_message: 'index out of range' });
  });

  it('prefers the status message over the exception message', () => {
    const [span] = record((tracer) => {
      const s = tracer.startSpan('step');
      s.recordException(new Error('low level'));
      s.setStatus({ code: SpanStatusCode.ERROR, message: 'tool failed' });
      s.end();
    });
    expect(toSGPSpanItem(span!).metadata).toMatchObject({ error_message: 'tool failed' });
  });

  it('takes type, input, output and group id from sgp.* attributes and leaves them out of metadata', () => {
    const [span] = record((tracer) =>
      tracer
        .startSpan('llm:gpt-4o', {
          attributes: {
            'sgp.span_type': 'COMPLETION',
            'sgp.input': JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
            'sgp.output': 'hello there',
            'sgp.group_id': 'conversation-7',
            'gen_ai.request.model': 'gpt-4o',
          },
        })
        .end(),
    );
    const item = toSGPSpanItem(span!);
    expect(item.type).toBe('COMPLETION');
    expect(item.input).toEqual({ messages: [{ role: 'user', content: 'hi' }] });
    expect(item.output).toEqual({ value: 'hello there' });
    expect(item.group_id).toBe('conversation-7');
    expect(Object.keys(item.metadata).sort()).toEqual(['gen_ai.request.model', 'llm', 'otel']);
    expect(item.metadata.llm).toEqual({ request_model: 'gpt-4o', model: 'gpt-4o' });
  });

  it('wraps JSON that is not an object, and keeps broken JSON as text', () => {
    const [span] = record((tracer) =>
      tracer.startSpan('s', { attributes: { 'sgp.input': '[1, 2]', 'sgp.output': '{"unterminated": ' } }).end(),
    );
    const item = toSGPSpanItem(span!);
    expect(item.input).toEqual({ value: [1, 2] });
    expect(item.output).toEqual({ value: '{"unterminated": ' });
  });

  it('falls back to STANDALONE for an unknown span type and keeps the value visible in metadata', () => {
    const [span] = record((tracer) => tracer.startSpan('s', { attributes: { 'sgp.span_type': 'LLM' } }).end());
    const item = toSGPSpanItem(span!);
    expect(item.type).toBe('STANDALONE');
    expect(item.metadata['sgp.span_type']).toBe('LLM');
  });

  it('keeps __proto__ and constructor keys as data without touching prototypes', () => {
    const [span] = record((tracer) =>
      tracer
        .startSpan('s', {
          attributes: { __proto__: 'polluted', constructor: 'x', 'sgp.input': '{"__proto__": {"isAdmin": true}}' } as never,
        })
        .end(),
    );
    const item = toSGPSpanItem(span!);
    const wire = JSON.parse(JSON.stringify(item));
    expect(Object.getPrototypeOf(item.metadata)).toBe(Object.prototype);
    expect(Object.getPrototypeOf(item.input)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(wire.input).toEqual(JSON.parse('{"__proto__": {"isAdmin": true}}'));
    expect(Object.prototype.hasOwnProperty.call(wire.metadata, 'constructor')).toBe(true);
  });

  it('writes non-finite numbers as strings so the JSON stays valid', () => {
    const [span] = record((tracer) => tracer.startSpan('s', { attributes: { ratio: Number.NaN, big: Infinity } }).end());
    const wire = JSON.parse(JSON.stringify(toSGPSpanItem(span!)));
    expect(wire.metadata).toMatchObject({ ratio: 'NaN', big: 'Infinity' });
  });

  it('reads the 1.x SDK field names (parentSpanId, instrumentationLibrary)', () => {
    const [span] = record((tracer) => tracer.startSpan('s').end());
    const { parentSpanContext: _, instrumentationScope: __, ...rest } = span!;
    const oldShape = {
      ...rest,
      spanContext: () => span!.spanContext(),
      parentSpanId: 'cccccccccccccccc',
      instrumentationLibrary: { name: 'old-lib', version: '0.9' },
    } as unknown as ReadableSpan;
    const item = toSGPSpanItem(oldShape);
    expect(item.parent_id).toBe('cccccccccccccccc');
    expect((item.metadata.otel as Record<string, unknown>).scope).toEqual({ name: 'old-lib', version: '0.9' });
  });
});

describe('hrTimeToIso', () => {
  it('keeps microseconds and normalises nanosecond overflow', () => {
    expect(hrTimeToIso([0, 0])).toBe('1970-01-01T00:00:00.000000Z');
    expect(hrTimeToIso([1, 999_999_999])).toBe('1970-01-01T00:00:01.999999Z');
    expect(hrTimeToIso([1, 1_500_000_000])).toBe('1970-01-01T00:00:02.500000Z');
  });
});
