import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { INPUT_SOURCES, OUTPUT_SOURCES, TOOL_DEFINITION_SOURCES, unflattenIndexed } from '../src/mapping/conventions.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { loadFixtures, renderFixture } from './fixtures/render.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
});
afterEach(() => server.reset());
afterAll(() => server.close());

const fixtures = loadFixtures();

describe('golden fixtures: each convention becomes exactly its expected SGP item', () => {
  it('has a fixture for every convention the mapping covers', () => {
    expect(fixtures.map((f) => f.file)).toEqual([
      'agent-turn.json',
      'genai-content-events.json',
      'genai-current-chat-tool-call.json',
      'genai-deprecated-attributes.json',
      'genai-deprecated-events.json',
      'genai-retrieval-memory-workflow.json',
      'http-server.json',
      'langsmith-kinds.json',
      'openinference-embedding-reranker-prompt.json',
      'openinference-llm.json',
      'openinference-retriever.json',
      'openllmetry-rerank-and-functions.json',
      'traceloop-workflow-task.json',
      'vercel-ai-embed-rerank.json',
      'vercel-ai-generate-text.json',
    ]);
  });

  for (const { file, fixture } of fixtures) {
    it(`${file}: ${fixture.description}`, async () => {
      const items = await renderFixture(fixture, server);
      expect(items).toEqual(fixture.expected);
    });

    it(`${file}: no prompt or completion text in metadata`, async () => {
      const items = await renderFixture(fixture, server);
      for (const item of Object.values(items)) {
        const metadata = JSON.stringify(item.metadata);
        for (const text of fixture.texts) expect(metadata).not.toContain(text);
      }
      // The texts are really there, in input/output: the check above is not vacuous.
      const content = JSON.stringify(Object.values(items).map((item) => [item.input, item.output]));
      for (const text of fixture.texts) expect(content).toContain(text);
    });
  }
});

describe('conventions beyond chat', () => {
  it('only integer-indexed gen_ai.prompt.N.* keys belong to the deprecated prompt rule', async () => {
    const { fixture } = fixtures.find((f) => f.file === 'genai-retrieval-memory-workflow.json')!;
    const items = await renderFixture(fixture, server);
    expect(items.chat!.metadata['gen_ai.prompt.name']).toBe('support-triage');
    expect(items.chat!.input).toEqual({ tools: [expect.objectContaining({ name: 'get_order' })] });
  });

  it('never sends embedding vectors, only their count and dimensions', async () => {
    const { fixture } = fixtures.find((f) => f.file === 'vercel-ai-embed-rerank.json')!;
    const items = await renderFixture(fixture, server);
    expect(items.embed!.output).toEqual({ embeddings: 2, dimensions: 3 });
    expect(JSON.stringify(items.embed)).not.toContain('-0.52');
  });
});

describe('unflattenIndexed', () => {
  it('rebuilds indexed attributes in index order, with nested arrays', () => {
    expect(
      unflattenIndexed(
        {
          'gen_ai.completion.1.role': 'assistant',
          'gen_ai.completion.0.role': 'assistant',
          'gen_ai.completion.0.tool_calls.1.name': 'b',
          'gen_ai.completion.0.tool_calls.0.name': 'a',
          'gen_ai.completion.0.tool_calls.0.arguments': '{"x":1}',
          'gen_ai.completion.1.content': 'done',
          'gen_ai.completion.x.ignored': 'not an index',
        },
        'gen_ai.completion.',
      ),
    ).toEqual([
      { role: 'assistant', tool_calls: [{ name: 'a', arguments: { x: 1 } }, { name: 'b' }] },
      { role: 'assistant', content: 'done' },
    ]);
  });
});

describe('content sources are asked only for the key families they read', () => {
  const ALL = [...INPUT_SOURCES, ...OUTPUT_SOURCES, ...TOOL_DEFINITION_SOURCES];
  /** The keys each source names (its README line), indexed placeholders as a real index. */
  const namedKeys = (name: string) =>
    [...name.matchAll(/\b[a-z_]+(?:\.[A-Za-z_0-9N*]+)+/g)].map((match) => match[0].replace(/\.N(?=\.|$)/g, '.0').replace(/\.\*$/, '.role'));
  const corpus = [...new Set(ALL.flatMap((source) => namedKeys(source.name)))];

  it('the corpus of named keys is large enough to mean something', () => {
    expect(corpus.length).toBeGreaterThan(40);
  });

  it.each(ALL.map((source) => [source.name, source] as const))('%s: every key it claims is of a family it declares', (_, source) => {
    for (const key of corpus) {
      if (!source.claims(key)) continue;
      expect(source.families, key).toContain(key.slice(0, key.indexOf('.')));
    }
  });

  it('a source reading events says so', () => {
    for (const source of [...INPUT_SOURCES, ...OUTPUT_SOURCES]) {
      if (/\bevents?\b/.test(source.name)) expect((source as { events?: true }).events, source.name).toBe(true);
    }
  });

  it('a span with only a content event, or only AI SDK tool definitions, still gets its input', async () => {
    const { toSGPSpanItem } = await import('../src/mapping/span-to-item.js');
    const { BasicTracerProvider } = await import('@opentelemetry/sdk-trace-base');
    const tracer = new BasicTracerProvider().getTracer('t');
    const prompt = tracer.startSpan('chat');
    prompt.addEvent('gen_ai.content.prompt', { 'gen_ai.prompt': 'Hello there' });
    prompt.end();
    expect(JSON.stringify(toSGPSpanItem(prompt as never).input)).toContain('Hello there');
    const tools = tracer.startSpan('ai.generateText', { attributes: { 'ai.prompt.tools': ['{"type":"function","name":"weather"}'] } });
    tools.end();
    expect(toSGPSpanItem(tools as never).input).toMatchObject({ tools: [{ name: 'weather' }] });
  });
});
