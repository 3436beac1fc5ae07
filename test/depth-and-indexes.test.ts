/**
 * Mapping cost and safety are bounded by the input: deep JSON never blows the stack, and huge
 * numeric indexes in attribute keys never build sparse arrays.
 */
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Attributes } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SGPSpanProcessorOptions } from '../src/config.js';
import type { JsonObject, JsonValue } from '../src/mapping/item.js';
import { MAX_JSON_DEPTH, TOO_DEEP } from '../src/mapping/json.js';
import { NOT_CAPTURED, prepareItem } from '../src/mapping/prepare.js';
import { toSGPSpanItem } from '../src/mapping/span-to-item.js';
import type { Cut } from '../src/mapping/truncate.js';
import { truncateStrings } from '../src/mapping/truncate.js';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { credentials, virtualClock } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
});
afterEach(() => server.reset());
afterAll(() => server.close());

function record(name: string, attributes: Attributes): ReadableSpan {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.getTracer('depth').startSpan(name, { attributes }).end();
  return exporter.getFinishedSpans()[0]!;
}

async function send(attributes: Attributes, options: Partial<SGPSpanProcessorOptions> = {}) {
  const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false, ...options });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  provider.getTracer('depth').startSpan('deep', { attributes }).end();
  await provider.forceFlush().catch(() => undefined);
  await provider.shutdown().catch(() => undefined);
  return { processor, items: server.items };
}

/** `[[[...]]]` nested `depth` levels, as JSON text. */
const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
/** `{"a":{"a":...1}}` nested `depth` levels, as JSON text. */
const nestedObjects = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

/** A value nested `depth` levels, built without recursion. */
function deepValue(depth: number): JsonValue {
  let value: JsonValue = 'leaf';
  for (let i = 0; i < depth; i += 1) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** Containers on the deepest path (a scalar is 0, `[]` is 1). */
function depthOf(value: JsonValue): number {
  let max = 0;
  const stack: [JsonValue, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    max = Math.max(max, depth);
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return max;
}

describe('deeply nested content', () => {
  it('a 20000-level sgp.input arrives as its text instead of crashing the export', async () => {
    const text = nestedArrays(20_000);
    const { processor, items } = await send({ 'sgp.input': text, 'sgp.output': nestedObjects(20_000) });
    expect(items).toHaveLength(1);
    expect(items[0]!.input).toEqual({ value: text });
    expect(items[0]!.output).toEqual({ value: nestedObjects(20_000) });
    expect(processor.getStats()).toMatchObject({ exported: 1, dropped: { total: 0 } });
  });

  it('without content capture, a 20000-level value is sent as "[not captured]"', async () => {
    const { items } = await send({ 'sgp.output': nestedObjects(20_000) }, { captureContent: false });
    expect(items[0]!.output).toEqual({ value: NOT_CAPTURED });
  });

  it(`parses JSON up to ${MAX_JSON_DEPTH} levels and keeps deeper JSON as text`, () => {
    const fits = toSGPSpanItem(record('s', { 'sgp.input': `{"x":${nestedArrays(MAX_JSON_DEPTH - 1)}}` }));
    expect(depthOf(fits.input)).toBe(MAX_JSON_DEPTH);
    const deeper = `{"x":${nestedArrays(MAX_JSON_DEPTH)}}`;
    expect(toSGPSpanItem(record('s', { 'sgp.input': deeper })).input).toEqual({ value: deeper });
  });

  it('deep JSON inside a convention (gen_ai.input.messages) stays text too', () => {
    const text = nestedObjects(20_000);
    const item = toSGPSpanItem(record('chat', { 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': text }));
    expect(item.input).toEqual({ messages: text });
    expect(() => JSON.stringify(item)).not.toThrow();
  });

  it('an attribute key with 20000 path segments maps to a bounded object', () => {
    const key = `gen_ai.prompt.0.${'a.'.repeat(20_000)}content`;
    const item = toSGPSpanItem(record('chat', { [key]: 'hello', 'gen_ai.prompt.0.role': 'user' }));
    expect(() => JSON.stringify(item)).not.toThrow();
    expect(depthOf(item.input)).toBeLessThanOrEqual(MAX_JSON_DEPTH + 4);
    expect(JSON.stringify(item.input)).toContain('hello');
    expect((item.input.messages as JsonObject[])[0]!.role).toBe('user');
  });

  it('truncateStrings handles a 100000-level value, replacing what is too deep', () => {
    const cuts: Cut[] = [];
    const out = truncateStrings(deepValue(100_000), 8, 'input', cuts);
    expect(() => JSON.stringify(out)).not.toThrow();
    expect(JSON.stringify(out)).toContain(TOO_DEEP);
    expect(cuts.some((cut) => cut.path.startsWith('input'))).toBe(true);
  });

  it('a mask that returns a 100000-level value cannot break the export', async () => {
    const span = record('s', { 'sgp.input': 'q', note: 'n' });
    const prepared = await prepareItem(toSGPSpanItem(span), span, {
      captureContent: false,
      mask: () => ({ deep: deepValue(100_000) }),
      maxFieldBytes: 4096,
      maskTimeoutMillis: 1000,
      clock: virtualClock(),
    });
    expect(() => JSON.stringify(prepared)).not.toThrow();
    expect(JSON.stringify(prepared.input)).toContain(TOO_DEEP);
  });
});

describe('index-keyed attributes cost what their content costs', () => {
  function isDense(array: unknown[]): boolean {
    return Object.keys(array).length === array.length;
  }

  it('huge message indexes become a dense array in index order', () => {
    const item = toSGPSpanItem(
      record('chat', {
        'gen_ai.prompt.100000000.role': 'user',
        'gen_ai.prompt.100000000.content': 'second',
        'gen_ai.prompt.7.role': 'system',
        'gen_ai.prompt.7.content': 'first',
        'gen_ai.prompt.99999999999.role': 'user',
        'gen_ai.prompt.99999999999.content': 'third',
      }),
    );
    const messages = item.input.messages as JsonObject[];
    expect(messages).toEqual([
      { role: 'system', content: 'first' },
      { role: 'user', content: 'second' },
      { role: 'user', content: 'third' },
    ]);
    expect(isDense(messages)).toBe(true);
  });

  it('huge nested indexes (tool calls, OpenInference messages) stay dense', () => {
    const item = toSGPSpanItem(
      record('chat', {
        'llm.input_messages.99999999.message.role': 'user',
        'llm.input_messages.99999999.message.content': 'hi',
        'gen_ai.completion.0.role': 'assistant',
        'gen_ai.completion.0.tool_calls.50000000.name': 'lookup',
        'gen_ai.completion.0.tool_calls.3.name': 'search',
      }),
    );
    const [completion] = item.output.messages as JsonObject[];
    const calls = completion!.tool_calls as JsonObject[];
    expect(calls).toEqual([{ name: 'search' }, { name: 'lookup' }]);
    expect(isDense(calls)).toBe(true);
    expect(JSON.stringify(item).length).toBeLessThan(10_000);
  });
});
