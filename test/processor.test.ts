import { context } from '@opentelemetry/api';
import { ExportResultCode, isTracingSuppressed } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { AlwaysOffSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SGPFlushError } from '../src/errors.js';
import { SGPSpanExporter } from '../src/delivery/exporter.js';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import type { SGPStats } from '../src/pipeline/processor.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { API_KEY, ACCOUNT_ID, captureDiag, credentials, endSpans, eventually, nextTurn, providerWith, virtualClock } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID });
});
afterEach(() => server.reset());
afterAll(() => server.close());

function expectBalanced(stats: SGPStats): void {
  expect(stats.received).toBe(stats.exported + stats.dropped.total + stats.queued);
}

describe('SGPSpanProcessor batching', () => {
  it('sends a full batch at once and a partial one when the schedule timer fires', async () => {
    const clock = virtualClock();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), clock, maxExportBatchSize: 5 });
    const provider = providerWith(processor);
    endSpans(provider, 12);
    await eventually(() => processor.getStats().exported === 10);
    expect(server.requests.map((r) => r.ids.length)).toEqual([5, 5]);
    expect(processor.getStats()).toMatchObject({ received: 12, exported: 10, queued: 2 });

    clock.advance(3999);
    await nextTurn();
    expect(server.requests).toHaveLength(2);
    clock.advance(1);
    await eventually(() => processor.getStats().exported === 12);
    expect(server.requests.map((r) => r.ids.length)).toEqual([5, 5, 2]);
    expectBalanced(processor.getStats());
    await provider.shutdown();
  });

  it('never exports concurrently and never exceeds the batch size', async () => {
    let active = 0;
    let maxActive = 0;
    const sizes: number[] = [];
    const exporter: SpanExporter = {
      export(spans, done) {
        active += 1;
        maxActive = Math.max(maxActive, active);
        sizes.push(spans.length);
        setTimeout(() => {
          active -= 1;
          done({ code: ExportResultCode.SUCCESS });
        }, 2);
      },
      shutdown: async () => undefined,
    };
    const processor = new SGPSpanProcessor({ exporter, maxExportBatchSize: 7, scheduledDelayMillis: 1, env: {} });
    const provider = providerWith(processor);
    for (let round = 0; round < 10; round += 1) {
      endSpans(provider, 13);
      await nextTurn();
    }
    await provider.forceFlush();
    expect(maxActive).toBe(1);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(130);
    expect(processor.getStats()).toMatchObject({ received: 130, exported: 130, queued: 0 });
    await provider.shutdown();
  });

  it('runs up to maxConcurrentExports exports at once with its own exporter, one connection each', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), maxConcurrentExports: 4 });
    const provider = providerWith(processor);
    // Answers wait until the test lets them go: four requests are open at once, and no fifth starts.
    server.setResponseDelay(600_000);
    endSpans(provider, 400);
    await eventually(() => server.requests.length === 4);
    for (let turn = 0; turn < 20; turn += 1) await nextTurn();
    expect(server.requests).toHaveLength(4);
    expect(processor.getStats()).toMatchObject({ inFlight: 200, queued: 400 });
    server.setResponseDelay(0);
    await provider.forceFlush();
    expect(server.counts.maxConcurrent).toBe(4);
    expect(new Set(server.requests.map((r) => r.remotePort)).size).toBeLessThanOrEqual(4);
    expect(processor.getStats()).toMatchObject({ exported: 400, queued: 0 });
    await provider.shutdown();
  });

  it('exports one batch at a time with exportOnStart, so start records never overtake final ones', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), maxConcurrentExports: 4, exportOnStart: true });
    const provider = providerWith(processor);
    server.setResponseDelay(20);
    endSpans(provider, 300);
    await provider.forceFlush();
    expect(server.counts.maxConcurrent).toBe(1);
    expect(processor.getStats().exported).toBe(300);
    await provider.shutdown();
  });

  it('ignores spans that are not sampled', async () => {
    const processor = new SGPSpanProcessor(credentials(server.url));
    const provider = new BasicTracerProvider({ spanProcessors: [processor], sampler: new AlwaysOffSampler() });
    endSpans(provider, 3);
    await provider.forceFlush();
    expect(processor.getStats().received).toBe(0);
    expect(server.requests).toHaveLength(0);
    await provider.shutdown();
  });

  it('runs custom exporters under suppressTracing', async () => {
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const suppressed: boolean[] = [];
    const exporter: SpanExporter = {
      export(_spans, done) {
        suppressed.push(isTracingSuppressed(context.active()));
        done({ code: ExportResultCode.SUCCESS });
      },
      shutdown: async () => undefined,
    };
    const processor = new SGPSpanProcessor({ exporter, env: {} });
    const provider = providerWith(processor);
    endSpans(provider, 2);
    await provider.forceFlush();
    expect(suppressed).toEqual([true]);
    context.disable();
    await provider.shutdown();
  });
});

describe('forceFlush', () => {
  it('waits for the export in flight, then delivers everything queued at the call', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), scheduledDelayMillis: 60_000 });
    const provider = providerWith(processor);
    server.setResponseDelay(150);
    endSpans(provider, 50);
    await nextTurn();
    expect(processor.getStats().inFlight).toBe(50);
    const late = endSpans(provider, 10, 'late');
    await provider.forceFlush();
    expect(server.items).toHaveLength(60);
    expect(server.items.map((i) => i.id)).toEqual(expect.arrayContaining(late));
    expect(processor.getStats()).toMatchObject({ received: 60, exported: 60, queued: 0, inFlight: 0 });
    await provider.shutdown();
  });

  it.each([0, 1, 4000, 600_000])(
    'delivers every span ended before it, with a schedule delay of %i ms',
    async (scheduledDelayMillis) => {
      const processor = new SGPSpanProcessor({ ...credentials(server.url), scheduledDelayMillis, maxQueueSize: 10_000 });
      const provider = new NodeTracerProvider({ spanProcessors: [processor] });
      const tracer = provider.getTracer('flush-test');
      const ended: string[] = [];
      for (let burst = 0; burst < 20; burst += 1) {
        const root = tracer.startSpan(`turn-${burst}`);
        const ctx = (await import('@opentelemetry/api')).trace.setSpan(context.active(), root);
        for (let i = 0; i < (burst * 7) % 23; i += 1) {
          const child = tracer.startSpan(`step-${i}`, {}, ctx);
          ended.push(child.spanContext().spanId);
          child.end();
        }
        ended.push(root.spanContext().spanId);
        root.end();
        if (burst % 3 === 0) await nextTurn();
      }
      await provider.forceFlush();
      const received = new Set(server.items.map((i) => i.id));
      expect(ended.filter((id) => !received.has(id))).toEqual([]);
      await provider.shutdown();
    },
  );

  it('rejects with the count and reason when spans it covered were dropped', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), apiKey: 'wrong-key' });
    const provider = providerWith(processor);
    const diag = captureDiag();
    endSpans(provider, 3);
    const error = await processor.forceFlush().catch((e: unknown) => e);
    diag.stop();
    expect(error).toBeInstanceOf(SGPFlushError);
    expect((error as SGPFlushError).undelivered).toBe(3);
    expect((error as Error).message).toBe(
      'sgp-otel forceFlush: 3 spans were not delivered (3 rejected by SGP: SGP answered HTTP 401: Invalid API key)',
    );
    expect(processor.getStats()).toMatchObject({
      received: 3,
      exported: 0,
      dropped: { total: 3, rejected: 3 },
      exportRequests: 1,
      retries: 0,
      lastError: { kind: 'http', status: 401, message: 'SGP answered HTTP 401: Invalid API key' },
    });
    expect(diag.at('warn')).toEqual([
      'sgp-otel: SGP refused the credentials (HTTP 401): check SGP_API_KEY (apiKey): the key is wrong or revoked. Spans are dropped until this is fixed.',
      'sgp-otel: dropped 3 spans (rejected by SGP): SGP answered HTTP 401: Invalid API key',
    ]);
    await provider.shutdown();
  });

  it('settles when the server never answers, saying what was not delivered', async () => {
    const clock = virtualClock();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), clock, exportTimeoutMillis: 300, maxExportBatchSize: 2 });
    const provider = providerWith(processor);
    // Answers are held far longer than the test runs: only the virtual deadlines end anything.
    server.setResponseDelay(600_000);
    endSpans(provider, 4);
    const flushed = processor.forceFlush().catch((e: unknown) => e);
    await eventually(() => server.requests.length === 2);
    clock.advance(300);
    const error = await flushed;
    expect(error).toBeInstanceOf(SGPFlushError);
    expect(error).toMatchObject({ undelivered: 4, timedOut: true });
    expect((error as Error).message).toMatch(/^sgp-otel forceFlush timed out after 300 ms/);
    const shutdown = provider.shutdown().catch(() => undefined);
    clock.advance(300);
    await shutdown;
    expectBalanced(processor.getStats());
  });

  it('times out at exportTimeoutMillis even when the exporter never calls back', async () => {
    const clock = virtualClock();
    const exporter: SpanExporter = { export() {}, shutdown: async () => undefined };
    const processor = new SGPSpanProcessor({ exporter, clock, exportTimeoutMillis: 300, env: {} });
    endSpans(providerWith(processor), 4);
    const flushed = processor.forceFlush().catch((e: unknown) => e);
    clock.advance(299);
    await nextTurn();
    clock.advance(1);
    const error = await flushed;
    expect(error).toMatchObject({ timedOut: true, undelivered: 4 });
    expect((error as Error).message).toBe(
      'sgp-otel forceFlush timed out after 300 ms: 4 spans were not delivered (4 still queued, in flight or waiting for SGP to come back)',
    );
    await eventually(() => processor.getStats().queued === 0);
    expect(processor.getStats().dropped).toMatchObject({ total: 4, exportFailed: 4 });
  });

  it('resolves at once when nothing is queued', async () => {
    const processor = new SGPSpanProcessor(credentials(server.url));
    await expect(processor.forceFlush()).resolves.toBeUndefined();
    expect(server.requests).toHaveLength(0);
    await processor.shutdown();
  });

  it("calls the exporter's forceFlush after the queue is delivered", async () => {
    const calls: string[] = [];
    const exporter: SpanExporter = {
      export(spans, done) {
        calls.push(`export ${spans.length}`);
        done({ code: ExportResultCode.SUCCESS });
      },
      forceFlush: async () => {
        calls.push('forceFlush');
      },
      shutdown: async () => undefined,
    };
    const processor = new SGPSpanProcessor({ exporter, env: {} });
    endSpans(providerWith(processor), 3);
    await processor.forceFlush();
    expect(calls).toEqual(['export 3', 'forceFlush']);
  });
});

describe('shutdown', () => {
  it('runs once: flushes, shuts the exporter down, and later calls share the promise', async () => {
    let exporterShutdowns = 0;
    const inner = new SGPSpanExporter(credentials(server.url));
    const exporter: SpanExporter = {
      export: (spans: ReadableSpan[], done: (r: ExportResult) => void) => inner.export(spans, done),
      shutdown: async () => {
        exporterShutdowns += 1;
        await inner.shutdown();
      },
    };
    const processor = new SGPSpanProcessor({ exporter, env: {} });
    const provider = providerWith(processor);
    endSpans(provider, 3);
    const first = processor.shutdown();
    const second = processor.shutdown();
    expect(second).toBe(first);
    await first;
    expect(server.items).toHaveLength(3);
    expect(exporterShutdowns).toBe(1);

    endSpans(provider, 5, 'after');
    await expect(processor.forceFlush()).resolves.toBeUndefined();
    await processor.shutdown();
    expect(exporterShutdowns).toBe(1);
    expect(processor.getStats().received).toBe(3);
    expect(server.items).toHaveLength(3);
  });

  it('gives up within exportTimeoutMillis, and counts every span it could not deliver under shutdown, in flight ones too', async () => {
    const clock = virtualClock();
    const processor = new SGPSpanProcessor({
      ...credentials(server.url),
      clock,
      exportTimeoutMillis: 300,
      timeoutMillis: 60_000,
      maxExportBatchSize: 5,
      maxConcurrentExports: 1,
    });
    const provider = providerWith(processor);
    server.setResponseDelay(600_000);
    endSpans(provider, 12);
    const shutdown = provider.shutdown().catch((e: unknown) => e);
    await eventually(() => server.requests.length === 1);
    expect(processor.getStats().inFlight).toBe(5);
    clock.advance(300);
    const error = await shutdown;
    expect(error).toBeInstanceOf(SGPFlushError);
    expect(error).toMatchObject({ timedOut: true, undelivered: 12 });
    const stats = processor.getStats();
    // The 5 whose request was cut short by the deadline are `shutdown` drops, as documented, not `exportFailed`.
    expect(stats).toMatchObject({ received: 12, exported: 0, queued: 0, dropped: { total: 12, shutdown: 12, exportFailed: 0 } });
  });

  it('holds the process open while it runs, and lets go once it settles', async () => {
    const clock = virtualClock();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), clock });
    const provider = providerWith(processor);
    endSpans(provider, 3);
    expect(clock.holds).toBe(0);
    const flushed = processor.forceFlush();
    expect(clock.holds).toBe(1);
    await flushed;
    expect(clock.holds).toBe(0);
    const shutdown = provider.shutdown();
    expect(clock.holds).toBeGreaterThan(0);
    await shutdown;
    expect(clock.holds).toBe(0);
  });
});

describe('many exports at once', () => {
  it('maxConcurrentExports above 10 prints no MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const processor = new SGPSpanProcessor({ ...credentials(server.url), maxConcurrentExports: 16, maxExportBatchSize: 10 });
      const provider = providerWith(processor);
      // Answers wait until all 16 requests are open at once.
      server.setResponseDelay(600_000);
      endSpans(provider, 160);
      await eventually(() => server.requests.length === 16);
      server.setResponseDelay(0);
      await processor.forceFlush();
      expect(server.counts.maxConcurrent).toBe(16);
      await provider.shutdown();
      await nextTurn();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toEqual([]);
  });
});

describe('processors a program never shuts down', () => {
  it('can be garbage-collected: the exit-flush registry holds them weakly', async () => {
    const gc = (globalThis as { gc?: () => void }).gc!;
    expect(typeof gc).toBe('function');
    let collected = 0;
    const finalized = new FinalizationRegistry(() => {
      collected += 1;
    });
    (() => {
      for (let i = 0; i < 50; i += 1) finalized.register(new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: true }), i);
    })();
    for (let round = 0; round < 50 && collected < 50; round += 1) {
      gc();
      await nextTurn();
    }
    expect(collected).toBe(50);
  });
});

describe('queue overflow', () => {
  it('drops spans beyond maxQueueSize, counts them and warns with the count, not once per span', async () => {
    const diag = captureDiag();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), maxQueueSize: 10, maxExportBatchSize: 10 });
    const provider = providerWith(processor);
    endSpans(provider, 250);
    expect(processor.getStats()).toMatchObject({ received: 250, dropped: { total: 240, queueFull: 240 } });
    await provider.shutdown();
    diag.stop();
    const warnings = diag.at('warn');
    expect(warnings.length).toBeLessThanOrEqual(2);
    const counted = warnings.map((w) => Number(/dropped (\d+) span/.exec(w)?.[1] ?? 0)).reduce((a, b) => a + b, 0);
    expect(counted).toBe(240);
    expect(warnings[0]).toContain('(queue full): maxQueueSize (10) spans are already queued, in flight or held');
    expect(server.items).toHaveLength(10);
  });
});

describe('without credentials', () => {
  it('is disabled with one warning naming the missing variables, and makes no request', async () => {
    const diag = captureDiag();
    const processor = new SGPSpanProcessor({ baseUrl: server.url, env: { SGP_API_KEY: '' } });
    const provider = providerWith(processor);
    endSpans(provider, 5);
    await provider.forceFlush();
    await provider.shutdown();
    // Said on the next turn of the event loop, once NodeSDK's start() could have installed a logger.
    expect(diag.at('warn')).toEqual([]);
    await nextTurn();
    diag.stop();
    expect(diag.at('warn')).toEqual([
      'sgp-otel: SGPSpanProcessor is disabled: SGP_API_KEY and SGP_ACCOUNT_ID are not set (pass apiKey/accountId or set the environment variable). No spans will be sent.',
    ]);
    expect(processor.getStats()).toMatchObject({ enabled: false, disabledReason: 'missing_credentials', received: 0 });
    expect(server.requests).toHaveLength(0);
  });

  it('is disabled with an info line when DISABLE_SCALE_TRACING is set', async () => {
    const diag = captureDiag();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), env: { DISABLE_SCALE_TRACING: 'true' } });
    endSpans(providerWith(processor), 2);
    await processor.forceFlush();
    await nextTurn();
    diag.stop();
    expect(diag.at('warn')).toEqual([]);
    expect(diag.at('info')).toEqual(['sgp-otel: SGPSpanProcessor is disabled because DISABLE_SCALE_TRACING is set. No spans will be sent.']);
    expect(server.requests).toHaveLength(0);
  });
});

describe('a bad span', () => {
  it('is dropped alone and counted; its 49 batch-mates are delivered', async () => {
    const processor = new SGPSpanProcessor(credentials(server.url));
    const provider = providerWith(processor);
    const tracer = provider.getTracer('bad-span');
    const real = tracer.startSpan('will-be-broken');
    real.end();
    // The same span seen through a wrapper whose attributes getter throws, as a buggy proxy would.
    const broken = new Proxy(real as unknown as ReadableSpan, {
      get: (target, key) => {
        if (key === 'attributes') throw new Error('attributes unavailable');
        const value = Reflect.get(target, key);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const good = endSpans(provider, 24, 'before');
    processor.onEnd(broken);
    good.push(...endSpans(provider, 25, 'after'));
    // The real span also ended through the provider: 1 + 24 + 25 good spans, plus the broken view.
    await processor.forceFlush().catch(() => undefined);
    expect(server.items.map((i) => i.id)).toEqual(expect.arrayContaining(good));
    expect(processor.getStats()).toMatchObject({ received: 51, exported: 50, dropped: { total: 1, unmappable: 1 } });
    expect(processor.getStats().lastError?.message).toContain('could not be mapped to an SGP item: attributes unavailable');
    await provider.shutdown();
  });
});

describe('stats', () => {
  it('balances received = exported + dropped + queued through retries and rejections', async () => {
    const clock = virtualClock();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), clock, maxExportBatchSize: 10 });
    const provider = providerWith(processor);
    server.failNext(1, 503);
    server.failNext(1, 401);
    endSpans(provider, 30);
    await processor.forceFlush().catch(() => undefined);
    const stats = processor.getStats();
    expect(stats).toMatchObject({ received: 30, exported: 20, queued: 0, dropped: { rejected: 10 }, exportRequests: 4, retries: 1 });
    expectBalanced(stats);
    expect(JSON.stringify(stats)).not.toContain(API_KEY);
    await provider.shutdown();
  });
});

describe('shutdown during an outage', () => {
  it('a shutdown that aborts the retries of an outage does not say SGP is reachable again', async () => {
    // Backoff waits that last until the clock reaches their end (or an abort), so shutdown can meet one.
    const base = virtualClock();
    const clock = {
      ...base,
      sleep: (ms: number, signal?: AbortSignal) =>
        new Promise<void>((resolve) => {
          const cancel = base.schedule(resolve, ms);
          signal?.addEventListener('abort', () => (cancel(), resolve()), { once: true });
        }),
    };
    const diag = captureDiag();
    server.failNext(1e6, 503);
    const processor = new SGPSpanProcessor({ ...credentials(server.url), clock, flushOnExit: false, maxAttempts: 2 });
    const drive = async (condition: () => boolean) => {
      for (let step = 0; step < 50 && !condition(); step += 1) {
        await eventually(() => base.pendingYields === 0);
        await nextTurn();
        if (condition() || base.nextDue() === undefined) break;
        base.advance(base.nextDue()! - base.now());
      }
    };
    try {
      endSpans(providerWith(processor), 3);
      void processor.forceFlush().catch(() => undefined);
      await drive(() => processor.getStats().outage);
      expect(processor.getStats().outage).toBe(true);
      // The outage's next round: its first attempt is refused, and its retry waits when shutdown comes.
      const before = server.requests.length;
      await drive(() => server.requests.length > before);
      let settled = false;
      void processor.shutdown().then(
        () => (settled = true),
        () => (settled = true),
      );
      await drive(() => settled);
      expect(settled).toBe(true);
      expect(diag.at('info').filter((line) => line.includes('reachable again'))).toEqual([]);
      expect(processor.getStats()).toMatchObject({ outage: true, exported: 0, dropped: { shutdown: 3 } });
    } finally {
      diag.stop();
    }
  });
});
