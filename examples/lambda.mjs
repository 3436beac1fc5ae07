// An AWS Lambda-style handler wrapped with withSGPFlush: the spans of each invocation are on the
// SGP server before the handler's promise resolves, so a runtime freeze loses nothing.
//
//   node examples/lambda.mjs    (no credentials: uses the local SGP-compatible server)
import { trace } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { SGPSpanProcessor, withSGPFlush } from 'sgp-otel';
import { startSGPTestServer } from 'sgp-otel/testing';

const local = process.env.SGP_API_KEY ? undefined : await startSGPTestServer();
const provider = new NodeTracerProvider({
  spanProcessors: [new SGPSpanProcessor(local ? { apiKey: 'local', accountId: 'local', baseUrl: local.url } : {})],
});
provider.register();
const tracer = trace.getTracer('lambda-example');

export const handler = withSGPFlush(
  async (event) =>
    tracer.startActiveSpan('handle-order', async (span) => {
      span.setAttribute('order.id', event.orderId);
      span.end();
      return { statusCode: 200, body: JSON.stringify({ ok: true }) };
    }),
  { provider, timeoutMillis: 5000 },
);

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await handler({ orderId: 'A-1' }));
  if (local) console.log(`spans on the server right after the handler returned: ${local.items.map((i) => i.name).join(', ')}`);
  await provider.shutdown();
  await local?.close();
}
