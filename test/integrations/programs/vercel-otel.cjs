// @vercel/otel's registerOTel with SGPSpanProcessor in spanProcessors; prints what SGP received.
const { registerOTel } = require('@vercel/otel');
const { trace } = require('@opentelemetry/api');
const { SGPSpanProcessor } = require('sgp-otel');
const { startSGPTestServer } = require('sgp-otel/testing');

(async () => {
  const sgp = await startSGPTestServer();
  const processor = new SGPSpanProcessor({ apiKey: 'k', accountId: 'a', baseUrl: sgp.url, env: {} });
  registerOTel({ serviceName: 'vercel-otel-integration', spanProcessors: [processor] });
  const tracer = trace.getTracer('route');
  await tracer.startActiveSpan('POST /api/chat', async (root) => {
    tracer.startSpan('llm:gpt-4o', { attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' } }).end();
    root.end();
  });
  // What @vercel/otel does once per request through waitUntil: flush the processors.
  await processor.forceFlush();
  console.log(JSON.stringify({ items: sgp.items }));
  await sgp.close();
  process.exit(0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
