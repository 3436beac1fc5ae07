import { generateText } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { withSGPSpan, SGPGroupIdProcessor } from '../src/index.js';
import type { SGPSpanItem } from '../src/index.js';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { credentials } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterEach(() => server.reset());
afterAll(async () => {
  context.disable();
  await server.close();
});

function setup(options: { groupIdProcessor?: boolean } = {}) {
  const processors: SpanProcessor[] = [new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false })];
  if (options.groupIdProcessor !== false) processors.unshift(new SGPGroupIdProcessor());
  const provider = new BasicTracerProvider({ spanProcessors: processors });
  return { provider, tracer: provider.getTracer('test') };
}

const byName = (name: string): SGPSpanItem => {
  const item = server.items.find((i) => i.name === name);
  if (!item) throw new Error(`no item named ${name}; got ${server.items.map((i) => i.name).join(', ')}`);
  return item;
};

class QuotaError extends Error {}

describe('withSGPSpan', () => {
  it('nests sync and async spans, with type, input, output and metadata as objects', async () => {
    const { provider, tracer } = setup();
    const answer = await withSGPSpan(
      'turn:1',
      { tracer, type: 'AGENT_WORKFLOW', input: { question: 'Weather in Oslo?' }, metadata: { user_id: 'u-7', tags: ['a', 'b'], nested: { x: 1 } } },
      async (turn) => {
        const city = withSGPSpan('parse', { tracer, type: 'DATA_MANIPULATION' }, (parse) => {
          parse.setOutput({ city: 'Oslo' });
          return 'Oslo';
        });
        const weather = await withSGPSpan('tool:weather', { tracer, type: 'CODE_EXECUTION', input: { city } }, async (tool) => {
          await new Promise((resolve) => setImmediate(resolve));
          const result = { temperature: 4 };
          tool.setOutput(result);
          return result;
        });
        turn.setOutput({ answer: `${weather.temperature} degrees` });
        turn.setMetadata({ steps: 2 });
        return weather.temperature;
      },
    );
    expect(answer).toBe(4);
    await provider.forceFlush();

    const turn = byName('turn:1');
    expect(turn).toMatchObject({
      type: 'AGENT_WORKFLOW',
      status: 'SUCCESS',
      input: { question: 'Weather in Oslo?' },
      output: { answer: '4 degrees' },
      metadata: { user_id: 'u-7', tags: ['a', 'b'], nested: '{"x":1}', steps: 2 },
    });
    expect(turn.parent_id).toBeUndefined();
    expect(byName('parse')).toMatchObject({ type: 'DATA_MANIPULATION', parent_id: turn.id, trace_id: turn.trace_id, output: { city: 'Oslo' } });
    expect(byName('tool:weather')).toMatchObject({
      type: 'CODE_EXECUTION',
      parent_id: turn.id,
      input: { city: 'Oslo' },
      output: { temperature: 4 },
    });
    await provider.shutdown();
  });

  it('a span started outside any span is a root; `root: true` starts a new trace inside one', async () => {
    const { provider, tracer } = setup();
    withSGPSpan('outer', { tracer }, () => withSGPSpan('separate', { tracer, root: true }, () => undefined));
    await provider.forceFlush();
    expect(byName('separate').parent_id).toBeUndefined();
    expect(byName('separate').trace_id).not.toBe(byName('outer').trace_id);
    await provider.shutdown();
  });

  it('an AI SDK call inside a manual span is its child', async () => {
    const { provider, tracer } = setup();
    const model = new MockLanguageModelV3({
      modelId: 'mock-gpt',
      doGenerate: async () => ({
        content: [{ type: 'text', text: 'Hello!' }],
        finishReason: { unified: 'stop', raw: 'stop' },
        usage: { inputTokens: { total: 3, noCache: 3, cacheRead: undefined, cacheWrite: undefined }, outputTokens: { total: 2, text: 2, reasoning: undefined } },
        warnings: [],
      }),
    });
    await withSGPSpan('turn:1', { tracer, type: 'AGENT_WORKFLOW', groupId: 'conversation-9' }, () =>
      generateText({ model, prompt: 'Hi', experimental_telemetry: { isEnabled: true, tracer } }),
    );
    await provider.forceFlush();
    const turn = byName('turn:1');
    const call = byName('ai.generateText');
    expect(call).toMatchObject({ type: 'COMPLETION', parent_id: turn.id, trace_id: turn.trace_id, group_id: 'conversation-9' });
    expect(byName('ai.generateText.doGenerate')).toMatchObject({ parent_id: call.id, group_id: 'conversation-9' });
    await provider.shutdown();
  });
});

describe('withSGPSpan errors', () => {
  it('a rejection marks the span ERROR with error_type and error_message, and is rethrown unchanged', async () => {
    const { provider, tracer } = setup();
    const error = new QuotaError('quota exceeded');
    const thrown = await withSGPSpan('llm:gpt-4o', { tracer, type: 'COMPLETION' }, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      throw error;
    }).catch((caught: unknown) => caught);
    expect(thrown).toBe(error);
    await provider.forceFlush();
    const item = byName('llm:gpt-4o');
    expect(item.status).toBe('ERROR');
    expect(item.end_timestamp).toBeDefined();
    expect(item.metadata).toMatchObject({ error: true, error_type: 'QuotaError', error_message: 'quota exceeded' });
    await provider.shutdown();
  });

  it('a sync throw does the same; the parent of a failed span is not marked', async () => {
    const { provider, tracer } = setup();
    const error = new TypeError('bad input');
    expect(() =>
      withSGPSpan('outer', { tracer }, () => {
        try {
          withSGPSpan('inner', { tracer }, () => {
            throw error;
          });
        } catch (caught) {
          expect(caught).toBe(error);
        }
      }),
    ).not.toThrow();
    await provider.forceFlush();
    expect(byName('inner')).toMatchObject({ status: 'ERROR', metadata: { error_type: 'TypeError', error_message: 'bad input' } });
    expect(byName('outer').status).toBe('SUCCESS');
    await provider.shutdown();
  });

  it('setError marks the span without throwing; a thrown string is recorded too', async () => {
    const { provider, tracer } = setup();
    const value = withSGPSpan('guard', { tracer, type: 'GUARDRAIL' }, (span) => {
      span.setError('blocked by policy');
      return 'fallback';
    });
    expect(value).toBe('fallback');
    expect(() =>
      withSGPSpan('legacy', { tracer }, () => {
        throw 'plain string'; // eslint-disable-line no-throw-literal
      }),
    ).toThrow('plain string');
    await provider.forceFlush();
    expect(byName('guard')).toMatchObject({ status: 'ERROR', metadata: { error: true, error_message: 'blocked by policy' } });
    expect(byName('legacy')).toMatchObject({ status: 'ERROR', metadata: { error_message: 'plain string' } });
    await provider.shutdown();
  });
});

describe('group id inheritance', () => {
  it('every span started under a root with a group id carries it, spans from plain tracers included', async () => {
    const { provider, tracer } = setup();
    await withSGPSpan('turn:1', { tracer, type: 'AGENT_WORKFLOW', groupId: 'conversation-42' }, async () => {
      await withSGPSpan('llm:gpt-4o', { tracer, type: 'COMPLETION' }, async () => {
        // What an instrumentation does: a plain OpenTelemetry span under the active one.
        tracer.startActiveSpan('http.request', (http) => {
          tracer.startSpan('dns.lookup').end();
          http.end();
        });
      });
      withSGPSpan('own-group', { tracer, groupId: 'other' }, () => tracer.startSpan('under-own-group').end());
    });
    withSGPSpan('turn:2', { tracer }, () => undefined);
    await provider.forceFlush();

    for (const name of ['turn:1', 'llm:gpt-4o', 'http.request', 'dns.lookup']) expect(byName(name).group_id, name).toBe('conversation-42');
    expect(byName('own-group').group_id).toBe('other');
    expect(byName('under-own-group').group_id).toBe('other');
    expect(byName('turn:2').group_id).toBeUndefined();
    // The group id is no metadata.
    expect(byName('dns.lookup').metadata['sgp.group_id']).toBeUndefined();
    await provider.shutdown();
  });

  it('a new trace (root: true) inside a conversation keeps its group; groupId: \'\' starts a subtree with none', async () => {
    const { provider, tracer } = setup();
    await withSGPSpan('conversation', { tracer, groupId: 'conversation-7' }, async () => {
      await withSGPSpan('next-turn', { tracer, root: true }, () => tracer.startSpan('next-turn/llm').end());
      await withSGPSpan('housekeeping', { tracer, groupId: '' }, () => tracer.startSpan('housekeeping/db').end());
    });
    await provider.forceFlush();
    expect(byName('next-turn').trace_id).not.toBe(byName('conversation').trace_id);
    expect(byName('next-turn').group_id).toBe('conversation-7');
    expect(byName('next-turn/llm').group_id).toBe('conversation-7');
    expect(byName('housekeeping').group_id).toBeUndefined();
    expect(byName('housekeeping/db').group_id).toBeUndefined();
    await provider.shutdown();
  });

  it('without SGPGroupIdProcessor, manual spans still inherit but plain spans do not', async () => {
    const { provider, tracer } = setup({ groupIdProcessor: false });
    withSGPSpan('turn:1', { tracer, groupId: 'conversation-42' }, () => {
      withSGPSpan('step', { tracer }, () => tracer.startSpan('plain').end());
    });
    await provider.forceFlush();
    expect(byName('step').group_id).toBe('conversation-42');
    expect(byName('plain').group_id).toBeUndefined();
    await provider.shutdown();
  });

  it('a root span started by hand with sgp.group_id passes it on too', async () => {
    const { provider, tracer } = setup();
    tracer.startActiveSpan('request', { attributes: { 'sgp.group_id': 'session-5' } }, (root) => {
      withSGPSpan('step', { tracer }, () => tracer.startSpan('plain').end());
      root.end();
    });
    await provider.forceFlush();
    expect(byName('step').group_id).toBe('session-5');
    expect(byName('plain').group_id).toBe('session-5');
    await provider.shutdown();
  });
});

describe('withSGPSpan when nothing records', () => {
  it('with sgp-otel disabled it runs the function, returns its value, rethrows, and sends nothing', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), disabled: true, flushOnExit: false });
    const provider = new BasicTracerProvider({ spanProcessors: [new SGPGroupIdProcessor(), processor] });
    const tracer = provider.getTracer('test');
    expect(await withSGPSpan('turn', { tracer, input: { q: 1 }, groupId: 'g' }, async (span) => {
      span.setOutput({ a: 1 });
      return 'done';
    })).toBe('done');
    const error = new Error('boom');
    expect(() => withSGPSpan('fails', { tracer }, () => { throw error; })).toThrow(error);
    await provider.forceFlush();
    expect(processor.getStats().enabled).toBe(false);
    expect(server.requests).toEqual([]);
    await provider.shutdown();
  });

  it('with no tracer provider registered, content is never serialized', async () => {
    expect(trace.getTracer('x').startSpan('probe').isRecording()).toBe(false);
    let serialized = 0;
    const input = { toJSON: () => ((serialized += 1), { q: 1 }) };
    const output = { toJSON: () => ((serialized += 1), { a: 1 }) };
    const result = await withSGPSpan('turn', { type: 'AGENT_WORKFLOW', input, metadata: { big: input }, groupId: 'g' }, async (span) => {
      span.setOutput(output);
      span.setInput(input);
      // The context still carries the span, so code inside sees one, as with any provider.
      expect(trace.getActiveSpan()).toBe(span.span);
      return 7;
    });
    expect(result).toBe(7);
    expect(serialized).toBe(0);
  });
});

describe('withSGPSpan, as a hostile review tried it', () => {
  it('whatever is thrown comes back unchanged, and the span still ends as ERROR', async () => {
    const { provider, tracer } = setup();
    const nullProto = Object.create(null) as object;
    const trickyMessage = new Error('x');
    Object.defineProperty(trickyMessage, 'message', {
      get() {
        throw new Error('getter');
      },
    });
    for (const [name, thrown] of [['null-proto', nullProto], ['tricky-message', trickyMessage], ['null', null]] as const) {
      let caught: unknown;
      try {
        withSGPSpan(name, { tracer }, () => {
          throw thrown;
        });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBe(thrown);
    }
    await provider.forceFlush();
    for (const name of ['null-proto', 'tricky-message', 'null']) expect(byName(name).status).toBe('ERROR');
    await provider.shutdown();
  });

  it('returns the very promise the function returned, and never calls a lazy thenable', async () => {
    const { provider, tracer } = setup();
    const promise = Object.assign(Promise.resolve(1), { cancel: () => 'cancelled' });
    expect(withSGPSpan('native', { tracer }, () => promise)).toBe(promise);
    let ran = 0;
    const lazy = { then: (resolve: (v: string) => void) => { ran += 1; resolve('rows'); } };
    expect(withSGPSpan('lazy', { tracer }, () => lazy)).toBe(lazy);
    expect(ran).toBe(0);
    await promise;
    await provider.forceFlush();
    expect(server.items.map((i) => i.name).sort()).toEqual(['lazy', 'native']);
    await provider.shutdown();
  });

  it('setError then a throw: the error set keeps its type and message as a pair', async () => {
    const { provider, tracer } = setup();
    expect(() =>
      withSGPSpan('paired', { tracer }, (span) => {
        span.setError(new TypeError('first'));
        throw new RangeError('second');
      }),
    ).toThrow('second');
    await provider.forceFlush();
    expect(byName('paired').metadata).toMatchObject({ error_type: 'TypeError', error_message: 'first' });
    await provider.shutdown();
  });

  it('a group id longer than SGP takes (256 bytes) is left out, and the tree is still delivered', async () => {
    const { provider, tracer } = setup();
    withSGPSpan('long-group', { tracer, groupId: 'g'.repeat(300) }, () => withSGPSpan('child', { tracer }, () => 1));
    await provider.forceFlush();
    expect(server.items.map((i) => i.name).sort()).toEqual(['child', 'long-group']);
    expect(server.items.every((item) => item.group_id === undefined)).toBe(true);
    await provider.shutdown();
  });
});
