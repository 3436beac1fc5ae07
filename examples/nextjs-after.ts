// Next.js (App Router) on Vercel: flush after the response is sent, without delaying it.
// `after()` (next/server, Next.js 15+) runs once the response is finished and keeps the function
// alive until the promise settles; on older versions use `waitUntil` from '@vercel/functions'.
//
// instrumentation.ts
//   import { registerOTel } from '@vercel/otel';
//   import { SGPSpanProcessor } from 'sgp-otel';
//   export const sgpProcessor = new SGPSpanProcessor();
//   export function register() {
//     registerOTel({ serviceName: 'my-app', spanProcessors: [sgpProcessor] });
//   }
//
// app/api/chat/route.ts
import { after } from 'next/server';
import { sgpProcessor } from '../../../instrumentation';

export async function POST(request: Request): Promise<Response> {
  const answer = await runAgent(await request.json());
  // forceFlush never rejects into your handler here: after() swallows and logs errors, and
  // sgp-otel bounds the flush by exportTimeoutMillis.
  after(() => sgpProcessor.forceFlush().catch(() => undefined));
  return Response.json(answer);
}

declare function runAgent(input: unknown): Promise<unknown>;
