// A Cloudflare Workers-style (or any ctx.waitUntil) fetch handler: respond first, let the runtime
// keep the invocation alive until the flush settles.
//
// Cloudflare Workers with nodejs_compat provide the Node APIs sgp-otel needs (undici, timers).
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { SGPSpanProcessor } from 'sgp-otel';

const processor = new SGPSpanProcessor(); // SGP_API_KEY / SGP_ACCOUNT_ID from the environment
const provider = new BasicTracerProvider({ spanProcessors: [processor] });
const tracer = provider.getTracer('worker');

export default {
  async fetch(request, env, ctx) {
    const span = tracer.startSpan('fetch');
    const response = new Response('hello');
    span.end();
    ctx.waitUntil(processor.forceFlush().catch(() => undefined));
    return response;
  },
};
