// NodeSDK with SGPSpanProcessor and the HTTP instrumentation, tracing a real local server and client.
// Prints the SGP items the test server received, as JSON. Loaded before http, as users do.
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { SGPSpanProcessor } = require('sgp-otel');
const { startSGPTestServer } = require('sgp-otel/testing');

(async () => {
  const sgp = await startSGPTestServer();
  const sdk = new NodeSDK({
    serviceName: 'node-sdk-integration',
    spanProcessors: [new SGPSpanProcessor({ apiKey: 'k', accountId: 'a', baseUrl: sgp.url, env: {} })],
    instrumentations: [new HttpInstrumentation()],
  });
  sdk.start();
  const http = require('node:http');
  const app = http.createServer((req, res) => res.end('pong'));
  await new Promise((resolve) => app.listen(0, '127.0.0.1', resolve));
  await new Promise((resolve, reject) =>
    http.get(`http://127.0.0.1:${app.address().port}/ping`, (res) => res.resume().on('end', resolve)).on('error', reject),
  );
  app.close();
  await sdk.shutdown();
  console.log(JSON.stringify({ items: sgp.items, requests: sgp.requests.length }));
  await sgp.close();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
