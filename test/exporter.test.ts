import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, isTracingSuppressed } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SGPExportError } from '../src/errors.js';
import { SGPSpanExporter } from '../src/delivery/exporter.js';
import type { RecordOutcome } from '../src/delivery/exporter.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { ACCOUNT_ID, API_KEY, countTurns, credentials, eventually, virtualClock } from './helpers.js';

function makeNamedSpans(spans: { name: string; attributes: Record<string, unknown> }[]): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] }).getTracer('exporter-test');
  for (const { name, attributes } of spans) tracer.startSpan(name, { attributes: attributes as never }).end();
  return memory.getFinishedSpans();
}

function makeSpans(count: number, attributes: Record<string, unknown> = {}): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('exporter-test');
  for (let i = 0; i < count; i += 1) tracer.startSpan(`span-${i}`, { attributes: attributes as never }).end();
  return memory.getFinishedSpans();
}

/** Exports `spans` as finished spans and counts what became of them. */
async function exportBatch(exporter: SGPSpanExporter, spans: readonly ReadableSpan[], deadline?: number) {
  const report = await exporter.exportRecords(
    spans.map((span) => ({ span, inProgress: false })),
    deadline,
  );
  const count = (outcome: RecordOutcome) => report.outcomes.filter((o) => o === outcome).length;
  return {
    ...report,
    exported: count('exported'),
    retryLater: count('retryLater'),
    dropped: { rejected: count('rejected'), exportFailed: count('exportFailed'), unmappable: count('unmappable'), shutdown: count('shutdown') },
  };
}

function exportOnce(exporter: SGPSpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID });
});
afterEach(() => server.reset());
afterAll(() => server.close());

describe('SGPSpanExporter over HTTP', () => {
  it('PUTs the batch with the SGP headers and a path prefix kept', async () => {
    const exporter = new SGPSpanExporter({ ...credentials(`${server.url}/public/`), headers: { 'x-team': 'agents', 'x-api-key': 'nope' } });
    const spans = makeSpans(3);
    const result = await exportOnce(exporter, spans);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    const [request] = server.requests;
    expect(request).toMatchObject({ method: 'PUT', path: '/public/v5/spans/batch', status: 200 });
    expect(request!.headers).toMatchObject({
      'x-api-key': '[redacted]',
      'x-selected-account-id': ACCOUNT_ID,
      'content-type': 'application/json',
      'x-team': 'agents',
    });
    expect(server.items.map((item) => item.id).sort()).toEqual(spans.map((s) => s.spanContext().spanId).sort());
    await exporter.shutdown();
  });

  it('makes exactly 4 attempts with 400, 800 and 1600 ms between them, then reports the failure', async () => {
    const clock = virtualClock();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock });
    server.failNext(10, 503);
    const report = await exportBatch(exporter, makeSpans(5));
    expect(server.requests.map((r) => r.status)).toEqual([503, 503, 503, 503]);
    expect(clock.sleeps).toEqual([400, 800, 1600]);
    // 503 means SGP is unavailable: the spans are fine, so the caller may send them again later.
    expect(report).toMatchObject({ exported: 0, retryLater: 5, dropped: { exportFailed: 0, rejected: 0, unmappable: 0 }, requests: 4, retries: 3 });
    expect(report.outcomes).toEqual(Array(5).fill('retryLater'));
    expect(report.error).toBeInstanceOf(SGPExportError);
    expect(report.error!.message).toContain('HTTP 503');
    expect(report.error!.message).toContain('gave up after 4 attempts');
    await exporter.shutdown();
  });

  it('succeeds on a later attempt and delivers the batch once', async () => {
    const clock = virtualClock();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock });
    server.failNext(2, 500);
    const report = await exportBatch(exporter, makeSpans(4));
    expect(report).toMatchObject({ exported: 4, requests: 3, retries: 2 });
    expect(clock.sleeps).toEqual([400, 800]);
    expect(server.items).toHaveLength(4);
    await exporter.shutdown();
  });

  it('waits as long as Retry-After says (seconds, HTTP date, retry-after-ms)', async () => {
    const clock = virtualClock();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock });
    server.failNext(1, 429, { retryAfter: '3' });
    server.failNext(1, 503, { retryAfter: new Date(clock.now() + 3000 + 5000).toUTCString() });
    server.failNext(1, 503, { retryAfterMs: '1250' });
    const report = await exportBatch(exporter, makeSpans(1));
    // The HTTP date is read after the first 3 s wait, so 5 s remain.
    expect(clock.sleeps).toEqual([3000, 5000, 1250]);
    expect(report.exported).toBe(1);
    await exporter.shutdown();
  });

  it('lets a Retry-After slow later batches too, not only the one that got it', async () => {
    const clock = virtualClock();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock, maxAttempts: 1 });
    const [a, b] = makeSpans(2);
    server.failNext(1, 429, { retryAfter: '5' });
    expect((await exportBatch(exporter, [a!])).retryLater).toBe(1);
    expect(clock.sleeps).toEqual([]);
    expect((await exportBatch(exporter, [b!])).exported).toBe(1);
    expect(clock.sleeps).toEqual([5000]);
    await exporter.shutdown();
  });

  it.each([401, 403, 404])('does not retry HTTP %i and counts the whole batch as rejected', async (status) => {
    const clock = virtualClock();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock });
    server.failNext(1, status, { body: JSON.stringify({ detail: `nope ${status}` }) });
    const report = await exportBatch(exporter, makeSpans(2));
    expect(server.requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
    expect(report).toMatchObject({ exported: 0, dropped: { rejected: 2, exportFailed: 0 } });
    expect(report.error).toMatchObject({ kind: 'http', status, retryable: false, message: `SGP answered HTTP ${status}: nope ${status}` });
    await exporter.shutdown();
  });

  it.each([301, 302, 307, 308])('does not follow a redirect (HTTP %i) or retry it: the batch is dropped as exportFailed, saying so', async (status) => {
    const clock = virtualClock();
    const elsewhere = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID });
    try {
      const exporter = new SGPSpanExporter({ ...credentials(server.url), clock });
      server.failNext(1, status, { headers: { location: `${elsewhere.url}/v5/spans/batch` } });
      const report = await exportBatch(exporter, makeSpans(3));
      expect(server.requests).toHaveLength(1);
      expect(elsewhere.requests).toHaveLength(0);
      expect(clock.sleeps).toEqual([]);
      expect(report).toMatchObject({ exported: 0, dropped: { rejected: 0, exportFailed: 3 } });
      expect(report.error!.message).toMatch(new RegExp(`^SGP answered HTTP ${status} \\(a redirect, not followed: check baseUrl\\)`));
      await exporter.shutdown();
    } finally {
      await elsewhere.close();
    }
  });

  it.each([400, 409, 413, 422])('does not retry a single span refused with HTTP %i, and drops it as rejected', async (status) => {
    const clock = virtualClock();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock });
    server.failNext(2, status, { body: JSON.stringify({ detail: `nope ${status}` }) });
    const [span] = makeSpans(1);
    const report = await exportBatch(exporter, [span!]);
    // A 413 gets one more try with its strings shortened; here there is nothing long to shorten.
    expect(server.requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
    expect(report).toMatchObject({ exported: 0, dropped: { rejected: 1, exportFailed: 0 } });
    expect(report.error!.message).toBe(`SGP rejected span "span-0" (${span!.spanContext().spanId}): SGP answered HTTP ${status}: nope ${status}`);
    await exporter.shutdown();
  });

  it('reuses the memory of large request bodies only once nothing refers to them: bodies kept for a later retry stay intact', async () => {
    const big = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID, maxBodyBytes: 64 * 1024 * 1024 });
    try {
      const exporter = new SGPSpanExporter({ ...credentials(big.url), clock: virtualClock(), maxBatchBytes: 4 * 1024 * 1024 });
      // 20 spans of 60 KB: one 1.2 MB body from the pool.
      const spansOf = (tag: string) => makeSpans(20, { 'sgp.input': `${tag}:${'x'.repeat(60 * 1024)}` });
      big.failNext(4, 503);
      const held = await exportBatch(exporter, spansOf('first'));
      expect(held.retryLater).toBe(20);
      const kept = held.bodies!.map((body) => Buffer.from(body!));
      // Three more batches go out whole, each body given back and taken again.
      for (const tag of ['second', 'third', 'fourth']) expect((await exportBatch(exporter, spansOf(tag))).exported).toBe(20);
      expect(held.bodies!.map((body) => Buffer.from(body!))).toEqual(kept);
      expect(JSON.parse(held.bodies![0]!.toString()).input.value.startsWith('first:')).toBe(true);
      // And the server received every item of every batch that went out, whole.
      const tags = big.items.map((item) => String(item.input.value).split(':')[0]).sort();
      expect(tags).toEqual([...Array(20).fill('fourth'), ...Array(20).fill('second'), ...Array(20).fill('third')]);
      expect(big.items.every((item) => String(item.input.value).length === 60 * 1024 + 7 || String(item.input.value).length === 60 * 1024 + 6)).toBe(true);
      await exporter.shutdown();
    } finally {
      await big.close();
    }
  });

  it('a server that answers before reading a large body: the body is not reused while the socket still sends it', async () => {
    // Answers as soon as a request's headers are in, then reads the body only after a pause: the
    // socket is still sending the body when the answer completes the request.
    const bodies: string[] = [];
    const early = net.createServer((socket) => {
      let buffered = Buffer.alloc(0);
      let need = -1;
      let paused = false;
      socket.on('data', (data) => {
        buffered = Buffer.concat([buffered, data]);
        for (;;) {
          if (need < 0) {
            const end = buffered.indexOf('\r\n\r\n');
            if (end < 0) return;
            need = Number(/content-length: *(\d+)/i.exec(buffered.subarray(0, end).toString())![1]);
            buffered = buffered.subarray(end + 4);
            socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
            if (!paused) {
              paused = true;
              socket.pause();
              setTimeout(() => socket.resume(), 300);
            }
          }
          if (buffered.length < need) return;
          bodies.push(buffered.subarray(0, need).toString());
          buffered = buffered.subarray(need);
          need = -1;
        }
      });
    });
    await new Promise<void>((resolve) => early.listen(0, '127.0.0.1', resolve));
    const exporter = new SGPSpanExporter({
      ...credentials(`http://127.0.0.1:${(early.address() as AddressInfo).port}`),
      clock: virtualClock(),
      // One body larger than the kernel's socket buffers, so its end is still queued when the answer comes.
      maxBatchBytes: 16 * 1024 * 1024,
    });
    try {
      const batches = ['A', 'B', 'C'].map((letter) => Array.from({ length: 10 }, (_, i) => ({ name: `${letter}${i}`, text: letter.repeat(900_000) })));
      for (const batch of batches) {
        const spans = makeNamedSpans(batch.map(({ name, text }) => ({ name, attributes: { 'sgp.input': text } })));
        expect((await exportBatch(exporter, spans)).exported).toBe(10);
      }
      await eventually(() => bodies.length === 3);
      for (const [n, body] of bodies.entries()) {
        const items = JSON.parse(body).items as { name: string; input: { value: string } }[];
        expect(items.map((item) => item.name)).toEqual(batches[n]!.map(({ name }) => name));
        for (const item of items) expect(item.input.value === item.name[0]!.repeat(900_000)).toBe(true);
      }
    } finally {
      await exporter.shutdown();
      early.close();
    }
  });

  /** `count` spans of 100 KB whose reads (mapping reads a span's attributes) are noted under the turn of the event loop they happen in. */
  function watchedSpans(name: string, count: number, turns: { now(): number }, readIn: Map<number, Set<string>>): ReadableSpan[] {
    return makeSpans(count, { 'sgp.input': `${name}:${'x'.repeat(100 * 1024)}` }).map((span) => {
      const attributes = span.attributes;
      return Object.create(span, {
        attributes: {
          get() {
            readIn.set(turns.now(), (readIn.get(turns.now()) ?? new Set()).add(name));
            return attributes;
          },
        },
      }) as ReadableSpan;
    });
  }

  it('encodes concurrent exports in turns: no turn of the event loop serializes items of two exports', async () => {
    const big = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID, maxBodyBytes: 64 * 1024 * 1024 });
    try {
      const exporter = new SGPSpanExporter({ ...credentials(big.url), clock: virtualClock() });
      const turns = countTurns();
      const readIn = new Map<number, Set<string>>();
      const reports = await Promise.all(['a', 'b', 'c'].map((name) => exportBatch(exporter, watchedSpans(name, 6, turns, readIn))));
      turns.stop();
      expect(reports.map((report) => report.exported)).toEqual([6, 6, 6]);
      expect(big.items).toHaveLength(18);
      expect([...readIn.values()].filter((names) => names.size > 1)).toEqual([]);
      const order = [...readIn.entries()].sort(([x], [y]) => x - y).map(([, names]) => [...names][0]);
      // One 100 KB item per turn, the exports taking turns.
      expect(order.join('')).toBe('abcabcabcabcabcabc');
      await exporter.shutdown();
    } finally {
      await big.close();
    }
  });

  it('yields to the event loop for the text it reads, not only for what it sends: captureContent false', async () => {
    const big = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID, maxBodyBytes: 64 * 1024 * 1024 });
    try {
      const exporter = new SGPSpanExporter({ ...credentials(big.url), clock: virtualClock(), captureContent: false });
      const turns = countTurns();
      const readIn = new Map<number, Set<string>>();
      const report = await exportBatch(exporter, watchedSpans('a', 6, turns, readIn));
      turns.stop();
      expect(report.exported).toBe(6);
      // Each item is small once its content is left out, but reading 100 KB is the work: one a turn.
      expect(readIn.size).toBe(6);
      expect(JSON.stringify(big.items)).not.toContain('xxxx');
      await exporter.shutdown();
    } finally {
      await big.close();
    }
  });

  it('stops encoding when it is shut down mid-export: the rest settle as shutdown at once', async () => {
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock: virtualClock() });
    const turns = countTurns();
    const readIn = new Map<number, Set<string>>();
    const spans = watchedSpans('a', 30, turns, readIn);
    const exporting = exportBatch(exporter, spans);
    await eventually(() => readIn.size >= 3);
    await exporter.abort();
    const report = await exporting;
    turns.stop();
    expect(report.dropped.shutdown).toBe(30);
    expect(readIn.size).toBeLessThan(8);
    expect(server.items).toHaveLength(0);
  });

  it('reads a huge error body only up to its cap and quotes a short excerpt', async () => {
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock: virtualClock() });
    server.failNext(1, 401, { body: `{"detail": "${'bad key '.repeat(200_000)}"}` });
    const report = await exportBatch(exporter, makeSpans(1));
    expect(report.error!.message.startsWith('SGP answered HTTP 401: bad key bad key')).toBe(true);
    expect(report.error!.message.length).toBeLessThanOrEqual(330);
    await exporter.shutdown();
  });

  it('gives up on a 500 after 4 attempts and counts the batch as failed, not to be retried later', async () => {
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock: virtualClock() });
    server.failNext(4, 500);
    const report = await exportBatch(exporter, makeSpans(3));
    expect(report).toMatchObject({ exported: 0, retryLater: 0, dropped: { exportFailed: 3 }, requests: 4 });
    await exporter.shutdown();
  });

  it.each([408, 429, 502, 504])('retries HTTP %i', async (status) => {
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock: virtualClock() });
    server.failNext(1, status);
    expect((await exportBatch(exporter, makeSpans(1))).exported).toBe(1);
    expect(server.requests.map((r) => r.status)).toEqual([status, 200]);
    await exporter.shutdown();
  });

  it('retries a dropped connection', async () => {
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock: virtualClock() });
    server.dropNextConnections(1);
    const report = await exportBatch(exporter, makeSpans(2));
    expect(server.requests.map((r) => r.status)).toEqual(['dropped', 200]);
    expect(report).toMatchObject({ exported: 2, retries: 1 });
    await exporter.shutdown();
  });

  it('retries a connection refused and names the error code', async () => {
    const closed = await startSGPTestServer();
    const url = closed.url;
    await closed.close();
    const exporter = new SGPSpanExporter({ ...credentials(url), clock: virtualClock() });
    const report = await exportBatch(exporter, makeSpans(1));
    expect(report).toMatchObject({ requests: 4, retryLater: 1, dropped: { exportFailed: 0 } });
    expect(report.error).toMatchObject({ kind: 'network', code: 'ECONNREFUSED', retryable: true });
    await exporter.shutdown();
  });

  it('times out a request that gets no answer, and retries it', async () => {
    const clock = virtualClock();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), timeoutMillis: 100, clock });
    // The server holds every answer far longer than the test runs: only the request timeout, on the
    // virtual clock, can end each attempt.
    server.setResponseDelay(600_000);
    const exporting = exportBatch(exporter, makeSpans(1), clock.now() + 60_000);
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      await eventually(() => server.requests.length === attempt);
      expect(clock.nextDue()).toBe(clock.now() + 100);
      clock.advance(100);
    }
    const report = await exporting;
    expect(report.requests).toBe(4);
    expect(report.error).toMatchObject({ kind: 'timeout', message: 'SGP request timed out after 100 ms (gave up after 4 attempts: attempts exhausted)' });
    await exporter.shutdown();
  });

  it('does not start a backoff wait that would cross the export deadline', async () => {
    const clock = virtualClock();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), clock, exportTimeoutMillis: 2000 });
    server.failNext(10, 503);
    const report = await exportBatch(exporter, makeSpans(1));
    // 0 ms: attempt 1, 400: attempt 2, 1200: attempt 3; the next wait (1600) would end at 2800 > 2000.
    expect(clock.sleeps).toEqual([400, 800]);
    expect(report.requests).toBe(3);
    expect(report.error!.message).toContain('gave up after 3 attempts: export deadline');
    await exporter.shutdown();
  });

  it('replaces NUL and lone surrogates, which SGP refuses, and keeps text that only looks like their escapes', async () => {
    const exporter = new SGPSpanExporter(credentials(server.url));
    const spans = makeSpans(1, {
      'sgp.input': JSON.stringify({ question: 'a\u0000b', broken: 'x\ud800y', pair: '😀' }),
      'key\u0000with-nul': 'lone \udfff end',
      literal: 'the text \\u0000 and \\ud800 stays',
    });
    const report = await exportBatch(exporter, spans);
    expect(report.exported).toBe(1);
    const [item] = server.items;
    expect(item!.input).toEqual({ question: 'a\ufffdb', broken: 'x\ufffdy', pair: '😀' });
    expect(item!.metadata['key\ufffdwith-nul']).toBe('lone \ufffd end');
    expect(item!.metadata.literal).toBe('the text \\u0000 and \\ud800 stays');
    await exporter.shutdown();
  });

  it('drops an unmappable span alone and delivers its batch-mates', async () => {
    const exporter = new SGPSpanExporter(credentials(server.url));
    const spans = makeSpans(5);
    const broken = { ...spans[2]!, spanContext: () => { throw new Error('no context'); } } as ReadableSpan;
    const report = await exportBatch(exporter, [spans[0]!, spans[1]!, broken, spans[3]!, spans[4]!]);
    expect(report).toMatchObject({ exported: 4, dropped: { unmappable: 1, exportFailed: 0, rejected: 0 } });
    expect(server.items).toHaveLength(4);
    expect(report.error!.message).toContain('could not be mapped');
    const result = await exportOnce(exporter, [broken]);
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error!.message).toContain('1 of 1 spans not delivered to SGP');
    await exporter.shutdown();
  });

  it('splits more than 1000 spans into requests the server accepts', async () => {
    const exporter = new SGPSpanExporter(credentials(server.url));
    const report = await exportBatch(exporter, makeSpans(1500));
    expect(report.exported).toBe(1500);
    expect(server.requests.map((r) => r.ids.length)).toEqual([1000, 500]);
    await exporter.shutdown();
  });

  it('handles concurrent export() calls', async () => {
    const exporter = new SGPSpanExporter(credentials(server.url));
    server.setResponseDelay(30);
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => exportOnce(exporter, makeSpans(10))));
    expect(results.map((r) => r.code)).toEqual(Array(5).fill(ExportResultCode.SUCCESS));
    expect(server.items).toHaveLength(50);
    await exporter.shutdown();
  });

  it('reuses one keep-alive connection across batches', async () => {
    const exporter = new SGPSpanExporter(credentials(server.url));
    for (let i = 0; i < 5; i += 1) await exportBatch(exporter, makeSpans(2));
    expect(new Set(server.requests.map((r) => r.remotePort)).size).toBe(1);
    await exporter.shutdown();
  });

  it('fails fast after shutdown, with a clear error', async () => {
    const exporter = new SGPSpanExporter(credentials(server.url));
    await exporter.shutdown();
    const result = await exportOnce(exporter, makeSpans(1));
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error!.message).toContain('SGPSpanExporter is shut down');
    expect(server.requests).toHaveLength(0);
  });

  it('closes the agent it created but never a dispatcher the user passed in', async () => {
    const agent = new Agent();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), dispatcher: agent });
    await exportBatch(exporter, makeSpans(1));
    await exporter.shutdown();
    expect(agent.closed).toBe(false);
    const again = new SGPSpanExporter({ ...credentials(server.url), dispatcher: agent });
    expect((await exportBatch(again, makeSpans(1))).exported).toBe(1);
    await agent.close();
  });

  it('sends its requests with tracing suppressed', async () => {
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    const seen: boolean[] = [];
    class RecordingAgent extends Agent {
      override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
        seen.push(isTracingSuppressed(context.active()));
        return super.dispatch(options, handler);
      }
    }
    const agent = new RecordingAgent();
    const exporter = new SGPSpanExporter({ ...credentials(server.url), dispatcher: agent });
    await exportOnce(exporter, makeSpans(1));
    expect(seen).toEqual([true]);
    await agent.close();
    context.disable();
  });

  it('is a no-op without credentials', async () => {
    const exporter = new SGPSpanExporter({ baseUrl: server.url, env: {} });
    expect(exporter.disabledReason).toBe('missing_credentials');
    expect((await exportOnce(exporter, makeSpans(2))).code).toBe(ExportResultCode.SUCCESS);
    expect(server.requests).toHaveLength(0);
  });
});
