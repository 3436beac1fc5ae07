import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveExporterConfig, resolveProcessorConfig } from '../src/config.js';
import { SGPSpanExporter } from '../src/delivery/exporter.js';
import { splitBudget } from '../src/delivery/isolate.js';
import { SGPConfigError } from '../src/errors.js';
import { prepareItem } from '../src/mapping/prepare.js';
import { toSGPSpanItem } from '../src/mapping/span-to-item.js';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { captureDiag, credentials, endSpans, nextTurn, providerWith, quiet, virtualClock } from './helpers.js';

// Each test reproduces a promise that a hostile review of the packed package broke, and holds it.

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
});
afterEach(() => server.reset());
afterAll(() => server.close());

describe('shutdown() is bounded by exportTimeoutMillis, whatever the exporter or mask does', () => {
  it('a custom exporter whose shutdown() never settles', async () => {
    const clock = virtualClock();
    const exporter: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: () => new Promise(() => {}) };
    const processor = new SGPSpanProcessor({ exporter, clock, exportTimeoutMillis: 1000, env: {} });
    endSpans(providerWith(processor), 1);
    let settled = false;
    const shutdown = processor.shutdown().finally(() => {
      settled = true;
    });
    await quiet(clock);
    expect(settled).toBe(false);
    clock.advance(1000);
    await shutdown;
    expect(processor.getStats()).toMatchObject({ exported: 1 });
    expect(clock.holds).toBe(0);
  });

  it('a mask that returns a thenable that never settles: the field fails closed at its deadline, and the span is delivered', async () => {
    const clock = virtualClock();
    const processor = new SGPSpanProcessor({
      ...credentials(server.url),
      clock,
      exportTimeoutMillis: 1000,
      mask: () => ({ then() {} }) as unknown as Promise<string>,
    });
    providerWith(processor).getTracer('t').startSpan('masked', { attributes: { 'sgp.input': '{"q":"secret"}' } }).end();
    void processor.forceFlush().catch(() => undefined);
    await quiet(clock);
    // The mask gets half the export's time; the other half is left for sending.
    clock.advance(500);
    await quiet(clock);
    expect(server.items[0]?.input).toEqual({ value: '[mask failed]' });
  });

  it('a mask that never settles, on a span with many fields: one deadline for the item, not one per field', async () => {
    const clock = virtualClock();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), clock, exportTimeoutMillis: 1000, mask: () => new Promise(() => {}) });
    const attributes = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`attr.${i}`, `value ${i}`]));
    providerWith(processor).getTracer('t').startSpan('masked', { attributes }).end();
    void processor.forceFlush().catch(() => undefined);
    await quiet(clock);
    // One move past the mask's deadline (half the export's time) is enough for every field of the item.
    clock.advance(500);
    await quiet(clock);
    expect(server.items).toHaveLength(1);
    expect(server.items[0]!.input).toEqual({ value: '[mask failed]' });
    // Keys go through the mask too: each failed key and value arrives as a marker, kept apart.
    expect(server.items[0]!.metadata['[mask failed] (5)']).toBe('[mask failed]');
    expect(Object.keys(server.items[0]!.metadata)).not.toContain('attr.0');
  });
});

describe('a third review: masks', () => {
  it('a mask result that is not JSON (a Date, a bigint, a throwing toJSON) fails closed for that field; the span goes', async () => {
    const poisons: unknown[] = [new Date(0), 10n, { toJSON: () => { throw new Error('no'); } }, () => 'x'];
    for (const poison of poisons) {
      server.reset();
      const processor = new SGPSpanProcessor({
        ...credentials(server.url),
        flushOnExit: false,
        mask: (value, { field }) => (field === 'input' ? (poison as string) : value),
      });
      providerWith(processor).getTracer('t').startSpan('masked', { attributes: { 'sgp.input': 'secret', 'sgp.output': 'fine' } }).end();
      await processor.shutdown();
      expect(server.items).toHaveLength(1);
      expect(server.items[0]!.input).toEqual({ value: '[mask failed]' });
      expect(server.items[0]!.output).toEqual({ value: 'fine' });
      expect(processor.getStats()).toMatchObject({ exported: 1, dropped: { total: 0 } });
    }
  });

  it('an async mask that answers at once is taken even when the mask deadline has already passed (the export waited its turn)', async () => {
    const memory = new InMemorySpanExporter();
    providerWith(new SimpleSpanProcessor(memory)).getTracer('t').startSpan('late', { attributes: { 'sgp.input': 'quiet', 'sgp.output': 'calm' } }).end();
    const [span] = memory.getFinishedSpans();
    const prepared = await prepareItem(toSGPSpanItem(span!), span!, {
      captureContent: true,
      mask: async (value, { field }) => (field === 'input' ? { value: 'masked' } : value),
      maxFieldBytes: 1024,
      maskTimeoutMillis: 0,
      clock: virtualClock(),
    });
    expect([prepared.input, prepared.output]).toEqual([{ value: 'masked' }, { value: 'calm' }]);
  });
});

describe('a pending forceFlush() keeps the process alive until it settles, exporter flush included', () => {
  it('holds while the exporter forceFlush is still running, and lets go at the deadline', async () => {
    const clock = virtualClock();
    const exporter: SpanExporter = {
      export: (_spans, done) => done({ code: 0 }),
      shutdown: async () => undefined,
      forceFlush: () => new Promise(() => {}),
    };
    const processor = new SGPSpanProcessor({ exporter, clock, exportTimeoutMillis: 500, env: {} });
    endSpans(providerWith(processor), 2);
    const flushed = processor.forceFlush();
    await quiet(clock);
    expect(processor.getStats().exported).toBe(2);
    expect(clock.holds).toBe(1);
    clock.advance(500);
    await flushed;
    expect(clock.holds).toBe(0);
  });

  it('forceFlush() during a shutdown that fails rejects as well', async () => {
    const clock = virtualClock();
    const exporter: SpanExporter = { export: (_spans, done) => done({ code: 1, error: new Error('nope') }), shutdown: async () => undefined };
    const processor = new SGPSpanProcessor({ exporter, clock, env: {} });
    endSpans(providerWith(processor), 3);
    const shutdown = processor.shutdown().catch((e: unknown) => e);
    const flush = processor.forceFlush().catch((e: unknown) => e);
    expect(await flush).toBe(await shutdown);
    expect(await flush).toMatchObject({ undelivered: 3 });
  });
});

describe('secrets stay secret when a server echoes them', () => {
  it.each([
    ['a key with a quote and a backslash', 'sk-live-"S3CRET"\\x'],
    ['a very short key', 'k9x'],
  ])('%s', async (_label, apiKey) => {
    const diag = captureDiag();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), apiKey });
    server.failNext(1, 401, { body: JSON.stringify({ detail: `invalid api key ${apiKey}` }) });
    endSpans(providerWith(processor), 1);
    const error = await processor.forceFlush().catch((e: unknown) => e);
    await processor.shutdown();
    diag.stop();
    const shown = JSON.stringify({ error: `${error}`, stats: processor.getStats(), log: diag.messages });
    expect(shown).toContain('invalid api key [redacted]');
    expect(shown).not.toContain(apiKey);
    expect(shown).not.toContain(JSON.stringify(apiKey).slice(1, -1));
  });
});

describe('invalid options are an SGPConfigError at construction, not an endless fake outage', () => {
  it.each([
    [{ headers: { 'x-team': 'a\nb' } }, 'Invalid option headers: the value of "x-team" has a character that cannot be sent in a header'],
    [{ headers: { 'bad name': 'x' } }, 'Invalid option headers: "bad name" is not a valid header name'],
    [{ headers: { 'transfer-encoding': 'chunked' } }, 'Invalid option headers: "transfer-encoding" cannot be set'],
    [{ dispatcher: 'nope' }, 'Invalid option dispatcher: expected an undici Dispatcher (with dispatch()), got "nope"'],
  ])('%j', (options, message) => {
    expect(() => new SGPSpanProcessor({ ...credentials(server.url), ...(options as object) })).toThrow(SGPConfigError);
    expect(() => new SGPSpanProcessor({ ...credentials(server.url), ...(options as object) })).toThrow(message);
  });

  it('a maxQueueSize too large to allocate', () => {
    expect(() => resolveProcessorConfig({ env: {}, maxQueueSize: 2 ** 32 })).toThrow('Invalid option maxQueueSize: expected a whole number from 1 to 1000000');
    const fromEnv = resolveProcessorConfig({ env: { SGP_BSP_MAX_QUEUE_SIZE: '9007199254740991' } });
    expect(fromEnv.maxQueueSize).toBe(4000);
    expect(fromEnv.warnings[0]).toContain('SGP_BSP_MAX_QUEUE_SIZE');
  });

  it('a password with an @ in it is never shown, not even in part', () => {
    expect(() => resolveExporterConfig({ env: {}, apiKey: 'k', accountId: 'a', baseUrl: 'https://user:p@ss-w0rd@api.example.com' })).toThrow(
      'got "https://api.example.com"',
    );
  });
});

describe('splitting refused batches', () => {
  it('one budget for an export call, however many requests its records need', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), maxBatchBytes: 4096, maxExportBatchSize: 200, maxConcurrentExports: 1 });
    server.rejectItems((item) => item.name.endsWith('0'), 422, 'refused');
    endSpans(providerWith(processor), 200, 'span-with-a-longer-name-to-make-requests-fill-up');
    await processor.forceFlush().catch(() => undefined);
    const chunks = Math.ceil(200 / Math.floor(4096 / 700));
    expect(server.requests.length).toBeLessThanOrEqual(chunks + splitBudget(200));
    const stats = processor.getStats();
    expect(stats.exported + stats.dropped.rejected).toBe(200);
    expect(server.items.some((item) => item.name.endsWith('0'))).toBe(false);
    await processor.shutdown().catch(() => undefined);
  });
});

describe('each drop is reported with its own reason', () => {
  it('an unmappable span beside a rejected one: each drop says why it happened', async () => {
    const diag = captureDiag();
    const processor = new SGPSpanProcessor({ ...credentials(server.url), exporter: undefined });
    server.rejectItems((item) => item.name === 'refused', 422, 'refused by the server');
    const provider = providerWith(processor);
    const tracer = provider.getTracer('t');
    tracer.startSpan('refused').end();
    const broken = tracer.startSpan('broken');
    broken.end();
    (broken as unknown as { spanContext: () => never }).spanContext = () => {
      throw new Error('no context');
    };
    // The broken span was already queued; its context breaks when the exporter maps it.
    void (broken as unknown as ReadableSpan);
    await processor.forceFlush().catch(() => undefined);
    await nextTurn();
    diag.stop();
    const warnings = diag.at('warn');
    expect(warnings.find((w) => w.includes('(unmappable)'))).toContain('could not be mapped');
    expect(warnings.find((w) => w.includes('(rejected by SGP)'))).toContain('refused by the server');
    await processor.shutdown().catch(() => undefined);
  });
});

describe('captureContent=false can not be lost on the way', () => {
  it('a custom exporter with captureContent or mask (which only sgp-otel\'s own exporter reads) is an SGPConfigError', () => {
    const exporter: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
    expect(() => new SGPSpanProcessor({ exporter, captureContent: false, mask: () => '[x]', env: {} })).toThrow(
      'Invalid options captureContent, mask: they configure sgp-otel\'s own exporter and would be ignored with a custom exporter',
    );
    expect(() => new SGPSpanProcessor({ exporter, maxQueueSize: 10, env: {} })).not.toThrow();
  });

  it('SGP_CAPTURE_CONTENT beside a custom exporter that is not sgp-otel\'s is reported, not silently ignored', async () => {
    const exporter: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => undefined };
    const diag = captureDiag();
    const quietOne = new SGPSpanProcessor({ exporter, env: {} });
    const warned = new SGPSpanProcessor({ exporter, env: { SGP_CAPTURE_CONTENT: 'false' } });
    const own = new SGPSpanProcessor({ exporter: new SGPSpanExporter({ ...credentials('http://127.0.0.1:9'), env: { SGP_CAPTURE_CONTENT: 'false' } }), env: { SGP_CAPTURE_CONTENT: 'false' } });
    await nextTurn();
    await nextTurn();
    diag.stop();
    expect(diag.at('warn').filter((w) => w.includes('SGP_CAPTURE_CONTENT'))).toEqual([
      "sgp-otel: SGP_CAPTURE_CONTENT is set, but this processor exports through a custom exporter that is not sgp-otel's: the variable has no effect on what that exporter sends",
    ]);
    await Promise.all([quietOne.shutdown(), warned.shutdown(), own.shutdown()]);
  });

  it('a malformed SGP_CAPTURE_CONTENT turns capture off (fails closed), with a warning saying so', () => {
    const config = resolveExporterConfig({ env: { SGP_CAPTURE_CONTENT: 'off' } });
    expect(config.captureContent).toBe(false);
    expect(config.warnings).toEqual([
      'Invalid environment variable SGP_CAPTURE_CONTENT: expected true or false, got "off"; content capture is off (this switch fails closed)',
    ]);
    expect(resolveExporterConfig({ env: { SGP_CAPTURE_CONTENT: 'TRUE' } }).captureContent).toBe(true);
    expect(resolveExporterConfig({ env: {} }).captureContent).toBe(true);
  });
});

describe('a second review: environment variables never crash the host, and nothing is said twice or miscounted', () => {
  it('a proxy written without a scheme is read as curl reads it; a malformed one is reported (no password) and not used', () => {
    expect(resolveExporterConfig({ env: { https_proxy: 'proxy.corp:8080' } }).proxy).toMatchObject({ httpsProxy: 'http://proxy.corp:8080/' });
    const bad = resolveExporterConfig({ env: { HTTPS_PROXY: 'http://user:hunter2SECRET@proxy corp:8080' } });
    expect(bad.proxy).toBeUndefined();
    expect(bad.warnings).toEqual(['Invalid environment variable HTTPS_PROXY: expected a proxy URL such as http://proxy:8080, got "http://proxy corp:8080"; not using a proxy']);
    expect(() => new SGPSpanProcessor({ env: { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', HTTPS_PROXY: 'http://user:pw@proxy corp:8080' } })).not.toThrow();
  });

  it('an http:// base URL to another host from the environment disables sgp-otel with a warning; as an option it throws', () => {
    const env = { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: 'http://sgp-dev:5003' };
    const config = resolveExporterConfig({ env });
    expect(config.disabledReason).toBe('invalid_base_url');
    expect(config.warnings[0]).toContain('Invalid environment variable SGP_CLIENT_BASE_URL: Refusing to send the SGP API key over plain http to sgp-dev:5003');
    expect(() => new SGPSpanProcessor({ env })).not.toThrow();
    expect(() => resolveExporterConfig({ env: {}, apiKey: 'k', accountId: 'a', baseUrl: 'http://sgp-dev:5003' })).toThrow(SGPConfigError);
  });

  it.each([
    ['user:hunter2SECRET@api.example.com'],
    ['https://user:hunt/er2SECRET@host.example.com'],
  ])('a password in a URL that does not parse as given (%s) is never shown', (url) => {
    const config = resolveExporterConfig({ env: { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: url } });
    expect(config.disabledReason).toBe('invalid_base_url');
    expect(config.warnings.join()).not.toMatch(/hunt|SECRET/);
  });

  it('the same start-up warning from an exporter and the processor built around it is said once', async () => {
    const diag = captureDiag();
    const env = { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: server.url, SGP_BSP_EXPORT_TIMEOUT: 'abc' };
    const processor = new SGPSpanProcessor({ exporter: new SGPSpanExporter({ env }), env });
    await nextTurn();
    await nextTurn();
    diag.stop();
    expect(diag.at('warn').filter((w) => w.includes('SGP_BSP_EXPORT_TIMEOUT'))).toHaveLength(1);
    await processor.shutdown();
  });

  it("a shutdown error's counts add up when many batches fail for the same reason", async () => {
    server.failNext(40, 401, { body: JSON.stringify({ detail: 'Invalid API key' }) });
    const processor = new SGPSpanProcessor({ ...credentials(server.url), maxExportBatchSize: 1 });
    endSpans(providerWith(processor), 40);
    const error = await processor.shutdown().catch((e: unknown) => e);
    expect((error as Error).message).toContain('40 spans were not delivered (40 rejected by SGP: SGP answered HTTP 401: Invalid API key)');
  });
});

describe('a second review: captureContent=false', () => {
  it('a known non-content attribute keeps its value only when it is a number, a flag or a word; upper-case families are filtered too', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), captureContent: false });
    const provider = providerWith(processor);
    provider.getTracer('t').startSpan('chat', {
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 12,
        'gen_ai.usage.notes': 'CANARY usage words',
        'gen_ai.response.finish_reasons': ['CANARY finish with spaces'],
        'GEN_AI.prompt': 'CANARY upper-case prompt',
      },
    }).end();
    await provider.shutdown();
    const wire = server.requests.map((r) => r.body).join();
    expect(wire).not.toContain('CANARY');
    expect(server.items[0]!.metadata).toMatchObject({ 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 12 });
  });

  it('error texts of a span whose only LLM content is an event are not sent', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), captureContent: false });
    const provider = providerWith(processor);
    const span = provider.getTracer('t').startSpan('call');
    span.addEvent('gen_ai.user.message', { content: 'CANARY prompt in an event' });
    span.recordException(new Error('provider said: CANARY prompt in an error'));
    span.setStatus({ code: 2, message: 'CANARY status message' });
    span.end();
    await provider.shutdown();
    expect(server.requests.map((r) => r.body).join()).not.toContain('CANARY');
  });
});

describe('a third review: the hot path never throws', () => {
  it('a span whose spanContext() throws, with waitUntil set and a root span open: onStart and onEnd return, the span counted as unmappable', async () => {
    for (const options of [{ waitUntil: () => undefined }, { waitUntil: () => undefined, exportOnStart: true }, { exportOnRootEnd: true }]) {
      const processor = new SGPSpanProcessor({ ...credentials(server.url), flushOnExit: false, ...options });
      const tracer = providerWith(processor).getTracer('t');
      const root = tracer.startSpan('open root');
      const template = tracer.startSpan('template');
      template.end();
      const hostile = Object.create(template, { spanContext: { value: () => { throw new Error('ctx boom'); } } }) as ReadableSpan;
      expect(() => processor.onStart(hostile as never, undefined as never)).not.toThrow();
      expect(() => processor.onEnd(hostile)).not.toThrow();
      expect(processor.getStats().dropped.unmappable).toBe(1);
      root.end();
      await processor.shutdown();
    }
  });
});
