// An OpenAI Agents SDK run under NodeSDK with the HTTP instrumentation: the tool calls a real local
// server. Prints the SGP items the test server received, as JSON. Loaded before http, as users do.
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { SGPSpanProcessor } = require('sgp-otel');
const { SGPAgentsTraceProcessor } = require('sgp-otel/openai-agents');
const { startSGPTestServer } = require('sgp-otel/testing');

(async () => {
  const sgp = await startSGPTestServer();
  const sdk = new NodeSDK({
    serviceName: 'agents-http-integration',
    spanProcessors: [new SGPSpanProcessor({ apiKey: 'k', accountId: 'a', baseUrl: sgp.url, env: {} })],
    instrumentations: [new HttpInstrumentation()],
  });
  sdk.start();
  const http = require('node:http');
  const { Agent, run, setTraceProcessors, setTracingDisabled, tool, Usage } = require('@openai/agents');
  const { z } = require('zod');
  setTracingDisabled(false); // the SDK does not trace when NODE_ENV is "test"
  setTraceProcessors([new SGPAgentsTraceProcessor()]);

  const orders = http.createServer((req, res) => res.end('{"status":"delivered"}'));
  await new Promise((resolve) => orders.listen(0, '127.0.0.1', resolve));
  const lookupOrder = tool({
    name: 'lookup_order',
    description: 'Looks an order up',
    parameters: z.object({ orderId: z.string() }),
    execute: ({ orderId }) =>
      new Promise((resolve, reject) => {
        http
          .get(`http://127.0.0.1:${orders.address().port}/orders/${orderId}`, (res) => {
            let body = '';
            res.on('data', (chunk) => (body += chunk)).on('end', () => resolve(JSON.parse(body)));
          })
          .on('error', reject);
      }),
  });
  const model = {
    async getResponse(request) {
      const looked = JSON.stringify(request.input).includes('function_call_result');
      const output = looked
        ? [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Delivered.' }] }]
        : [{ type: 'function_call', callId: 'call-1', name: 'lookup_order', arguments: '{"orderId":"A-1"}', status: 'completed' }];
      return { usage: new Usage(), output };
    },
    async *getStreamedResponse() {},
  };
  await run(new Agent({ name: 'Support', model, tools: [lookupOrder] }), 'Where is A-1?');
  orders.close();
  await sdk.shutdown();
  console.log(JSON.stringify({ items: sgp.items, requests: sgp.requests.length }));
  await sgp.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
