import { context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SGPSpanProcessorOptions } from '../src/config.js';
import { MASK_FAILED, NOT_CAPTURED } from '../src/mapping/prepare.js';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { loadFixtures, renderFixture } from './fixtures/render.js';
import { credentials } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer({ maxBodyBytes: 64 * 1024 * 1024 });
});
afterEach(() => server.reset());
afterAll(() => server.close());

const bodies = () => server.requests.map((r) => r.body).join('\n');

async function send(options: Partial<SGPSpanProcessorOptions>, build: (tracer: ReturnType<BasicTracerProvider['getTracer']>) => void) {
  const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false, ...options });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  build(provider.getTracer('privacy'));
  await provider.forceFlush().catch(() => undefined);
  await provider.shutdown().catch(() => undefined);
  return processor;
}

/**
 * Fields the fixtures fill from free-form sources (tool arguments and results, `traceloop.entity.*`,
 * `input.value`): no convention defines their format, so they are sent as one marker, keys and all.
 */
const FREE_FORM_FIELDS: Record<string, Record<string, ('input' | 'output')[]>> = {
  'agent-turn.json': { tool: ['input', 'output'] },
  'openinference-retriever.json': { retriever: ['input'] },
  'traceloop-workflow-task.json': { workflow: ['input', 'output'], task: ['input', 'output'] },
  'vercel-ai-generate-text.json': { toolCall: ['input', 'output'] },
};

describe('captureContent: false', () => {
  for (const { file, fixture } of loadFixtures()) {
    it(`${file}: no message text in any request body; structure, model and tokens kept`, async () => {
      const items = await renderFixture(fixture, server, { captureContent: false });
      const sent = bodies();
      for (const text of fixture.texts) expect(sent).not.toContain(text);
      for (const [ref, item] of Object.entries(items)) {
        const expected = fixture.expected[ref]!;
        expect(item.type).toBe(expected.type);
        expect(item.metadata.llm).toEqual(expected.metadata.llm);
        expect(item.start_timestamp).toBe(expected.start_timestamp);
        const freeForm = FREE_FORM_FIELDS[file]?.[ref] ?? [];
        for (const field of ['input', 'output'] as const) {
          if (freeForm.includes(field)) expect(item[field]).toEqual({ value: NOT_CAPTURED });
          else expect(Object.keys(item[field])).toEqual(Object.keys(expected[field]));
        }
      }
    });
  }

  it('keeps roles and tool names, replacing the text', async () => {
    const { fixture } = loadFixtures().find((f) => f.file === 'genai-current-chat-tool-call.json')!;
    const items = await renderFixture(fixture, server, { env: { SGP_CAPTURE_CONTENT: 'false' } });
    expect(items.chat!.input.messages).toEqual([{ role: 'user', parts: [{ type: 'text', content: NOT_CAPTURED }] }]);
    expect(items.chat!.output.messages).toEqual([
      { role: 'assistant', parts: [{ type: 'tool_call', id: 'call_VSPygqKTWdrhaFErNvMV18Yl', name: 'get_weather', arguments: NOT_CAPTURED }], finish_reason: 'tool_call' },
    ]);
  });
});

describe('mask', () => {
  const SECRET = 'jane.doe@example.com';

  it('rewrites input, output and every metadata string before sending (async allowed)', async () => {
    const seen: string[] = [];
    await send(
      {
        mask: async (value, { field, path }) => {
          seen.push(`${field}:${path}`);
          return JSON.parse(JSON.stringify(value).replaceAll(SECRET, '<email>'));
        },
      },
      (tracer) =>
        tracer
          .startSpan('llm:support', {
            attributes: { 'sgp.input': JSON.stringify({ q: `mail ${SECRET}` }), 'sgp.output': `sent to ${SECRET}`, 'user.email': SECRET },
          })
          .end(),
    );
    expect(bodies()).not.toContain(SECRET);
    const [item] = server.items;
    expect(item!.input).toEqual({ q: 'mail <email>' });
    expect(item!.output).toEqual({ value: 'sent to <email>' });
    expect(item!.metadata['user.email']).toBe('<email>');
    expect(seen).toEqual(expect.arrayContaining(['input:input', 'output:output', 'metadata:user.email', 'metadata:otel.kind']));
  });

  it('rewrites the keys of span, event, link and resource attributes too, keeping each key apart', async () => {
    const seenKeys: string[] = [];
    const processor = new SGPSpanProcessor({
      ...credentials(server.url),
      flushOnExit: false,
      mask: (value, { key, path }) => {
        if (key) seenKeys.push(path);
        return typeof value === 'string' ? value.replaceAll(SECRET, '<email>').replaceAll('john@example.com', '<email>') : value;
      },
    });
    const provider = new BasicTracerProvider({
      spanProcessors: [processor],
      resource: resourceFromAttributes({ 'service.name': 'app', [`service.owner.${SECRET}`]: 'yes' }),
    });
    const span = provider.getTracer('privacy').startSpan('llm', {
      attributes: { [`quota.${SECRET}`]: 3, 'quota.john@example.com': 4, 'user.plan': 'pro', '<email>': 'taken' },
      links: [{ context: { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }, attributes: { [`from.${SECRET}`]: true } }],
    });
    span.addEvent('quota checked', { [`left.${SECRET}`]: 1 });
    span.end();
    await provider.shutdown();
    expect(bodies()).not.toContain(SECRET);
    const { metadata } = server.items[0]!;
    expect(metadata).toMatchObject({ 'quota.<email>': 3, 'quota.<email> (2)': 4, 'user.plan': 'pro', '<email>': 'taken' });
    const otel = metadata.otel as any;
    expect(otel.resource).toMatchObject({ 'service.name': 'app', 'service.owner.<email>': 'yes' });
    expect(otel.events[0].attributes).toEqual({ 'left.<email>': 1 });
    expect(otel.links[0].attributes).toEqual({ 'from.<email>': true });
    // Only attribute keys: sgp-otel's own keys (otel, kind, resource, ...) keep their names.
    expect(seenKeys).toContain('otel.resource.service.name');
    expect(seenKeys).not.toContain('otel');
    expect(seenKeys).not.toContain('otel.kind');
    expect(seenKeys).not.toContain('otel.events[0].name');
  });

  it('fails closed on a key it cannot rewrite, and a failed key never takes the place of sgp-otel\'s own', async () => {
    await send({ mask: (value, { key }) => (key ? (value === 'otel.trap' ? 'otel' : '') : value) }, (tracer) =>
      tracer.startSpan('llm', { attributes: { [`quota.${SECRET}`]: 3, [`limit.${SECRET}`]: 4, 'otel.trap': 5 } }).end(),
    );
    expect(bodies()).not.toContain(SECRET);
    const { metadata } = server.items[0]!;
    expect(metadata).toMatchObject({ [MASK_FAILED]: 3, [`${MASK_FAILED} (2)`]: 4, 'otel (2)': 5 });
    expect((metadata.otel as { kind: string }).kind).toBe('INTERNAL');
  });

  it.each([
    ['throws', () => {
      throw new Error('mask bug');
    }],
    ['rejects', async () => {
      throw new Error('mask bug');
    }],
    ['returns nothing', () => undefined as never],
  ])('fails closed when it %s: the unmasked value never reaches the server', async (_what, mask) => {
    await send({ mask }, (tracer) =>
      tracer.startSpan('llm', { attributes: { 'sgp.input': SECRET, 'sgp.output': SECRET, note: SECRET } }).end(),
    );
    expect(bodies()).not.toContain(SECRET);
    const [item] = server.items;
    expect(item!.input).toEqual({ value: MASK_FAILED });
    expect(item!.output).toEqual({ value: MASK_FAILED });
    // The attribute's key went through the mask too, and failed like its value.
    expect(item!.metadata[MASK_FAILED]).toBe(MASK_FAILED);
    expect(item!.metadata.note).toBeUndefined();
  });
});

describe('shouldExportSpan', () => {
  function requestTrace(tracer: ReturnType<BasicTracerProvider['getTracer']>) {
    const http = tracer.startSpan('POST /chat', { attributes: { 'http.request.method': 'POST', 'http.route': '/chat' } });
    const inHttp = trace.setSpan(context.active(), http);
    const auth = tracer.startSpan('middleware - auth', {}, inHttp);
    const inAuth = trace.setSpan(context.active(), auth);
    const agent = tracer.startSpan('invoke_agent helper', { attributes: { 'gen_ai.operation.name': 'invoke_agent' } }, inAuth);
    const inAgent = trace.setSpan(context.active(), agent);
    const llm = tracer.startSpan('chat gpt-4o', { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' } }, inAgent);
    const db = tracer.startSpan('SELECT users', { attributes: { 'db.system': 'postgresql' } }, inAgent);
    const tool = tracer.startSpan('execute_tool search', { attributes: { 'gen_ai.operation.name': 'execute_tool' } }, trace.setSpan(context.active(), db));
    for (const span of [tool, db, llm, agent, auth, http]) span.end();
    return { agent, llm, tool };
  }

  it("'genai' drops the HTTP root and other noise, and the kept spans arrive as one connected tree", async () => {
    let spans!: ReturnType<typeof requestTrace>;
    const processor = await send({ shouldExportSpan: 'genai' }, (tracer) => {
      spans = requestTrace(tracer);
    });
    const items = server.items;
    expect(items.map((i) => i.name).sort()).toEqual(['chat gpt-4o', 'execute_tool search', 'invoke_agent helper']);
    const byName = Object.fromEntries(items.map((i) => [i.name, i]));
    expect(byName['invoke_agent helper']!.parent_id).toBeUndefined();
    expect(byName['chat gpt-4o']!.parent_id).toBe(spans.agent.spanContext().spanId);
    // Its parent (the db span) was dropped: re-parented to the nearest kept ancestor.
    expect(byName['execute_tool search']!.parent_id).toBe(spans.agent.spanContext().spanId);
    const ids = new Set(items.map((i) => i.id));
    expect(items.filter((i) => i.parent_id !== undefined && !ids.has(i.parent_id))).toEqual([]);
    expect(items.filter((i) => i.parent_id === undefined)).toHaveLength(1);
    expect(processor.getStats()).toMatchObject({ received: 3, exported: 3, filtered: 3 });
  });

  it('takes a predicate, and keeps a span when the predicate throws', async () => {
    await send(
      {
        shouldExportSpan: (span: ReadableSpan) => {
          if (span.name === 'weird') throw new Error('predicate bug');
          return !span.name.startsWith('noise');
        },
      },
      (tracer) => {
        tracer.startSpan('noise-1').end();
        tracer.startSpan('kept').end();
        tracer.startSpan('weird').end();
      },
    );
    expect(server.items.map((i) => i.name).sort()).toEqual(['kept', 'weird']);
  });
});

describe('size limits', () => {
  it('a 5 MiB prompt arrives truncated, valid JSON, marked, within maxFieldBytes', async () => {
    const prompt = 'p'.repeat(5 * 1024 * 1024);
    const messages = JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: prompt }] }]);
    await send({}, (tracer) =>
      tracer.startSpan('chat big', { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': messages } }).end(),
    );
    const [item] = server.items;
    expect(Buffer.byteLength(JSON.stringify(item!.input))).toBeLessThanOrEqual(1024 * 1024);
    const content = (item!.input.messages as any)[0].parts[0].content as string;
    expect(content.startsWith('pppp')).toBe(true);
    expect(content.endsWith('…')).toBe(true);
    expect(item!.input.messages).toEqual([{ role: 'user', parts: [{ type: 'text', content }] }]);
    expect(item!.metadata.sgp_otel).toEqual({
      truncated: [{ path: 'input.messages[0].parts[0].content', original_bytes: 5 * 1024 * 1024 }],
    });
  });

  it('cuts a large object (a 150 KB image as numbered bytes) to its share and keeps the prompt beside it', async () => {
    const image = Object.fromEntries(Array.from({ length: 150_000 }, (_, i) => [String(i), i % 256]));
    const prompt = 'Describe this receipt and total the amounts.';
    await send({ maxFieldBytes: 64 * 1024 }, (tracer) =>
      tracer.startSpan('vision', { attributes: { 'sgp.input': JSON.stringify({ prompt, image }) } }).end(),
    );
    const [item] = server.items;
    expect(Buffer.byteLength(JSON.stringify(item!.input))).toBeLessThanOrEqual(64 * 1024);
    expect(item!.input.prompt).toBe(prompt);
    const kept = item!.input.image as Record<string, unknown>;
    expect(kept['0']).toBe(0);
    expect(kept.sgp_otel_omitted).toMatch(/^\d+ more keys$/);
    expect((item!.metadata.sgp_otel as { truncated: unknown[] }).truncated).toEqual([
      { path: 'input.image', original_bytes: expect.any(Number), reason: expect.stringMatching(/ of 150000 entries omitted$/) },
    ]);
  });

  it('cuts a long array to a prefix and says how many elements were left out', async () => {
    const documents = Array.from({ length: 10_000 }, (_, i) => `document ${i}`);
    await send({ maxFieldBytes: 8 * 1024 }, (tracer) =>
      tracer.startSpan('retrieval', { attributes: { 'sgp.output': JSON.stringify({ query: 'q', documents }) } }).end(),
    );
    const output = server.items[0]!.output as { query: string; documents: string[] };
    expect(Buffer.byteLength(JSON.stringify(output))).toBeLessThanOrEqual(8 * 1024);
    expect(output.query).toBe('q');
    expect(output.documents.slice(0, 3)).toEqual(['document 0', 'document 1', 'document 2']);
    expect(output.documents.at(-1)).toMatch(/^\[\d+ more omitted\]$/);
  });

  it('honours SGP_MAX_FIELD_BYTES', async () => {
    await send({ env: { SGP_MAX_FIELD_BYTES: '4096' } }, (tracer) =>
      tracer.startSpan('s', { attributes: { 'sgp.output': 'o'.repeat(10_000) } }).end(),
    );
    expect(Buffer.byteLength(JSON.stringify(server.items[0]!.output))).toBeLessThanOrEqual(4096);
  });

  it('splits a batch whose body would exceed maxBatchBytes', async () => {
    const processor = await send({ maxBatchBytes: 256 * 1024 }, (tracer) => {
      for (let i = 0; i < 20; i += 1) tracer.startSpan(`s${i}`, { attributes: { 'sgp.input': 'x'.repeat(60 * 1024) } }).end();
    });
    expect(server.items).toHaveLength(20);
    expect(server.requests.length).toBeGreaterThan(1);
    for (const request of server.requests) expect(request.bytes).toBeLessThanOrEqual(256 * 1024);
    expect(processor.getStats()).toMatchObject({ exported: 20, dropped: { total: 0 } });
  });
});
