import { context, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { withSGPFlush } from '../src/pipeline/serverless.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { captureDiag, credentials, nextTurn, providerWith, virtualClock } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
});
afterEach(() => server.reset());
afterAll(() => server.close());

/**
 * A frozen runtime runs no timer after the handler returns. The processor here runs on a virtual
 * clock that is never advanced, so its schedule timer never fires: whatever is on the server when
 * the wrapped handler resolves got there through the flush alone.
 */
function frozenProvider() {
  const processor = new SGPSpanProcessor({ ...credentials(server.url), clock: virtualClock(), flushOnExit: false });
  return { processor, provider: providerWith(processor) };
}

describe('withSGPFlush', () => {
  it('delivers every span of the invocation before it returns (freeze simulation)', async () => {
    const { provider } = frozenProvider();
    const tracer = provider.getTracer('lambda');
    const ids: string[] = [];
    const handler = withSGPFlush(
      async (event: { n: number }) =>
        tracer.startActiveSpan('handler', async (root) => {
          for (let i = 0; i < event.n; i += 1) {
            const child = tracer.startSpan(`step-${i}`, {}, trace.setSpan(context.active(), root));
            ids.push(child.spanContext().spanId);
            child.end();
          }
          ids.push(root.spanContext().spanId);
          root.end();
          return { statusCode: 200 };
        }),
      { provider },
    );
    const result = await handler({ n: 7 });
    expect(result).toEqual({ statusCode: 200 });
    // Nothing runs after this point in a frozen runtime: the spans must already be there.
    expect(server.items.map((i) => i.id).sort()).toEqual(ids.sort());
  });

  it("passes the handler's error through unchanged, after flushing", async () => {
    const { provider } = frozenProvider();
    const failure = new Error('handler failed');
    const handler = withSGPFlush(async () => {
      provider.getTracer('t').startSpan('before-failure').end();
      throw failure;
    }, { provider });
    await expect(handler()).rejects.toBe(failure);
    expect(server.items.map((i) => i.name)).toEqual(['before-failure']);
  });

  it('never turns a success into a failure when SGP refuses the spans', async () => {
    const diag = captureDiag();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), clock: virtualClock(), flushOnExit: false });
    const provider = providerWith(processor);
    server.failNext(1, 401);
    const handler = withSGPFlush(async () => {
      provider.getTracer('t').startSpan('refused').end();
      return 'ok';
    }, { provider });
    await expect(handler()).resolves.toBe('ok');
    diag.stop();
    expect(diag.at('warn').some((w) => w.includes('flush after the handler failed'))).toBe(true);
  });

  it('bounds the flush by timeoutMillis', async () => {
    const diag = captureDiag();
    const slow = { forceFlush: () => new Promise<void>(() => {}) };
    const clock = virtualClock();
    const handler = withSGPFlush(async () => 42, { provider: slow, timeoutMillis: 50, clock });
    const invocation = handler();
    await nextTurn();
    expect(clock.nextDue()).toBe(clock.now() + 50);
    clock.advance(50);
    await expect(invocation).resolves.toBe(42);
    diag.stop();
    expect(diag.at('warn')).toContain('sgp-otel: flush did not finish within 50 ms; some spans may be lost when the runtime freezes');
  });

  it('rejects a provider without forceFlush at wrap time', () => {
    expect(() => withSGPFlush(async () => 1, { provider: {} as never })).toThrow('options.provider must have a forceFlush() method');
  });
});
