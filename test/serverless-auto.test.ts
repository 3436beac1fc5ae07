import { AsyncLocalStorage } from 'node:async_hooks';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveProcessorConfig } from '../src/config.js';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { detectServerless } from '../src/pipeline/serverless-runtime.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { ACCOUNT_ID, API_KEY, captureDiag, providerWith, quiet, virtualClock } from './helpers.js';
import type { VirtualClock } from './helpers.js';

// The freeze simulation: the virtual clock is never advanced, so no timer of ours ever fires, as in
// a function the platform freezes once it has answered. Real I/O still runs, until the platform
// would freeze it: after the handler returned, or after the waitUntil tasks settled.

let server: SGPTestServer;
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(async () => {
  server = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID });
  context.setGlobalContextManager(contextManager.enable());
});
afterEach(() => server.reset());
afterAll(async () => {
  context.disable();
  await server.close();
});

function processorOn(env: Record<string, string>, clock: VirtualClock, extra: object = {}) {
  return new SGPSpanProcessor({ apiKey: API_KEY, accountId: ACCOUNT_ID, baseUrl: server.url, env, clock, flushOnExit: false, ...extra });
}

/** A handler: a root span for the invocation, two children, and its answer. */
async function handle(tracer: ReturnType<ReturnType<typeof providerWith>['getTracer']>, name: string): Promise<string> {
  return tracer.startActiveSpan(name, async (root) => {
    tracer.startSpan(`${name}/llm`).end();
    await new Promise((resolve) => setImmediate(resolve));
    tracer.startSpan(`${name}/tool`).end();
    root.end();
    return 'answered';
  });
}

describe('exportOnRootEnd: auto', () => {
  it.each([
    [{ AWS_LAMBDA_FUNCTION_NAME: 'fn' }, 'aws-lambda'],
    [{ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x' }, 'aws-lambda'],
    [{ VERCEL: '1' }, 'vercel'],
    [{ NETLIFY: 'true' }, 'netlify'],
    [{ FUNCTION_TARGET: 'handler' }, 'google-cloud-functions'],
    [{ K_SERVICE: 'svc', FUNCTION_SIGNATURE_TYPE: 'http' }, 'google-cloud-functions'],
    [{ K_SERVICE: 'svc' }, undefined],
    [{}, undefined],
  ])('%j is %s', (env, platform) => {
    expect(detectServerless(env)).toBe(platform);
    expect(resolveProcessorConfig({ env }).exportOnRootEnd).toBe(platform !== undefined);
  });

  it('a Lambda-style handler: every span is delivered by the time the handler has answered and I/O settles, with no flush call', async () => {
    const clock = virtualClock();
    const provider = providerWith(processorOn({ AWS_LAMBDA_FUNCTION_NAME: 'fn' }, clock));
    const tracer = provider.getTracer('lambda');
    expect(await handle(tracer, 'invoke-1')).toBe('answered');
    await quiet(clock);
    expect(server.items.map((item) => item.name).sort()).toEqual(['invoke-1', 'invoke-1/llm', 'invoke-1/tool']);
    expect(clock.sleeps).toEqual([]);
  });

  it('the same handler on a long-running server (auto is off there): spans wait for the schedule', async () => {
    const clock = virtualClock();
    const provider = providerWith(processorOn({}, clock));
    await handle(provider.getTracer('server'), 'request-1');
    await quiet(clock);
    expect(server.items).toEqual([]);
    clock.advance(4000);
    await quiet(clock);
    expect(server.items).toHaveLength(3);
  });

  it('a long-running server keeps batching: 100 requests cost 2 exports, not 100', async () => {
    const clock = virtualClock();
    const provider = providerWith(processorOn({}, clock, { maxExportBatchSize: 150 }));
    const tracer = provider.getTracer('server');
    for (let i = 0; i < 100; i += 1) await handle(tracer, `request-${i}`);
    clock.advance(4000);
    await quiet(clock);
    expect(server.items).toHaveLength(300);
    expect(server.requests).toHaveLength(2);
  });

  it('a span outside any request (a background job in a function) is delivered when its root ends', async () => {
    const clock = virtualClock();
    const provider = providerWith(processorOn({ AWS_LAMBDA_FUNCTION_NAME: 'fn' }, clock));
    const tracer = provider.getTracer('job');
    context.with(trace.deleteSpan(context.active()), () => {
      const job = tracer.startSpan('workflow-step');
      tracer.startSpan('step-child', {}, trace.setSpan(context.active(), job)).end();
      job.end();
    });
    await quiet(clock);
    expect(server.items.map((item) => item.name).sort()).toEqual(['step-child', 'workflow-step']);
  });
});

describe('handing the delivery to the platform: waitUntil', () => {
  /** A simulated Vercel runtime: one request context per request, its waitUntil tasks awaited after the response. */
  function vercelRuntime() {
    const store = new AsyncLocalStorage<{ waitUntil: (task: () => Promise<unknown>) => void }>();
    const key = Symbol.for('@vercel/request-context');
    (globalThis as Record<symbol, unknown>)[key] = { get: () => store.getStore() };
    return {
      async serve<T>(handler: () => Promise<T>): Promise<{ answer: T; afterResponse: Promise<unknown> }> {
        const tasks: (() => Promise<unknown>)[] = [];
        const answer = await store.run({ waitUntil: (task) => tasks.push(task) }, handler);
        return { answer, afterResponse: Promise.all(tasks.map((task) => task())) };
      },
      remove: () => delete (globalThis as Record<symbol, unknown>)[key],
    };
  }

  it('on Vercel, a root span started in a request registers a waitUntil that settles once its spans are delivered', async () => {
    const runtime = vercelRuntime();
    try {
      const clock = virtualClock();
      // exportOnRootEnd off: the platform's waitUntil alone must be enough.
      const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false }));
      const tracer = provider.getTracer('vercel');
      const { answer, afterResponse } = await runtime.serve(() => handle(tracer, 'route'));
      expect(answer).toBe('answered');
      await afterResponse;
      // The platform would freeze now.
      expect(server.items.map((item) => item.name).sort()).toEqual(['route', 'route/llm', 'route/tool']);
      expect(clock.sleeps).toEqual([]);
    } finally {
      runtime.remove();
    }
  });

  it('the waitUntil option (Cloudflare-style ctx.waitUntil) gets one promise per root, settled once it is delivered', async () => {
    const clock = virtualClock();
    const pending: Promise<void>[] = [];
    const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false, waitUntil: (promise: Promise<void>) => pending.push(promise) }));
    await handle(provider.getTracer('worker'), 'fetch');
    expect(pending).toHaveLength(1);
    await Promise.all(pending);
    expect(server.items).toHaveLength(3);
  });

  it('the waitUntil promise never rejects into the platform, even when SGP refuses the spans', async () => {
    const clock = virtualClock();
    const pending: Promise<void>[] = [];
    const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false, waitUntil: (promise: Promise<void>) => pending.push(promise) }));
    server.failNext(1, 422);
    await handle(provider.getTracer('worker'), 'fetch');
    await expect(Promise.all(pending)).resolves.toBeDefined();
  });

  it("a request context whose waitUntil needs its own `this` (a class) still gets the task", async () => {
    class RequestContext {
      readonly tasks: (() => Promise<unknown>)[] = [];
      waitUntil(task: () => Promise<unknown>) {
        this.tasks.push(task);
      }
    }
    const requestContext = new RequestContext();
    const key = Symbol.for('@vercel/request-context');
    (globalThis as Record<symbol, unknown>)[key] = { get: () => requestContext };
    try {
      const clock = virtualClock();
      const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false }));
      await handle(provider.getTracer('vercel'), 'route');
      expect(requestContext.tasks).toHaveLength(1);
      await Promise.all(requestContext.tasks.map((task) => task()));
      expect(server.items).toHaveLength(3);
    } finally {
      delete (globalThis as Record<symbol, unknown>)[key];
    }
  });

  it('a child that ends after its root (a task the handler did not await) is delivered before the waitUntil settles', async () => {
    const runtime = vercelRuntime();
    try {
      const clock = virtualClock();
      const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false }));
      const tracer = provider.getTracer('vercel');
      let finishTask!: () => void;
      const taskDone = new Promise<void>((resolve) => (finishTask = resolve));
      const { afterResponse } = await runtime.serve(async () =>
        tracer.startActiveSpan('route', async (root) => {
          const task = tracer.startSpan('route/background');
          void taskDone.then(() => task.end());
          root.end();
          return 'answered';
        }),
      );
      let settled = false;
      void afterResponse.then(() => (settled = true));
      await quiet(clock);
      expect(settled).toBe(false);
      finishTask();
      await afterResponse;
      expect(server.items.map((item) => item.name).sort()).toEqual(['route', 'route/background']);
    } finally {
      runtime.remove();
    }
  });

  it('a child that never ends holds the waitUntil for at most half of exportTimeoutMillis; the root is delivered', async () => {
    const clock = virtualClock();
    const pending: Promise<void>[] = [];
    const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false, exportTimeoutMillis: 10_000, waitUntil: (promise: Promise<void>) => pending.push(promise) }));
    const tracer = provider.getTracer('worker');
    tracer.startActiveSpan('fetch', (root) => {
      tracer.startSpan('leaked');
      root.end();
    });
    let settled = false;
    void Promise.all(pending).then(() => (settled = true));
    clock.advance(4_999);
    await quiet(clock);
    expect(settled).toBe(false);
    clock.advance(1);
    await quiet(clock);
    await Promise.all(pending);
    expect(server.items.map((item) => item.name)).toEqual(['fetch']);
  });

  it('a root that never ends lets go of its waitUntil once it has been open longer than any invocation runs (15 min)', async () => {
    const clock = virtualClock();
    const pending: Promise<void>[] = [];
    const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false, waitUntil: (promise: Promise<void>) => pending.push(promise) }));
    const tracer = provider.getTracer('worker');
    tracer.startSpan('never-ends');
    let settled = false;
    void pending[0]!.then(() => (settled = true));
    clock.advance(15 * 60_000 - 1);
    tracer.startSpan('next-request').end();
    await quiet(clock);
    expect(settled).toBe(false);
    clock.advance(1);
    tracer.startSpan('another-request').end();
    await quiet(clock);
    expect(settled).toBe(true);
    await Promise.all(pending);
    expect(pending).toHaveLength(3);
  });

  it('a root that never ends is let go after 15 minutes even when no other request comes', async () => {
    const clock = virtualClock();
    const pending: Promise<void>[] = [];
    const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false, waitUntil: (promise: Promise<void>) => pending.push(promise) }));
    provider.getTracer('worker').startSpan('never-ends');
    let settled = false;
    void pending[0]!.then(() => (settled = true));
    clock.advance(15 * 60_000 - 1);
    await quiet(clock);
    expect(settled).toBe(false);
    clock.advance(2);
    await quiet(clock);
    expect(settled).toBe(true);
  });

  it('with maxQueueSize roots already waited for, a new root gets no waitUntil, and that is reported, not silent', async () => {
    const clock = virtualClock();
    const pending: Promise<void>[] = [];
    const diag = captureDiag();
    const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false, maxQueueSize: 5, waitUntil: (promise: Promise<void>) => pending.push(promise) }));
    const tracer = provider.getTracer('worker');
    for (let i = 0; i < 7; i += 1) tracer.startSpan(`leaked-${i}`);
    diag.stop();
    expect(pending).toHaveLength(5);
    expect(diag.at('warn')).toEqual([expect.stringMatching(/^sgp-otel: waitUntil not registered: maxQueueSize \(5\) root spans are open/)]);
  });

  it('a waitUntil written as an async function that rejects is reported like one that throws, never an unhandled rejection', async () => {
    const clock = virtualClock();
    const diag = captureDiag();
    const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false, waitUntil: async () => { throw new Error('no ctx'); } }));
    for (let i = 0; i < 10; i += 1) provider.getTracer('worker').startSpan(`request-${i}`).end();
    await quiet(clock);
    diag.stop();
    expect(diag.at('warn')).toEqual(['sgp-otel: waitUntil threw; the root is not waited for: no ctx']);
  });

  it('a waitUntil that throws is reported once per interval, not once per request', async () => {
    const clock = virtualClock();
    const diag = captureDiag();
    const provider = providerWith(processorOn({}, clock, { exportOnRootEnd: false, waitUntil: () => { throw new Error('no request context'); } }));
    for (let i = 0; i < 100; i += 1) provider.getTracer('worker').startSpan(`request-${i}`).end();
    diag.stop();
    expect(diag.at('warn')).toEqual(['sgp-otel: waitUntil threw; the root is not waited for: no request context']);
  });

  it('during an outage, each request\'s waitUntil does not make SGP be probed at the request rate', async () => {
    const clock = virtualClock();
    const pending: Promise<void>[] = [];
    const processor = processorOn({}, clock, { exportOnRootEnd: false, maxAttempts: 1, waitUntil: (promise: Promise<void>) => pending.push(promise) });
    const provider = providerWith(processor);
    server.failNext(1000, 503);
    await handle(provider.getTracer('worker'), 'first');
    await quiet(clock);
    expect(processor.getStats().outage).toBe(true);
    const before = server.requests.length;
    for (let i = 0; i < 20; i += 1) await handle(provider.getTracer('worker'), `request-${i}`);
    await quiet(clock);
    // Still inside the first outage pause: no request at all, whatever the request rate.
    expect(server.requests.length).toBe(before);
    server.reset();
    clock.advance(30_000);
    await quiet(clock);
    await Promise.all(pending);
    expect(processor.getStats()).toMatchObject({ outage: false, queued: 0 });
  });
});
