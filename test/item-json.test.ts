import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRecords } from '../src/delivery/encode.js';
import { jsonText, shareJson } from '../src/mapping/item-json.js';
import { toSGPSpanItem } from '../src/mapping/span-to-item.js';
import { loadFixtures } from './fixtures/render.js';
import { virtualClock } from './helpers.js';

/** Text with everything JSON.stringify escapes: quotes, backslashes, controls, NUL, lone and paired surrogates, U+2028. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('"', '\\', '\u0000', '\u001f', '\n', '\ud800', '\udfff', '\u2028', 'é', '😀', 'a', '{', '['), maxLength: 20 }),
  fc.json(),
);
const number = fc.oneof(fc.double(), fc.constantFrom(-0, 1e21, 1e-7, Number.MAX_VALUE, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY));
const attributeValue = fc.oneof(text, number, fc.boolean(), fc.array(text, { maxLength: 3 }), fc.array(number, { maxLength: 3 }));
/** Attribute keys, including the ones mapping reads (JSON text in them is parsed), integer-like ones and `__proto__`. */
const attributeKey = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom(
    '__proto__',
    '0',
    '10',
    'input.value',
    'output.value',
    'gen_ai.input.messages',
    'gen_ai.request.model',
    'gen_ai.usage.input_tokens',
    'gen_ai.conversation.id',
    'sgp.span_type',
    'llm.input_messages.0.message.content',
  ),
);
const attributes = fc.dictionary(attributeKey, attributeValue, { maxKeys: 8 });

function spansOf(play: (tracer: ReturnType<BasicTracerProvider['getTracer']>) => void, resource: Attributes = {}): ReadableSpan[] {
  const ended: ReadableSpan[] = [];
  const collect: SpanProcessor = {
    onStart: () => undefined,
    onEnd: (span) => ended.push(span),
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  const provider = new BasicTracerProvider({ spanProcessors: [collect], resource: resourceFromAttributes(resource) });
  play(provider.getTracer('scope "quoted" \ud800', '1.0'));
  return ended;
}

describe('jsonText: JSON.stringify byte for byte, shared fragments reused', () => {
  it('any JSON-like value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.anything({ withBoxedValues: true, withNullPrototype: true, withObjectString: true, withSparseArray: true }), (json, anything) => {
        expect(jsonText(json)).toBe(JSON.stringify(json));
        expect(jsonText(anything)).toBe(JSON.stringify(anything));
      }),
      { numRuns: 500 },
    );
  });

  it('strings and keys that need escaping, -0, 1e21, non-finite numbers, toJSON, undefined members, __proto__ keys', () => {
    const value = {
      ...Object.fromEntries([['__proto__', { a: 1 }]]),
      [`a"b\\c\u0000\ud800`]: ['x\udfffy', -0, 1e21, Number.NaN, Number.POSITIVE_INFINITY, undefined, () => 1],
      date: new Date(0),
      lone: 'x\ud800', paired: '😀', quote: 'say "hi"\n',
      gone: undefined,
      fn: () => 1,
      nested: { 1: 'one', b: { c: '\u2028😀' }, 0: 'zero' },
    };
    expect(jsonText(value)).toBe(JSON.stringify(value));
    const shared = shareJson({ 'service.name': 'a"b' });
    expect(jsonText({ x: shared, y: [shared] })).toBe(JSON.stringify({ x: shared, y: [shared] }));
  });

  it('the golden fixtures, mapped', () => {
    for (const { fixture } of loadFixtures()) {
      const spans = spansOf((tracer) => {
        for (const s of fixture.spans) {
          const span = tracer.startSpan(s.name, { kind: SpanKind[s.kind ?? 'INTERNAL'], attributes: s.attributes, startTime: s.start });
          for (const event of s.events ?? []) span.addEvent(event.name, event.attributes, event.at);
          if (s.status) span.setStatus({ code: s.status.code === 'OK' ? SpanStatusCode.OK : SpanStatusCode.ERROR, message: s.status.message });
          span.end(s.end);
        }
      }, { 'service.name': 'fixtures', 'deployment.environment': 'test' });
      for (const span of spans) {
        const item = toSGPSpanItem(span);
        expect(jsonText(item)).toBe(JSON.stringify(item));
      }
    }
  });

  it('randomized spans, mapped (each item twice: the shared fragments come from the cache the second time)', () => {
    fc.assert(
      fc.property(attributes, attributes, fc.string({ unit: 'binary', maxLength: 20 }), fc.boolean(), (spanAttributes, resource, name, failed) => {
        const spans = spansOf((tracer) => {
          const span = tracer.startSpan(name, { attributes: spanAttributes });
          span.addEvent(name, spanAttributes);
          if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: name });
          span.end();
        }, resource as Attributes);
        for (const options of [{}, { resourceAttributes: true as const }, { inProgress: true }]) {
          for (let i = 0; i < 2; i += 1) {
            const item = toSGPSpanItem(spans[0]!, options);
            expect(jsonText(item)).toBe(JSON.stringify(item));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('encodeRecords still sends each item as JSON.stringify writes it, with NUL and lone surrogates as U+FFFD', async () => {
    const spans = spansOf((tracer) => {
      tracer.startSpan('a\u0000b', { attributes: { lone: 'x\ud800y', pair: '😀', 'input.value': '{"q":"\\ud800"}' } }).end();
    }, { 'service.name': 'svc\udc00' });
    const { encoded } = await encodeRecords([{ span: spans[0]!, inProgress: false }], {
      captureContent: true,
      mask: undefined,
      maxFieldBytes: 1e9,
      clock: virtualClock(),
      maskDeadline: Number.POSITIVE_INFINITY,
      resourceAttributes: true,
    });
    const expected = JSON.stringify(toSGPSpanItem(spans[0]!, { resourceAttributes: true }))
      .replaceAll('\\u0000', '\\ufffd')
      .replaceAll('\\ud800', '\\ufffd')
      .replaceAll('\\udc00', '\\ufffd');
    expect(encoded[0]!.body.toString()).toBe(expected);
    expect(encoded[0]!.body.toString()).toContain('😀');
  });
});
