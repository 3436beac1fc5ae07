import { Agent, run, Runner, setTraceProcessors, setTracingDisabled, tool, Usage, withCustomSpan, withFunctionSpan, withGenerationSpan, withTrace } from '@openai/agents';
import type { Model, ModelRequest, ModelResponse, StreamEvent, TracingProcessor } from '@openai/agents';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AGENTS_SPAN_TYPES, SGPAgentsTraceProcessor } from '../../src/integrations/openai-agents/index.js';
import { agentsSpanFields } from '../../src/integrations/openai-agents/span-data.js';
import { withSGPSpan, SGPGroupIdProcessor } from '../../src/index.js';
import type { SGPSpanItem } from '../../src/index.js';
import { SGPSpanProcessor } from '../../src/pipeline/processor.js';
import { startSGPTestServer } from '../../src/testing/server.js';
import type { SGPTestServer } from '../../src/testing/server.js';
import { credentials, driveUntil, quiet, virtualClock } from '../helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  // The Agents SDK turns tracing off when NODE_ENV is "test", as under vitest.
  setTracingDisabled(false);
});
afterEach(() => {
  server.reset();
  setTraceProcessors([]);
});
afterAll(async () => {
  setTracingDisabled(true);
  context.disable();
  await server.close();
});

/**
 * A model with no network: the triage agent looks the order up, then hands off to the refunds
 * agent, which answers. It records a generation span with its messages, as the SDK's own chat
 * completions model does.
 */
class ScriptedModel implements Model {
  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    return withGenerationSpan(
      async (span) => {
        const output = this.reply(request);
        span.spanData.input = [{ role: 'system', content: request.systemInstructions }, ...(Array.isArray(request.input) ? request.input : [{ role: 'user', content: request.input }])];
        span.spanData.output = output;
        span.spanData.usage = { input_tokens: 20, output_tokens: 5 };
        return { usage: new Usage({ requests: 1, inputTokens: 20, outputTokens: 5, totalTokens: 25 }), output: output as ModelResponse['output'] };
      },
      { data: { model: 'scripted-gpt' } },
    );
  }

  // eslint-disable-next-line require-yield
  async *getStreamedResponse(_request: ModelRequest): AsyncIterable<StreamEvent> {
    throw new Error('not used');
  }

  protected reply(request: ModelRequest): Record<string, unknown>[] {
    const seen = JSON.stringify(request.input);
    if (request.systemInstructions === 'refunds') {
      return [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Refund issued for A-1.' }] }];
    }
    if (!seen.includes('function_call_result')) {
      return [{ type: 'function_call', callId: 'call-1', name: 'lookup_order', arguments: '{"order_id":"A-1"}', status: 'completed' }];
    }
    return [{ type: 'function_call', callId: 'call-2', name: request.handoffs[0].toolName, arguments: '{}', status: 'completed' }];
  }
}

function agents() {
  const lookupOrder = tool({
    name: 'lookup_order',
    description: 'Looks an order up',
    parameters: z.object({ order_id: z.string() }),
    execute: async ({ order_id }) => ({ order_id, status: 'delivered', total: 42 }),
  });
  const model = new ScriptedModel();
  const refunds = new Agent({ name: 'Refunds', instructions: 'refunds', model });
  const triage = new Agent({ name: 'Triage', instructions: 'triage', model, tools: [lookupOrder], handoffs: [refunds] });
  return triage;
}

function setup(clock = undefined as ReturnType<typeof virtualClock> | undefined) {
  const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false, ...(clock ? { clock } : {}) });
  const provider = new BasicTracerProvider({ spanProcessors: [new SGPGroupIdProcessor(), processor] });
  const agentsProcessor = new SGPAgentsTraceProcessor({ tracerProvider: provider });
  setTraceProcessors([agentsProcessor]);
  return { provider, processor, agentsProcessor };
}

const named = (items: SGPSpanItem[], name: string) => items.filter((item) => item.name === name);
const one = (items: SGPSpanItem[], name: string) => {
  const found = named(items, name);
  if (found.length !== 1) throw new Error(`expected one ${name}, got ${found.length} among ${items.map((i) => i.name).join(', ')}`);
  return found[0];
};

/** The run, as one SGP tree: the checks shared by the plain run and the run through an outage. */
function expectRunTree(items: SGPSpanItem[], groupId: string) {
  const root = items.find((item) => item.parent_id === undefined)!;
  expect(root).toMatchObject({ name: 'Agent workflow', type: 'AGENT_WORKFLOW', group_id: groupId, status: 'SUCCESS' });
  for (const item of items) {
    expect(item.trace_id).toBe(root.trace_id);
    expect(item.group_id).toBe(groupId);
    expect(item.end_timestamp! >= item.start_timestamp).toBe(true);
    if (item !== root) expect(items.some((parent) => parent.id === item.parent_id), `${item.name} has its parent in the tree`).toBe(true);
  }

  // The run (the SDK's task span) under the trace's root, named apart from it: the workflow name
  // appears once; the agents are named after themselves.
  const task = one(items, 'Task');
  expect(task).toMatchObject({ parent_id: root.id, type: 'CUSTOM', metadata: { 'openai_agents.span_type': 'task', 'openai_agents.name': 'Agent workflow' } });
  expect(one(items, 'Agent workflow')).toBe(root);

  const triage = one(items, 'Triage');
  const refunds = one(items, 'Refunds');
  expect(triage.parent_id).toBe(task.id);
  expect(triage).toMatchObject({ type: 'AGENT_WORKFLOW', metadata: { 'openai_agents.handoffs': ['Refunds'], 'openai_agents.tools': ['lookup_order'] } });
  expect(refunds.type).toBe('AGENT_WORKFLOW');

  const toolCall = one(items, 'lookup_order');
  expect(toolCall).toMatchObject({
    type: 'CODE_EXECUTION',
    input: { order_id: 'A-1' },
    output: { order_id: 'A-1', status: 'delivered', total: 42 },
    metadata: { 'openai_agents.span_type': 'function' },
  });
  expect(ancestors(items, toolCall)).toContain(triage.id);

  const turns = named(items, 'Turn');
  expect(turns).toHaveLength(3);
  // A turn's usage sums its model calls: counted once, on the calls.
  for (const turn of turns) expect(turn).toMatchObject({ type: 'CUSTOM', metadata: { 'openai_agents.span_type': 'turn' } });
  for (const turn of turns) expect(turn.metadata.llm).toBeUndefined();

  const handoff = one(items, 'Handoff');
  expect(handoff).toMatchObject({ type: 'CUSTOM', metadata: { 'openai_agents.from_agent': 'Triage', 'openai_agents.to_agent': 'Refunds' } });

  const generations = named(items, 'Generation');
  expect(generations).toHaveLength(3);
  for (const generation of generations) {
    expect(generation.type).toBe('COMPLETION');
    expect(generation.metadata.llm).toMatchObject({ model: 'scripted-gpt', input_tokens: 20, output_tokens: 5 });
  }
  const answer = generations.find((g) => JSON.stringify(g.output).includes('Refund issued'))!;
  expect(ancestors(items, answer)).toContain(refunds.id);
  expect(answer.input.input).toEqual(expect.arrayContaining([{ role: 'system', content: 'refunds' }]));
  expect(answer.output).toEqual({
    output: [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Refund issued for A-1.' }] }],
  });
  const first = generations.find((g) => JSON.stringify(g.output).includes('lookup_order'))!;
  expect(first.input.input).toEqual(expect.arrayContaining([expect.objectContaining({ role: 'user', content: 'Refund order A-1' })]));
}

function ancestors(items: SGPSpanItem[], item: SGPSpanItem): string[] {
  const out: string[] = [];
  for (let parent = item.parent_id; parent; parent = items.find((i) => i.id === parent)?.parent_id) out.push(parent);
  return out;
}

describe('OpenAI Agents SDK integration', () => {
  it('is a TracingProcessor the SDK accepts', () => {
    const processor: TracingProcessor = new SGPAgentsTraceProcessor();
    expect(typeof processor.onSpanEnd).toBe('function');
  });

  it('a run that calls a tool and hands off arrives as one SGP tree with the types, tool arguments and result, and messages', async () => {
    const { provider } = setup();
    const result = await new Runner({ groupId: 'conversation-7' }).run(agents(), 'Refund order A-1');
    expect(result.finalOutput).toBe('Refund issued for A-1.');
    await provider.forceFlush();
    expectRunTree(server.items, 'conversation-7');
    await provider.shutdown();
  });

  it('a failed tool becomes an ERROR item with the error message', async () => {
    const { provider } = setup();
    const failing = tool({
      name: 'charge_card',
      description: 'Charges a card',
      parameters: z.object({ amount: z.number() }),
      execute: async () => {
        throw new Error('card declined');
      },
    });
    const model: Model = {
      async getResponse(request) {
        const done = JSON.stringify(request.input).includes('function_call_result');
        const output = done
          ? [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Sorry.' }] }]
          : [{ type: 'function_call', callId: 'c1', name: 'charge_card', arguments: '{"amount":5}', status: 'completed' }];
        return { usage: new Usage(), output: output as ModelResponse['output'] };
      },
      async *getStreamedResponse() {},
    };
    await run(new Agent({ name: 'Billing', model, tools: [failing] }), 'Charge me');
    await provider.forceFlush();
    const item = one(server.items, 'charge_card');
    expect(item).toMatchObject({ type: 'CODE_EXECUTION', status: 'ERROR', input: { amount: 5 }, metadata: { error: true, error_type: 'SpanError' } });
    expect(item.metadata.error_message).toEqual(expect.any(String));
    expect(JSON.stringify(item.metadata['openai_agents.error.data'])).toContain('card declined');
    expect(one(server.items, 'Billing').status).toBe('SUCCESS');
    await provider.shutdown();
  });

  it('a run inside a manual span is its child, and takes its group id', async () => {
    const { provider } = setup();
    const tracer = provider.getTracer('app');
    await withSGPSpan('request', { tracer, groupId: 'session-3' }, () => withTrace('Support', () => run(agents(), 'Refund order A-1')));
    await provider.forceFlush();
    const request = one(server.items, 'request');
    const workflow = one(server.items, 'Support');
    expect(workflow).toMatchObject({ parent_id: request.id, trace_id: request.trace_id, group_id: 'session-3', type: 'AGENT_WORKFLOW' });
    // The Runner's own workflow name (its default here) is not a second workflow in the tree.
    expect(named(server.items, 'Agent workflow')).toEqual([]);
    expect(one(server.items, 'Task').parent_id).toBe(workflow.id);
    expect(one(server.items, 'Triage').parent_id).toBe(one(server.items, 'Task').id);
    expect(one(server.items, 'lookup_order').group_id).toBe('session-3');
    await provider.shutdown();
  });

  it('during an SGP outage the run is held and delivered whole when SGP is back', async () => {
    const clock = virtualClock();
    const { provider, processor } = setup(clock);
    server.failNext(1000, 503);
    const result = await new Runner({ groupId: 'conversation-8' }).run(agents(), 'Refund order A-1');
    expect(result.finalOutput).toBe('Refund issued for A-1.');
    void provider.forceFlush().catch(() => undefined);
    await driveUntil(clock, () => processor.getStats().outage);
    expect(server.items).toEqual([]);
    const held = processor.getStats().queued;
    expect(held).toBeGreaterThanOrEqual(10);

    server.reset(); // SGP is back
    const flushed = provider.forceFlush();
    await driveUntil(clock, () => processor.getStats().queued === 0);
    await flushed;
    await quiet(clock);
    expect(server.items).toHaveLength(held);
    expectRunTree(server.items, 'conversation-8');
    expect(processor.getStats()).toMatchObject({ outage: false, dropped: { total: 0 } });
    await provider.shutdown();
  });
});

describe('OpenTelemetry spans started inside Agents spans', () => {
  /** A tool that does its work in spans of its own, as an instrumented client would. */
  function instrumentedAgent(tracer: ReturnType<BasicTracerProvider['getTracer']>, label: string) {
    const lookupOrder = tool({
      name: `lookup_${label}`,
      description: 'Looks an order up',
      parameters: z.object({ order_id: z.string() }),
      execute: async ({ order_id }) => {
        tracer.startSpan(`cache.get ${label}`).end();
        return tracer.startActiveSpan(`db.query ${label}`, async (query) => {
          await new Promise((resolve) => setImmediate(resolve));
          tracer.startSpan(`db.row ${label}`).end();
          query.end();
          return { order_id, status: 'delivered' };
        });
      },
    });
    const model: Model = {
      async getResponse(request) {
        return withGenerationSpan(async () => {
          tracer.startSpan(`POST /chat ${label}`).end();
          const done = JSON.stringify(request.input).includes('function_call_result');
          const output = done
            ? [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Delivered.' }] }]
            : [{ type: 'function_call', callId: 'c1', name: `lookup_${label}`, arguments: '{"order_id":"A-1"}', status: 'completed' }];
          return { usage: new Usage(), output: output as ModelResponse['output'] };
        });
      },
      async *getStreamedResponse() {},
    };
    return new Agent({ name: `Support ${label}`, model, tools: [lookupOrder] });
  }

  it("a span started in a tool's execute is a child of the tool's span, and one started by the model of its generation", async () => {
    const { provider } = setup();
    const tracer = provider.getTracer('app');
    await withSGPSpan('request', { tracer, groupId: 'session-9' }, async () => {
      await run(instrumentedAgent(tracer, 'a'), 'Where is A-1?');
      tracer.startSpan('after the run').end();
    });
    await provider.forceFlush();
    const items = server.items;
    const toolCall = one(items, 'lookup_a');
    const query = one(items, 'db.query a');
    expect(one(items, 'cache.get a')).toMatchObject({ parent_id: toolCall.id, trace_id: toolCall.trace_id, group_id: 'session-9' });
    expect(query).toMatchObject({ parent_id: toolCall.id, group_id: 'session-9' });
    expect(one(items, 'db.row a').parent_id).toBe(query.id);
    const generations = named(items, 'Generation');
    const calls = named(items, 'POST /chat a');
    expect(calls).toHaveLength(2);
    for (const call of calls) expect(generations.map((g) => g.id)).toContain(call.parent_id);
    // The context does not outlive the run.
    expect(one(items, 'after the run').parent_id).toBe(one(items, 'request').id);
    await provider.shutdown();
  });

  it('runs side by side each parent their spans to their own tool', async () => {
    const { provider } = setup();
    const tracer = provider.getTracer('app');
    await Promise.all(['a', 'b', 'c'].map((label) => run(instrumentedAgent(tracer, label), 'Where is A-1?')));
    await provider.forceFlush();
    for (const label of ['a', 'b', 'c']) {
      const toolCall = one(server.items, `lookup_${label}`);
      expect(one(server.items, `db.query ${label}`)).toMatchObject({ parent_id: toolCall.id, trace_id: toolCall.trace_id });
      expect(one(server.items, `cache.get ${label}`).parent_id).toBe(toolCall.id);
    }
    await provider.shutdown();
  });

  it('behind another trace processor that answers at once, spans inside a tool are still its children', async () => {
    const { provider, agentsProcessor } = setup();
    const other: TracingProcessor = {
      async onTraceStart() {},
      async onTraceEnd() {},
      async onSpanStart() {},
      async onSpanEnd() {},
      async shutdown() {},
      async forceFlush() {},
    };
    setTraceProcessors([other, agentsProcessor]);
    const tracer = provider.getTracer('app');
    await run(instrumentedAgent(tracer, 'a'), 'Where is A-1?');
    await provider.forceFlush();
    expect(one(server.items, 'db.query a').parent_id).toBe(one(server.items, 'lookup_a').id);
    await provider.shutdown();
  });
});

describe('Agents spans whose work is a generator', () => {
  /**
   * The scripted model, streamed: `withGenerationSpan` around the generator that streams the reply,
   * as one writes a custom model. The SDK ends that span as the generator is returned; the reply is
   * streamed (and the span's output set) after.
   */
  class StreamedScriptedModel extends ScriptedModel {
    readonly streamed: { done: number; output: unknown }[] = [];

    override async *getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
      const output = this.reply(request) as ModelResponse['output'];
      const streamed = this.streamed;
      yield* await withGenerationSpan(async (span) => {
        span.spanData.input = [{ role: 'system', content: request.systemInstructions }, ...(Array.isArray(request.input) ? request.input : [{ role: 'user', content: request.input }])];
        return (async function* (): AsyncGenerator<StreamEvent> {
          yield { type: 'response_started' };
          for (const delta of ['Work', 'ing', '...']) {
            await new Promise((resolve) => setTimeout(resolve, 5));
            yield { type: 'output_text_delta', delta };
          }
          span.spanData.output = output;
          span.spanData.usage = { input_tokens: 20, output_tokens: 5 };
          streamed.push({ done: Date.now(), output });
          yield { type: 'response_done', response: { id: 'resp', usage: { requests: 1, inputTokens: 20, outputTokens: 5, totalTokens: 25 }, output } } as StreamEvent;
        })();
      }, { data: { model: 'scripted-gpt' } });
    }
  }

  it('in a streamed run, a generation streamed by a generator ends when its stream does, with its output', async () => {
    const { provider } = setup();
    const model = new StreamedScriptedModel();
    const triage = agents();
    triage.model = model;
    for (const handoff of triage.handoffs) (handoff as Agent).model = model;
    const result = await new Runner({ groupId: 'conversation-9' }).run(triage, 'Refund order A-1', { stream: true });
    for await (const event of result) void event;
    await result.completed;
    expect(result.finalOutput).toBe('Refund issued for A-1.');
    await provider.forceFlush();

    const generations = named(server.items, 'Generation');
    expect(generations).toHaveLength(3);
    expect(model.streamed).toHaveLength(3);
    for (const { done, output } of model.streamed) {
      const generation = generations.find((g) => JSON.stringify(g.output) === JSON.stringify({ output }))!;
      expect(generation, 'the generation carries its output').toBeDefined();
      expect(Date.parse(generation.end_timestamp!)).toBeGreaterThanOrEqual(done);
      expect(generation.metadata.llm).toMatchObject({ model: 'scripted-gpt', input_tokens: 20, output_tokens: 5 });
    }
    expectRunTree(server.items, 'conversation-9');
    await provider.shutdown();
  });

  it('a function span around a generator ends when the generator is done, with what it set, and an error it throws', async () => {
    const { provider } = setup();
    let finished = 0;
    await withTrace('search', async () => {
      const results = await withFunctionSpan(
        async (span) =>
          (async function* () {
            for (const hit of ['doc-1', 'doc-2']) {
              await new Promise((resolve) => setTimeout(resolve, 5));
              yield hit;
            }
            span.spanData.output = JSON.stringify({ hits: 2 });
            finished = Date.now();
          })(),
        { data: { name: 'search_docs', input: '{"query":"refunds"}' } },
      );
      const hits: string[] = [];
      for await (const hit of results) hits.push(hit);
      expect(hits).toEqual(['doc-1', 'doc-2']);

      const failing = await withFunctionSpan(
        async () =>
          (async function* () {
            yield 1;
            throw new TypeError('index offline');
          })(),
        { data: { name: 'search_index' } },
      );
      await expect(async () => {
        for await (const value of failing) void value;
      }).rejects.toThrow('index offline');
    });
    await provider.forceFlush();
    const search = one(server.items, 'search_docs');
    expect(search).toMatchObject({ type: 'CODE_EXECUTION', input: { query: 'refunds' }, output: { hits: 2 }, status: 'SUCCESS' });
    expect(Date.parse(search.end_timestamp!)).toBeGreaterThanOrEqual(finished);
    expect(one(server.items, 'search_index')).toMatchObject({ status: 'ERROR', metadata: { error_type: 'TypeError', error_message: 'index offline' } });
    await provider.shutdown();
  });

  it('a generator nobody finishes iterating ends with its trace', async () => {
    const { provider } = setup();
    await withTrace('abandoned', async () => {
      const results = await withFunctionSpan(
        async () =>
          (async function* () {
            yield 'first';
            yield 'second';
          })(),
        { data: { name: 'search_docs' } },
      );
      await results.next();
    });
    await provider.forceFlush();
    const root = one(server.items, 'abandoned');
    const search = one(server.items, 'search_docs');
    expect(search.parent_id).toBe(root.id);
    expect(search.end_timestamp! <= root.end_timestamp!).toBe(true);
    await provider.shutdown();
  });
});

describe('Agents spans with captureContent: false', () => {
  it('custom span data and error data are content: none of it leaves, the ids and names do', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false, captureContent: false });
    const provider = new BasicTracerProvider({ spanProcessors: [processor] });
    setTraceProcessors([new SGPAgentsTraceProcessor({ tracerProvider: provider })]);
    await withTrace('private-run', () =>
      withCustomSpan(async (span) => {
        span.setError({ message: 'failed on CANARY-ERR-7731', data: { detail: 'CANARY-ERRDATA-5512' } });
      }, { data: { name: 'lookup', data: { customer: 'CANARY-CUSTOM-9043', balance: 77123.45 } } }),
    );
    await provider.shutdown();
    const wire = server.requests.map((request) => request.body).join('\n');
    expect(wire).toContain('lookup');
    expect(wire).toContain('openai_agents.span_id');
    for (const canary of ['CANARY-CUSTOM-9043', '77123.45', 'CANARY-ERRDATA-5512']) expect(wire).not.toContain(canary);
  });
});

describe('Agents span data as SGP fields', () => {
  it.each([
    ['generation', 'COMPLETION'],
    ['response', 'COMPLETION'],
    ['agent', 'AGENT_WORKFLOW'],
    ['function', 'CODE_EXECUTION'],
    ['handoff', 'CUSTOM'],
    ['custom', 'CUSTOM'],
    ['guardrail', 'STANDALONE'],
    ['transcription', 'STANDALONE'],
    ['speech', 'STANDALONE'],
    ['speech_group', 'STANDALONE'],
    ['mcp_tools', 'STANDALONE'],
    ['turn', 'CUSTOM'],
    ['something_new', 'CUSTOM'],
  ])('%s -> %s', (type, expected) => {
    expect(agentsSpanFields({ type }).type).toBe(expected);
  });

  it.each([
    ['a task is named by its kind; its workflow name is metadata', { type: 'task', name: 'Support' }, 'Task', { name: 'Support' }],
    ['an agent is named after the agent', { type: 'agent', name: 'Triage' }, 'Triage', { name: 'Triage' }],
    ['a function is named after the tool', { type: 'function', name: 'lookup_order' }, 'lookup_order', { name: 'lookup_order' }],
    ['a turn has no name of its own', { type: 'turn', turn: 1, agent_name: 'Triage' }, 'Turn', { turn: 1, agent_name: 'Triage' }],
  ])('%s', (_, data, name, metadata) => {
    expect(agentsSpanFields(data)).toMatchObject({ name, metadata });
  });

  it('the table holds exactly the types the Python SDK maps', () => {
    expect(Object.keys(AGENTS_SPAN_TYPES).sort()).toEqual(
      ['agent', 'custom', 'function', 'generation', 'guardrail', 'handoff', 'mcp_tools', 'response', 'speech', 'speech_group', 'transcription'],
    );
  });

  it.each([
    ['an object', { a: 1 }, { a: 1 }],
    ['JSON text of an object', '{"a":1}', { a: 1 }],
    ['JSON text of an array', '[1,2]', { input: '[1,2]' }],
    ['text', 'hello', { input: 'hello' }],
    ['text that looks like an object', '{not json', { input: '{not json' }],
    ['an array', [{ role: 'user' }], { input: [{ role: 'user' }] }],
    ['a number', 3, { input: 3 }],
  ])('input that is %s', (_, input, expected) => {
    expect(agentsSpanFields({ type: 'function', name: 'f', input }).input).toEqual(expected);
  });

  it('a response span takes its input and output from the request and response; the rest is metadata without private fields', () => {
    const fields = agentsSpanFields({
      type: 'response',
      response_id: 'resp_1',
      _input: 'Hi',
      _response: { model: 'gpt-4o', output: [{ type: 'message' }], usage: { input_tokens: 3, output_tokens: 1 } },
    });
    expect(fields).toEqual({
      name: 'Response',
      type: 'COMPLETION',
      input: { input: 'Hi' },
      output: { output: [{ type: 'message' }] },
      metadata: { response_id: 'resp_1' },
      llm: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 3, 'gen_ai.usage.output_tokens': 1 },
    });
  });
});
