// The receiving end for the benchmark, in its own process so that parsing requests does not run
// on the event loop being measured: the SGP-compatible test server and an OTLP/HTTP JSON sink.
import http from 'node:http';
import { startSGPTestServer } from 'sgp-otel/testing';

const sgp = await startSGPTestServer({ retain: false, maxBodyBytes: 256 * 1024 * 1024 });
let otlp = { requests: 0, spans: 0, connections: 0 };
let delay = 0;

const otlpServer = http.createServer((req, res) => {
  otlp.requests += 1;
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    try {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const resourceSpans of body.resourceSpans ?? []) {
        for (const scopeSpans of resourceSpans.scopeSpans ?? []) otlp.spans += scopeSpans.spans?.length ?? 0;
      }
    } catch {
      // Counted as a request; a benchmark sink does not judge.
    }
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
});
otlpServer.on('connection', () => {
  otlp.connections += 1;
});
await new Promise((resolve) => otlpServer.listen(0, '127.0.0.1', resolve));

// Never outlive the benchmark.
process.on('disconnect', () => process.exit(0));
process.on('message', (message) => {
  switch (message.cmd) {
    case 'delay':
      delay = message.ms;
      sgp.setResponseDelay(message.ms);
      break;
    case 'reset':
      sgp.reset();
      sgp.setResponseDelay(delay);
      otlp = { requests: 0, spans: 0, connections: 0 };
      break;
    case 'counts':
      process.send({ id: message.id, sgp: sgp.counts, otlp });
      return;
    case 'exit':
      otlpServer.close();
      void sgp.close().then(() => process.exit(0));
      return;
  }
  process.send({ id: message.id, ok: true });
});
process.send({ ready: true, sgpUrl: sgp.url, otlpUrl: `http://127.0.0.1:${otlpServer.address().port}/v1/traces` });
