// The spans and the contenders the benchmark compares, shared by run.mjs, profile.mjs and the
// full-queue memory child. Each contender is made against the sinks' URLs and returns
// { processor, delivered(), close() }.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SGPSpanProcessor, toSGPSpanItem } from 'sgp-otel';
import { Agent, request } from 'undici';

export const HEADERS = { 'content-type': 'application/json', 'x-api-key': 'bench-key', 'x-selected-account-id': 'bench' };

/** A small span's attributes: a route, a tier and a model name. */
export const SMALL = { 'http.route': '/chat', 'app.user_tier': 'pro', 'gen_ai.request.model': 'gpt-4o' };

/** An LLM span carrying `bytes` of prompt text (GenAI semantic conventions, messages as JSON text). */
export function llmAttributes(bytes, salt = '') {
  const text = `${salt}${'lorem ipsum dolor sit amet '.repeat(Math.ceil(bytes / 27))}`.slice(0, bytes);
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 300,
    // A flat copy, so every span owns its text as a real instrumentation's would.
    'gen_ai.input.messages': Buffer.from(JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: text }] }])).toString(),
    'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'Sure.' }] }]),
  };
}

export function makeContenders(urls) {
  return {
    'sgp-otel': (options = {}) => {
      const processor = new SGPSpanProcessor({
        apiKey: 'bench-key',
        accountId: 'bench',
        baseUrl: urls.sgpUrl,
        env: {},
        flushOnExit: false,
        ...options,
      });
      return { processor, delivered: () => processor.getStats().exported, close: () => processor.shutdown().catch(() => {}) };
    },
    'stock OTel': (options = {}) => {
      let delivered = 0;
      const inner = new OTLPTraceExporter({ url: urls.otlpUrl });
      const exporter = {
        export(spans, done) {
          inner.export(spans, (result) => {
            if (result.code === 0) delivered += spans.length;
            done(result);
          });
        },
        shutdown: () => inner.shutdown(),
        forceFlush: () => inner.forceFlush(),
      };
      const processor = new BatchSpanProcessor(exporter, {
        maxQueueSize: options.maxQueueSize ?? 4000,
        maxExportBatchSize: 50,
        scheduledDelayMillis: 4000,
        exportTimeoutMillis: options.exportTimeoutMillis ?? 30000,
      });
      return { processor, delivered: () => delivered, close: () => processor.shutdown().catch(() => {}) };
    },
    floor: () => floorContender(urls),
    'naive per-span PUT': () => {
      const agent = new Agent({ keepAliveTimeout: 15_000 });
      let chain = Promise.resolve();
      let delivered = 0;
      const put = async (item) => {
        const response = await request(`${urls.sgpUrl}/v5/spans/batch`, {
          method: 'PUT',
          headers: HEADERS,
          body: JSON.stringify({ items: [item] }),
          dispatcher: agent,
        });
        await response.body.dump();
        if (response.statusCode === 200) delivered += 1;
      };
      const processor = {
        onStart() {},
        onEnd(span) {
          const item = toSGPSpanItem(span);
          chain = chain.then(() => put(item)).catch(() => {});
        },
        forceFlush: () => chain,
        shutdown: async () => {
          await chain;
          await agent.close();
        },
      };
      return { processor, delivered: () => delivered, close: () => processor.shutdown() };
    },
  };
}

/**
 * The floor: the least work that delivers the same items. Every 50 ended spans are mapped
 * (`toSGPSpanItem`), `JSON.stringify`'d and PUT with raw undici, up to 4 requests at once on 4
 * connections; no queue bound, no retries, no accounting, no privacy or size budget, no yielding.
 */
function floorContender(urls) {
  const agent = new Agent({ connections: 4, keepAliveTimeout: 15_000 });
  const ended = [];
  const inFlight = new Set();
  let delivered = 0;
  let flushing = false;
  const send = (spans) => {
    const body = JSON.stringify({ items: spans.map((span) => toSGPSpanItem(span)) });
    const sent = request(`${urls.sgpUrl}/v5/spans/batch`, { method: 'PUT', headers: HEADERS, body, dispatcher: agent })
      .then(async (response) => {
        await response.body.dump();
        if (response.statusCode === 200) delivered += spans.length;
      })
      .catch(() => {})
      .finally(() => {
        inFlight.delete(sent);
        pump();
      });
    inFlight.add(sent);
  };
  const pump = () => {
    while (inFlight.size < 4 && (ended.length >= 50 || (flushing && ended.length > 0))) send(ended.splice(0, 50));
  };
  const processor = {
    onStart() {},
    onEnd(span) {
      ended.push(span);
      if (ended.length >= 50) pump();
    },
    async forceFlush() {
      flushing = true;
      pump();
      while (inFlight.size > 0) await Promise.race(inFlight);
      flushing = false;
    },
    async shutdown() {
      await processor.forceFlush();
      await agent.close();
    },
  };
  return { processor, delivered: () => delivered, close: () => processor.shutdown() };
}
