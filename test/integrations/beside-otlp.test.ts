import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SGPSpanProcessor } from '../../src/pipeline/processor.js';
import { startSGPTestServer } from '../../src/testing/server.js';
import type { SGPTestServer } from '../../src/testing/server.js';
import { credentials, endSpans } from '../helpers.js';

let sgp: SGPTestServer;
let collector: http.Server;
const collected: string[] = [];
beforeAll(async () => {
  sgp = await startSGPTestServer();
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) for (const span of ss.spans) collected.push(span.spanId);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await sgp.close();
  collector.close();
});

describe('beside the stock OTLP pipeline', () => {
  it('both pipelines get every span, and neither breaks the other', async () => {
    const otlp = new BatchSpanProcessor(new OTLPTraceExporter({ url: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces` }));
    const ours = new SGPSpanProcessor({ ...credentials(sgp.url), flushOnExit: false });
    const provider = new BasicTracerProvider({ spanProcessors: [otlp, ours] });
    sgp.failNext(3, 503); // our outage must not touch the other pipeline
    const ids = endSpans(provider, 120);
    await provider.forceFlush().catch(() => undefined);
    await provider.forceFlush();
    expect(new Set(collected)).toEqual(new Set(ids));
    expect(new Set(sgp.items.map((i) => i.id))).toEqual(new Set(ids));
    await provider.shutdown();
  });
});
