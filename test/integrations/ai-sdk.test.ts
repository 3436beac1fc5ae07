import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { MockLanguageModelV3, simulateReadableStream } from 'ai/test';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SGPSpanProcessor } from '../../src/pipeline/processor.js';
import { startSGPTestServer } from '../../src/testing/server.js';
import type { SGPTestServer } from '../../src/testing/server.js';
import { credentials, eventually } from '../helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
  // The AI SDK parents its spans through the active context, as in any Node.js app with OpenTelemetry.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterEach(() => server.reset());
afterAll(async () => {
  context.disable();
  await server.close();
});

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
});

function setup() {
  const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  return { processor, provider, tracer: provider.getTracer('ai') };
}

describe('Vercel AI SDK (ai@6, mock model from ai/test)', () => {
  it('generateText with a tool call becomes COMPLETION and CODE_EXECUTION items with prompts, answers and tokens', async () => {
    const { provider, tracer } = setup();
    let call = 0;
    const model = new MockLanguageModelV3({
      modelId: 'mock-gpt',
      doGenerate: async () => {
        call += 1;
        return call === 1
          ? {
              content: [{ type: 'tool-call', toolCallId: 'call-1', toolName: 'weather', input: '{"city":"Oslo"}' }],
              finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
              usage: usage(40, 12),
              warnings: [],
            }
          : {
              content: [{ type: 'text', text: 'It is 4°C and cloudy in Oslo.' }],
              finishReason: { unified: 'stop', raw: 'stop' },
              usage: usage(60, 9),
              warnings: [],
            };
      },
    });
    const result = await generateText({
      model,
      system: 'You are a weather bot.',
      prompt: 'What is the weather in Oslo?',
      tools: {
        weather: tool({
          description: 'Current weather',
          inputSchema: jsonSchema<{ city: string }>({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
          execute: async ({ city }) => ({ city, temperature: 4, conditions: 'cloudy' }),
        }),
      },
      stopWhen: stepCountIs(3),
      experimental_telemetry: { isEnabled: true, functionId: 'weather-agent', tracer },
    });
    expect(result.text).toBe('It is 4°C and cloudy in Oslo.');
    await provider.forceFlush();

    const items = server.items;
    const root = items.find((i) => i.name === 'ai.generateText')!;
    const calls = items.filter((i) => i.name === 'ai.generateText.doGenerate');
    const toolCall = items.find((i) => i.name === 'ai.toolCall')!;
    expect(root).toMatchObject({
      type: 'COMPLETION',
      input: { system: 'You are a weather bot.', prompt: 'What is the weather in Oslo?' },
      output: { text: 'It is 4°C and cloudy in Oslo.' },
    });
    expect(root.metadata.llm).toMatchObject({ request_model: 'mock-gpt', input_tokens: 100, output_tokens: 21 });
    expect(calls).toHaveLength(2);
    for (const c of calls) expect(c).toMatchObject({ type: 'COMPLETION', parent_id: root.id });
    const first = calls.find((c) => Array.isArray(c.output.tool_calls))!;
    expect(first.output.tool_calls).toEqual([expect.objectContaining({ toolCallId: 'call-1', toolName: 'weather' })]);
    expect(first.input.messages).toEqual(
      expect.arrayContaining([expect.objectContaining({ role: 'system', content: 'You are a weather bot.' })]),
    );
    expect(toolCall).toMatchObject({
      type: 'CODE_EXECUTION',
      parent_id: root.id,
      input: { city: 'Oslo' },
      output: { city: 'Oslo', temperature: 4, conditions: 'cloudy' },
    });
    // The payloads are not copied into metadata.
    for (const item of items) expect(JSON.stringify(item.metadata)).not.toContain('What is the weather in Oslo?');
    await provider.shutdown();
  });

  it('streamText becomes a COMPLETION item with the streamed text', async () => {
    const { provider, tracer } = setup();
    const model = new MockLanguageModelV3({
      modelId: 'mock-stream',
      doStream: async () => ({
        stream: simulateReadableStream({
          chunks: [
            { type: 'stream-start', warnings: [] },
            { type: 'text-start', id: 't1' },
            { type: 'text-delta', id: 't1', delta: 'Hello, ' },
            { type: 'text-delta', id: 't1', delta: 'world!' },
            { type: 'text-end', id: 't1' },
            { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: usage(5, 3) },
          ],
        }),
      }),
    });
    const result = streamText({ model, prompt: 'Say hello', experimental_telemetry: { isEnabled: true, tracer } });
    expect(await result.text).toBe('Hello, world!');
    // The root span ends when the stream has been fully consumed, a moment after the text resolves.
    await eventually(() => {
      void provider.forceFlush();
      return server.items.some((i) => i.name === 'ai.streamText');
    });
    const root = server.items.find((i) => i.name === 'ai.streamText')!;
    const call = server.items.find((i) => i.name === 'ai.streamText.doStream')!;
    expect(root).toMatchObject({ type: 'COMPLETION', input: { prompt: 'Say hello' }, output: { text: 'Hello, world!' } });
    expect(call).toMatchObject({ type: 'COMPLETION', parent_id: root.id, output: { text: 'Hello, world!' } });
    expect(call.metadata.llm).toMatchObject({ request_model: 'mock-stream', input_tokens: 5, output_tokens: 3 });
    await provider.shutdown();
  });
});
