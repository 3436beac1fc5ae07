import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { unflattenIndexed } from '../src/mapping/conventions.js';
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
