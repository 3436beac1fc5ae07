/**
 * `captureContent: false` means no content leaves the process, in every convention: a property
 * test over a registry of each convention's content attributes and events, and the promises the
 * README makes, one test each.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import type { Attributes } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SGPSpanItem } from '../src/mapping/item.js';
import type { MaskFunction } from '../src/mapping/prepare.js';
import { NOT_CAPTURED, prepareItem } from '../src/mapping/prepare.js';
import { toSGPSpanItem } from '../src/mapping/span-to-item.js';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { credentials, virtualClock } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer({ maxBodyBytes: 64 * 1024 * 1024 });
});
afterEach(() => server.reset());
afterAll(() => server.close());

interface SpanSpec {
  name: string;
  attributes: Attributes;
  events?: { name: string; attributes: Attributes }[];
  links?: Attributes[];
}

/**
 * Plays `spec` through a real tracer provider and SGPSpanProcessor, and returns the raw request
 * body that reached the test server (what really leaves the process) and the item in it.
 */
async function send(spec: SpanSpec, options: { captureContent?: boolean; mask?: MaskFunction } = {}): Promise<{ wire: string; item: SGPSpanItem }> {
  server.reset();
  const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false, captureContent: options.captureContent ?? false, mask: options.mask });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  const links = (spec.links ?? []).map((attributes) => ({ context: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }, attributes }));
  const span = provider.getTracer('privacy').startSpan(spec.name, { attributes: spec.attributes, links });
  for (const event of spec.events ?? []) span.addEvent(event.name, event.attributes);
  span.end();
  await provider.shutdown();
  expect(server.requests).toHaveLength(1);
  const wire = server.requests[0]!.body;
  return { wire, item: (JSON.parse(wire) as { items: SGPSpanItem[] }).items[0]! };
}

/** The span as a real provider records it, for the few checks of `prepareItem` alone. */
async function recordSpan(spec: SpanSpec): Promise<ReadableSpan> {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.getTracer('privacy').startSpan(spec.name, { attributes: spec.attributes }).end();
  await provider.forceFlush();
  return exporter.getFinishedSpans()[0]!;
}

async function sent(spec: SpanSpec, options: { captureContent?: boolean; mask?: MaskFunction } = {}): Promise<SGPSpanItem> {
  return (await send(spec, options)).item;
}

/** A piece of content: text `t`, a number `n` (numbers inside content are content too). */
interface Content {
  t: string;
  n: number;
}
const j = JSON.stringify;
const messages = (c: Content) =>
  j([
    { role: 'user', parts: [{ type: 'text', content: c.t }] },
    { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'lookup', arguments: { name: c.t, id: c.t, role: c.t, amount: c.n } }] },
    { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: { name: c.t, balance: c.n } }] },
  ]);
const oiMessage = (prefix: string, c: Content): Attributes => ({
  [`${prefix}.0.message.role`]: 'user',
  [`${prefix}.0.message.content`]: c.t,
  [`${prefix}.0.message.contents.0.message_content.type`]: 'text',
  [`${prefix}.0.message.contents.0.message_content.text`]: c.t,
  [`${prefix}.0.message.tool_calls.0.tool_call.function.name`]: 'lookup',
  [`${prefix}.0.message.tool_calls.0.tool_call.function.arguments`]: j({ id: c.t, n: c.n }),
});

/** Every content attribute and event of every convention sgp-otel knows, filled with `c`. */
const REGISTRY: Record<string, (c: Content) => SpanSpec> = {
  'sgp.input / sgp.output': (c) => ({ name: 's', attributes: { 'sgp.input': j({ q: c.t, n: c.n }), 'sgp.output': c.t } }),
  'gen_ai.input/output.messages, system_instructions, tool.definitions': (c) => ({
    name: 'chat',
    attributes: {
      'gen_ai.operation.name': 'chat',
      'gen_ai.input.messages': messages(c),
      'gen_ai.output.messages': messages(c),
      'gen_ai.system_instructions': j([{ type: 'text', content: c.t }]),
      'gen_ai.tool.definitions': j([{ type: 'function', name: 'lookup', description: c.t, parameters: { default: c.n } }]),
    },
  }),
  'gen_ai.tool.definitions alone': (c) => ({
    name: 'chat',
    attributes: { 'gen_ai.tool.definitions': j([{ type: 'function', name: 'lookup', description: c.t }]) },
  }),
  'gen_ai.tool.call.arguments / result, tool description': (c) => ({
    name: 'execute_tool lookup',
    attributes: {
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'lookup',
      'gen_ai.tool.description': c.t,
      'gen_ai.tool.call.arguments': j({ name: c.t, id: c.t, role: c.t, amount: c.n }),
      'gen_ai.tool.call.result': j({ account_balance: c.n, owner: c.t }),
    },
  }),
  'gen_ai.retrieval.*, gen_ai.memory.*': (c) => ({
    name: 'retrieval',
    attributes: {
      'gen_ai.operation.name': 'retrieval',
      'gen_ai.retrieval.query.text': c.t,
      'gen_ai.retrieval.documents': j([{ id: 'd1', score: c.n, content: c.t }]),
      'gen_ai.memory.query.text': c.t,
      'gen_ai.memory.records': j([{ id: 'm1', content: c.t }]),
      'gen_ai.evaluation.explanation': c.t,
    },
  }),
  'gen_ai.client.inference.operation.details event': (c) => ({
    name: 'chat',
    attributes: { 'gen_ai.operation.name': 'chat' },
    events: [
      {
        name: 'gen_ai.client.inference.operation.details',
        attributes: { 'gen_ai.input.messages': messages(c), 'gen_ai.output.messages': messages(c), 'gen_ai.system_instructions': c.t },
      },
    ],
  }),
  'deprecated gen_ai.prompt / gen_ai.completion, flattened and whole': (c) => ({
    name: 'chat',
    attributes: {
      'gen_ai.prompt.0.role': 'user',
      'gen_ai.prompt.0.content': c.t,
      'gen_ai.completion.0.role': 'assistant',
      'gen_ai.completion.0.content': c.t,
      'gen_ai.completion.0.tool_calls.0.name': 'lookup',
      'gen_ai.completion.0.tool_calls.0.arguments': j({ q: c.t, n: c.n }),
      'gen_ai.prompt': c.t,
      'gen_ai.completion': c.t,
    },
  }),
  'deprecated message events and gen_ai.content.* events': (c) => ({
    name: 'chat',
    attributes: {},
    events: [
      { name: 'gen_ai.system.message', attributes: { content: c.t } },
      { name: 'gen_ai.user.message', attributes: { content: c.t, 'gen_ai.event.content': j({ content: c.t }) } },
      { name: 'gen_ai.assistant.message', attributes: { content: c.t, tool_calls: j([{ id: 'c', function: { name: 'f', arguments: c.t } }]) } },
      { name: 'gen_ai.tool.message', attributes: { content: c.t, id: 'c' } },
      { name: 'gen_ai.choice', attributes: { index: 0, finish_reason: 'stop', message: j({ role: 'assistant', content: c.t }) } },
      { name: 'gen_ai.content.prompt', attributes: { 'gen_ai.prompt': c.t } },
      { name: 'gen_ai.content.completion', attributes: { 'gen_ai.completion': c.t } },
    ],
  }),
  'Vercel AI SDK generate': (c) => ({
    name: 'ai.generateText.doGenerate',
    attributes: {
      'ai.prompt': j({ system: c.t, prompt: c.t }),
      'ai.prompt.messages': j([
        { role: 'user', content: [{ type: 'text', text: c.t }, { type: 'image', image: { 0: c.n, 1: 80 }, mediaType: 'image/png' }] },
      ]),
      'ai.prompt.tools': [j({ type: 'function', name: 'lookup', description: c.t, inputSchema: { default: c.n } })],
      'ai.response.text': c.t,
      'ai.response.reasoning': c.t,
      'ai.response.object': j({ name: c.t, id: c.t, type: c.t, account_balance: c.n }),
      'ai.response.toolCalls': j([{ toolCallId: 'call_1', toolName: 'lookup', input: j({ q: c.t }) }]),
      'ai.response.providerMetadata': j({ note: c.t }),
      'ai.schema': j({ description: c.t }),
    },
  }),
  'Vercel AI SDK tool call': (c) => ({
    name: 'ai.toolCall',
    attributes: { 'ai.toolCall.name': 'lookup', 'ai.toolCall.args': j({ name: c.t, n: c.n }), 'ai.toolCall.result': j({ id: c.t }) },
  }),
  'Vercel AI SDK embed / rerank': (c) => ({
    name: 'ai.embedMany',
    attributes: {
      'ai.value': j(c.t),
      'ai.values': [j(c.t)],
      'ai.embedding': j([c.n, 0.5]),
      'ai.embeddings': [j([c.n, 0.5])],
      'ai.documents': [j(c.t), j({ title: c.t })],
      'ai.ranking': [j({ index: 0, relevanceScore: c.n })],
    },
  }),
  'OpenInference LLM, text completions, prompt template, tools': (c) => ({
    name: 'llm',
    attributes: {
      'openinference.span.kind': 'LLM',
      ...oiMessage('llm.input_messages', c),
      ...oiMessage('llm.output_messages', c),
      'llm.prompts.0.prompt.text': c.t,
      'llm.choices.0.completion.text': c.t,
      'llm.prompt_template.template': c.t,
      'llm.prompt_template.variables': j({ topic: c.t }),
      'llm.tools.0.tool.json_schema': j({ type: 'function', function: { name: 'lookup', description: c.t } }),
      'llm.invocation_parameters': j({ stop: [c.t], seed: c.n }),
      'input.value': c.t,
      'output.value': j({ answer: c.t }),
    },
  }),
  'OpenInference retriever, embedding, reranker, tool': (c) => ({
    name: 'oi',
    attributes: {
      'retrieval.documents.0.document.content': c.t,
      'retrieval.documents.0.document.score': c.n,
      'embedding.embeddings.0.embedding.text': c.t,
      'embedding.embeddings.0.embedding.vector': [c.n, 0.5],
      'reranker.query': c.t,
      'reranker.input_documents.0.document.content': c.t,
      'reranker.output_documents.0.document.content': c.t,
      'tool.name': 'lookup',
      'tool.description': c.t,
      'tool.parameters': j({ default: c.t }),
      'message.content': c.t,
    },
  }),
  'OpenLLMetry / Traceloop': (c) => ({
    name: 'openai.chat',
    attributes: {
      'llm.request.type': 'chat',
      'traceloop.entity.input': j({ args: [c.t], kwargs: { n: c.n } }),
      'traceloop.entity.output': c.t,
      'llm.request.functions.0.name': 'lookup',
      'llm.request.functions.0.description': c.t,
      'llm.request.functions.0.parameters': j({ default: c.t }),
      'documents.0.text': c.t,
      'documents.0.id': c.t,
    },
  }),
  // Free-form sources (tool arguments and results, your own input/output, generated objects)
  // carrying text that looks like chat messages, tool definitions, rankings and embeddings, with
  // content in keys and numbers: their format is nobody's convention, so none of it is structure.
  'sgp.input / sgp.output shaped like chat': (c) => ({ name: 's', attributes: { 'sgp.input': chatShaped(c), 'sgp.output': chatShaped(c) } }),
  'ai.toolCall.args / result shaped like chat': (c) => ({
    name: 'ai.toolCall',
    attributes: { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.args': chatShaped(c), 'ai.toolCall.result': chatShaped(c) },
  }),
  'gen_ai.tool.call.arguments / result shaped like chat': (c) => ({
    name: 'execute_tool',
    attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.call.arguments': chatShaped(c), 'gen_ai.tool.call.result': chatShaped(c) },
  }),
  'traceloop.entity.input / output shaped like chat': (c) => ({
    name: 'task',
    attributes: { 'traceloop.span.kind': 'task', 'traceloop.entity.input': chatShaped(c), 'traceloop.entity.output': chatShaped(c) },
  }),
  'input.value / output.value shaped like chat': (c) => ({
    name: 'chain',
    attributes: { 'openinference.span.kind': 'CHAIN', 'input.value': chatShaped(c), 'output.value': chatShaped(c) },
  }),
  'gen_ai.prompt / gen_ai.completion as a JSON object': (c) => ({
    name: 'chat',
    attributes: { 'gen_ai.prompt': chatShaped(c), 'gen_ai.completion': chatShaped(c) },
  }),
  'ai.prompt with keys of its own, ai.response.object shaped like chat': (c) => ({
    name: 'ai.generateObject',
    attributes: {
      'ai.prompt': j({ [c.t]: c.n, system: c.t, messages: [{ role: c.t, index: c.n, content: [{ type: c.t, text: c.t, [c.t]: c.n }] }] }),
      'ai.response.object': chatShaped(c),
    },
  }),
  // Chat formats whose structural positions hold content: only values that are structure pass.
  'chat messages with content at structural positions': (c) => ({
    name: 'chat',
    attributes: {
      'gen_ai.input.messages': j([
        { role: c.t, index: c.n, finish_reason: c.t, [c.t]: c.n, parts: [{ type: c.t, mime_type: c.t, modality: c.t, [c.t]: c.t }] },
      ]),
      'gen_ai.output.messages': j([{ role: 'assistant', finish_reason: c.t, index: c.n, parts: [{ type: 'tool_call', name: `${c.t} with spaces` }] }]),
      'gen_ai.tool.definitions': j([{ type: c.t, name: `${c.t} with spaces`, [c.t]: c.n }]),
    },
  }),
};

/** Text shaped like every structure the conventions define, with content in keys, values and numbers. */
function chatShaped(c: Content): string {
  const message = { role: c.t, tool_call_id: c.t, toolCallId: c.t, index: c.n, finish_reason: c.t, id: c.t, name: c.t, type: c.t };
  return j({
    [c.t]: { account_balance: c.n },
    messages: [{ ...message, parts: [message], content: [message], tool_calls: [{ ...message, function: { name: c.t } }] }],
    system_instructions: [message],
    tools: [{ name: c.t, type: c.t, function: { name: c.t } }],
    tool_calls: [message],
    ranking: [{ index: c.n, originalIndex: c.n }],
    documents: [c.t],
    values: [c.n],
    embeddings: c.t,
    dimensions: c.n,
  });
}

/** Content that cannot occur by chance in an item: a marked token and a number with a marked fraction. */
const content = fc.record({
  t: fc.stringMatching(/^[a-z]{10}$/).map((s) => `ct-${s}`),
  n: fc.integer({ min: 100_000_000, max: 999_999_999 }).map((n) => n + 0.125),
});

describe('captureContent: false, every convention (property)', () => {
  it('no content value appears anywhere in the item, whichever attributes and events carry it', async () => {
    const names = Object.keys(REGISTRY);
    await fc.assert(
      fc.asyncProperty(content, fc.subarray(names, { minLength: 1 }), async (c, chosen) => {
        const specs = chosen.map((name) => REGISTRY[name]!(c));
        const spec: SpanSpec = {
          name: 'combined',
          attributes: Object.assign({}, ...specs.map((s) => s.attributes)),
          events: specs.flatMap((s) => s.events ?? []),
        };
        const { wire } = await send(spec);
        expect(wire).not.toContain(c.t);
        expect(wire).not.toContain(String(c.n));
      }),
      { numRuns: 150 },
    );
  });

  it.each(Object.keys(REGISTRY))('%s alone: no content value in the request body', async (name) => {
    const c = { t: 'ct-alone', n: 987654321.125 };
    const { wire } = await send(REGISTRY[name]!(c));
    expect(wire).not.toContain(c.t);
    expect(wire).not.toContain(String(c.n));
  });

  it.each(Object.keys(REGISTRY))('%s: the content is really there with capture on', async (name) => {
    const c = { t: 'ct-visible', n: 123456789.125 };
    const { wire } = await send(REGISTRY[name]!(c), { captureContent: true });
    expect(wire).toContain(c.t);
  });
});

describe('captureContent: false, the promises one by one', () => {
  it('keeps structural keys only where the conventions put them, never inside arguments or objects', async () => {
    const item = await sent({
      name: 'execute_tool lookup',
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': 'lookup',
        'gen_ai.tool.call.arguments': JSON.stringify({ name: 'Alice Smith', id: '123-45-6789', role: 'CFO' }),
      },
    });
    expect(item.input).toEqual({ value: NOT_CAPTURED });
    expect(item.metadata['gen_ai.tool.name']).toBe('lookup');
    const chat = await sent({ name: 'chat', attributes: { 'gen_ai.input.messages': messages({ t: 'secret', n: 1234.56 }) } });
    expect(chat.input.messages).toEqual([
      { role: 'user', parts: [{ type: 'text', content: NOT_CAPTURED }] },
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_1', name: 'lookup', arguments: NOT_CAPTURED }] },
      { role: 'tool', parts: [{ type: 'tool_call_response', id: 'call_1', response: NOT_CAPTURED }] },
    ]);
  });

  it('sends tool arguments and results, sgp.*, traceloop.entity.* and input/output.value as one marker, whatever their shape', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false, captureContent: false });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    const t = provider.getTracer('privacy');
    t.startSpan('ai.toolCall', {
      attributes: {
        'ai.operationId': 'ai.toolCall',
        'ai.toolCall.args': JSON.stringify({ 'Alice Smith': { account_balance: 1234.56 } }),
        'ai.toolCall.result': JSON.stringify({ messages: [{ role: 'SECRET_role', tool_call_id: 'SECRET_iban', index: 4242.42 }] }),
      },
    }).end();
    t.startSpan('execute_tool', {
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.call.arguments': JSON.stringify({ tools: [{ name: 'SECRET_name' }] }),
        'gen_ai.tool.call.result': JSON.stringify({ embeddings: 'SECRET_result', dimensions: 9999.99 }),
      },
    }).end();
    t.startSpan('c', {
      attributes: { 'traceloop.entity.output': JSON.stringify({ dimensions: 'SECRET_tl' }), 'output.value': JSON.stringify({ embeddings: 31337 }) },
    }).end();
    t.startSpan('s', { attributes: { 'sgp.input': JSON.stringify({ messages: [{ role: 'user' }] }), 'sgp.output': '{"embeddings": 2}' } }).end();
    await provider.shutdown();
    const wire = server.requests.map((request) => request.body).join('\n');
    for (const leak of ['Alice Smith', 'account_balance', '1234.56', 'SECRET_', '4242.42', '9999.99', '31337']) expect(wire).not.toContain(leak);
    const marker = { value: NOT_CAPTURED };
    expect(Object.fromEntries(server.items.map((item) => [item.name, [item.input, item.output]]))).toEqual({
      'ai.toolCall': [marker, marker],
      execute_tool: [marker, marker],
      c: [{}, marker],
      s: [marker, marker],
    });
  });

  it('keeps a value at a structural position only when it looks like structure there', async () => {
    const item = await sent({
      name: 'chat',
      attributes: {
        'gen_ai.input.messages': JSON.stringify([
          { role: 'Alice Smith', index: 4242.42, finish_reason: 'her IBAN is DE89', tool_call_id: 'call 1 for Alice', parts: [{ type: 'alice', mime_type: 'Alice Smith', modality: 'smell' }] },
          { role: 'tool', index: 3, tool_call_id: 'call_1', parts: [{ type: 'tool_call_response', id: 'call_1', mime_type: 'application/json', modality: 'text' }] },
        ]),
        'gen_ai.output.messages': JSON.stringify([
          { role: 'assistant', finish_reason: 'stop', parts: [{ type: 'tool_call', id: 'x'.repeat(65), name: 'look up Alice' }] },
          // A number is no id, however id-shaped: a card, a phone number.
          { role: 'assistant', finish_reason: 'stop', parts: [{ type: 'tool_call', id: '4111111111111111', name: '555-123-4567' }] },
        ]),
        'gen_ai.tool.definitions': JSON.stringify([{ type: 'Alice', name: 'lookup' }]),
      },
    });
    expect(item.input).toEqual({
      messages: [
        {
          role: NOT_CAPTURED,
          index: NOT_CAPTURED,
          finish_reason: NOT_CAPTURED,
          tool_call_id: NOT_CAPTURED,
          parts: [{ type: NOT_CAPTURED, mime_type: NOT_CAPTURED, modality: NOT_CAPTURED }],
        },
        { role: 'tool', index: 3, tool_call_id: 'call_1', parts: [{ type: 'tool_call_response', id: 'call_1', mime_type: 'application/json', modality: 'text' }] },
      ],
      tools: [{ type: NOT_CAPTURED, name: 'lookup' }],
    });
    expect(item.output.messages).toEqual([
      { role: 'assistant', finish_reason: 'stop', parts: [{ type: 'tool_call', id: NOT_CAPTURED, name: NOT_CAPTURED }] },
      { role: 'assistant', finish_reason: 'stop', parts: [{ type: 'tool_call', id: NOT_CAPTURED, name: NOT_CAPTURED }] },
    ]);
  });

  it('sends keys a chat format does not define as one marker, and no inherited name counts as a rule', async () => {
    const item = await sent({
      name: 'chat',
      attributes: {
        'gen_ai.input.messages': JSON.stringify([{ role: 'user', 'Alice Smith': 1, constructor: 'Alice', toString: 'Alice', __proto__: 'Alice' }]),
      },
    });
    expect(item.input.messages).toEqual([{ role: 'user', value: NOT_CAPTURED }]);
  });

  it('keeps tool definitions beside a free-form input, and nothing of the input', async () => {
    const item = await sent({
      name: 'execute_tool',
      attributes: {
        'gen_ai.tool.call.arguments': JSON.stringify({ 'Alice Smith': 1234.56 }),
        'gen_ai.tool.definitions': JSON.stringify([{ type: 'function', name: 'lookup', description: 'Alice' }]),
      },
    });
    expect(item.input).toEqual({ value: NOT_CAPTURED, tools: [{ type: 'function', name: 'lookup', description: NOT_CAPTURED }] });
  });

  it('treats input and output not made by the mapping as free-form', async () => {
    const span = await recordSpan({ name: 'chat', attributes: {} });
    const item = toSGPSpanItem(span);
    const prepared = await prepareItem(
      { ...item, input: { messages: [{ role: 'user' }] }, output: { embeddings: 2 } },
      span,
      { captureContent: false, mask: undefined, maxFieldBytes: 1024, maskTimeoutMillis: 1000, clock: virtualClock() },
    );
    expect([prepared.input, prepared.output]).toEqual([{ value: NOT_CAPTURED }, { value: NOT_CAPTURED }]);
  });

  it("leaves out the error texts of an LLM span (a provider's error can quote the prompt), keeping the error type", async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false, captureContent: false });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    const tracer = provider.getTracer('privacy');
    for (const name of ['chat gpt-4o', 'SELECT orders']) {
      const span = tracer.startSpan(name, { attributes: name.startsWith('chat') ? { 'gen_ai.operation.name': 'chat' } : {} });
      const error = new TypeError(`Invalid prompt: "Alice Smith's IBAN is DE89" (${name})`);
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span.end();
    }
    await provider.shutdown();
    const byName = Object.fromEntries(server.items.map((item) => [item.name, item]));
    const llm = byName['chat gpt-4o']!;
    expect(server.requests.map((request) => request.body).join('\n')).not.toContain('DE89\\" (chat gpt-4o)');
    expect(JSON.stringify(llm)).not.toContain('Alice Smith');
    expect(llm.metadata).toMatchObject({ error: true, error_type: 'TypeError', error_message: NOT_CAPTURED });
    const [exception] = (llm.metadata.otel as { events: { name: string; attributes: Record<string, unknown> }[] }).events;
    expect(exception).toMatchObject({
      name: 'exception',
      attributes: { 'exception.type': 'TypeError', 'exception.message': NOT_CAPTURED, 'exception.stacktrace': NOT_CAPTURED },
    });
    // Not an LLM span: its error is the application's own, and is sent as it is (see the README).
    expect(byName['SELECT orders']!.metadata.error_message).toContain('Alice Smith');
  });

  it('counts numbers and booleans inside content as content (account_balance: 1234.56 is not sent)', async () => {
    const item = await sent({
      name: 'chat',
      attributes: { 'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 1234.56, cached: true }] }]) },
    });
    expect(item.output.messages).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: NOT_CAPTURED, value: NOT_CAPTURED }] }]);
  });

  it('removes content attributes no mapping rule claims, and keeps what is known not to be content', async () => {
    const item = await sent({
      name: 'chat',
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 12,
        'gen_ai.response.finish_reasons': ['stop'],
        'gen_ai.some_future.content': 'leak?',
        'http.route': '/chat',
        'llm.invocation_parameters': '{"stop":["leak?"]}',
        'ai.telemetry.metadata.userId': 'u-1',
      },
      links: [{ 'gen_ai.prompt': 'leak?', 'link.reason': 'follows' }],
    });
    expect(item.metadata['ai.telemetry.metadata.userId']).toBe('u-1');
    expect((item.metadata.otel as { links: { attributes: unknown }[] }).links[0]!.attributes).toEqual({ 'link.reason': 'follows' });
    expect(item.metadata).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 12,
      'gen_ai.response.finish_reasons': ['stop'],
      'http.route': '/chat',
      llm: { model: 'gpt-4o', input_tokens: 12 },
    });
    expect(JSON.stringify(item)).not.toContain('leak?');
  });

  it('reduces unknown LLM events to their known non-content attributes', async () => {
    const item = await sent({
      name: 'chat',
      attributes: {},
      events: [
        { name: 'gen_ai.future.event', attributes: { text: 'leak?', 'gen_ai.response.id': 'r1' } },
        { name: 'cache.miss', attributes: { key: 'k1', 'gen_ai.prompt': 'leak?' } },
      ],
    });
    const events = (item.metadata.otel as { events: { name: string; attributes: unknown }[] }).events;
    expect(events.map((e) => [e.name, e.attributes])).toEqual([
      ['gen_ai.future.event', { 'gen_ai.response.id': 'r1' }],
      ['cache.miss', { key: 'k1' }],
    ]);
  });

  it('keeps top-level field names, array lengths and the count and size of embeddings', async () => {
    const item = await sent({
      name: 'ai.embedMany',
      attributes: { 'ai.values': [JSON.stringify('a'), JSON.stringify('b')], 'ai.embeddings': ['[0.1,0.2]', '[0.3,0.4]'] },
    });
    expect(item.input).toEqual({ values: [NOT_CAPTURED, NOT_CAPTURED] });
    expect(item.output).toEqual({ embeddings: 2, dimensions: 2 });
  });

  it('sends an image given as bytes as "[not captured]", not as numbered bytes', async () => {
    const image = Object.fromEntries([137, 80, 78, 71].map((byte, i) => [String(i), byte]));
    const item = await sent({
      name: 'ai.generateText.doGenerate',
      attributes: { 'ai.prompt.messages': JSON.stringify([{ role: 'user', content: [{ type: 'image', image, mediaType: 'image/png' }] }]) },
    });
    expect(item.input.messages).toEqual([{ role: 'user', content: [{ type: 'image', image: NOT_CAPTURED, mediaType: 'image/png' }] }]);
  });
});

describe('mask', () => {
  it('sees every string that is sent: input, output, each metadata string, the name and the group id', async () => {
    const seen = new Set<string>();
    const item = await sent(
      { name: 'chat for alice@example.com', attributes: { 'sgp.input': 'q', 'sgp.group_id': 'alice@example.com', note: 'n' } },
      {
        captureContent: true,
        mask: (value, { field }) => {
          seen.add(field);
          return JSON.parse(JSON.stringify(value).replaceAll('alice@example.com', '<email>'));
        },
      },
    );
    expect([...seen].sort()).toEqual(['group_id', 'input', 'metadata', 'name', 'output']);
    expect(item.name).toBe('chat for <email>');
    expect(item.group_id).toBe('<email>');
    const strings: string[] = [];
    JSON.stringify(item, (_key, value) => {
      if (typeof value === 'string') strings.push(value);
      return value;
    });
    expect(strings.join('\n')).not.toContain('alice@example.com');
  });

  it('leaves the group id out when its mask fails, so unrelated traces are not grouped together', async () => {
    const item = await sent(
      { name: 'chat', attributes: { 'sgp.group_id': 'alice@example.com' } },
      {
        captureContent: true,
        mask: (value, { field }) => {
          if (field === 'group_id') throw new Error('mask bug');
          return value;
        },
      },
    );
    expect(item.group_id).toBeUndefined();
    expect(item.name).toBe('chat');
  });
});
