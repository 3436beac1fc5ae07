// A small simulated agent turn, traced through SGPSpanProcessor.
//
//   npm run demo                 no credentials: sends to a local SGP-compatible server and prints
//                                the trace it received
//   SGP_API_KEY=... SGP_ACCOUNT_ID=... npm run demo    sends to SGP
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SGPSpanProcessor } from 'sgp-otel';
import { formatTraceTree, startSGPTestServer } from 'sgp-otel/testing';

const hasCredentials = Boolean(process.env.SGP_API_KEY?.trim() && process.env.SGP_ACCOUNT_ID?.trim());
// Without credentials: the dev viewer if one is running (npx sgp-otel dev), else an embedded server.
const VIEWER = 'http://127.0.0.1:5003';
const viewer = hasCredentials ? undefined : await fetch(`${VIEWER}/api/traces`).then((r) => r.ok, () => false);
const local = hasCredentials || viewer ? undefined : await startSGPTestServer();
const baseUrl = viewer ? VIEWER : local?.url;
const processor = new SGPSpanProcessor(baseUrl ? { apiKey: 'demo-key', accountId: 'demo-account', baseUrl } : {});
const provider = new NodeTracerProvider({ spanProcessors: [processor] });
provider.register();
const tracer = trace.getTracer('sgp-otel-demo', '1.0.0');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function callModel(messages) {
  return tracer.startActiveSpan('llm:gpt-4o-mini', async (span) => {
    span.setAttributes({
      'sgp.span_type': 'COMPLETION',
      'sgp.input': JSON.stringify({ messages }),
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 42,
      'gen_ai.usage.output_tokens': 17,
    });
    await sleep(30);
    const answer = { role: 'assistant', tool_calls: [{ name: 'search', arguments: { query: 'weather in Paris' } }] };
    span.setAttribute('sgp.output', JSON.stringify({ message: answer }));
    span.end();
    return answer;
  });
}

async function runTool(name, args, fail = false) {
  return tracer.startActiveSpan(`tool:${name}`, async (span) => {
    span.setAttributes({ 'sgp.span_type': 'CODE_EXECUTION', 'sgp.input': JSON.stringify(args) });
    await sleep(15);
    try {
      if (fail) throw new Error(`${name} timed out after 10 s`);
      const result = { forecast: 'sunny, 21°C' };
      span.setAttribute('sgp.output', JSON.stringify(result));
      return result;
    } catch (error) {
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      return undefined;
    } finally {
      span.end();
    }
  });
}

const traceId = await tracer.startActiveSpan('turn:1', async (turn) => {
  turn.setAttributes({
    'sgp.span_type': 'AGENT_WORKFLOW',
    'sgp.group_id': 'demo-conversation',
    'sgp.input': JSON.stringify({ user: 'What is the weather in Paris?' }),
    __agent_name__: 'weather-helper',
  });
  const call = await callModel([{ role: 'user', content: 'What is the weather in Paris?' }]);
  await runTool('calendar', { day: 'today' }, true);
  const result = await runTool(call.tool_calls[0].name, call.tool_calls[0].arguments);
  turn.setAttribute('sgp.output', JSON.stringify({ answer: `It is ${result.forecast} in Paris.` }));
  turn.end();
  return turn.spanContext().traceId;
});

// What a serverless handler does before returning: deliver everything now.
try {
  await provider.forceFlush();
} catch (error) {
  console.error(`Some spans were not delivered: ${error.message}`);
}
const stats = processor.getStats();

if (viewer) {
  console.log(`No SGP credentials set: sent to the dev viewer. See the trace at ${VIEWER}/#trace=${traceId}`);
} else if (local) {
  console.log(`No SGP credentials set: sent to the local SGP-compatible server at ${local.url}.`);
  console.log('(Run `npx sgp-otel dev` in another terminal first to see traces in a browser.)\n');
  console.log(formatTraceTree(local.items));
  const llm = local.items.find((item) => item.type === 'COMPLETION');
  console.log(`\nOne item as SGP receives it (the LLM call):\n${JSON.stringify(llm, null, 2)}`);
} else {
  console.log('Sent to SGP.');
}
console.log(
  `\nStats: received ${stats.received}, exported ${stats.exported}, dropped ${stats.dropped.total}, ` +
    `requests ${stats.exportRequests}`,
);
await provider.shutdown();
await local?.close();
