import { afterEach, describe, expect, it } from 'vitest';
import { SGPFlushError } from '../../src/errors.js';
import { splitBudget } from '../../src/delivery/isolate.js';
import { ACCOUNT_ID, API_KEY, eventually } from '../helpers.js';
import { makeRig } from './rig.js';
import type { Rig } from './rig.js';

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

describe('fault injection', () => {
  it('runs with --unhandled-rejections=strict', () => {
    expect(process.execArgv).toContain('--unhandled-rejections=strict');
  });

  it('server down for a while, then up: spans wait and are all delivered', async () => {
    rig = await makeRig();
    await rig.down();
    rig.end(120);
    await rig.driveUntil(() => rig!.processor.getStats().outage);
    expect(rig.processor.getStats()).toMatchObject({ received: 120, queued: 120, dropped: { total: 0 } });
    expect(rig.diag.at('warn').some((w) => w.includes('SGP is unreachable'))).toBe(true);
    rig.clock.advance(60_000);
    await rig.quiet();
    expect(rig.processor.getStats().queued).toBe(120);
    await rig.up();
    await rig.settle();
    expect(rig.processor.getStats()).toMatchObject({ exported: 120, dropped: { total: 0 }, outage: false });
    rig.check();
  });

  it('503 with Retry-After: the wait the server asked for is used', async () => {
    rig = await makeRig();
    rig.server.failNext(1, 503, { retryAfter: '7' });
    rig.end(10);
    await rig.settle();
    expect(rig.clock.sleeps).toContain(7000);
    expect(rig.processor.getStats()).toMatchObject({ exported: 10, retries: 1 });
    rig.check();
  });

  it('429 storm: every span is delivered once the storm passes', async () => {
    rig = await makeRig();
    rig.server.failNext(30, 429);
    rig.end(150);
    await rig.settle();
    expect(rig.processor.getStats()).toMatchObject({ exported: 150, dropped: { total: 0 } });
    expect(rig.server.requests.filter((r) => r.status === 429)).toHaveLength(30);
    rig.check();
  });

  it('connection reset mid-request: retried and delivered', async () => {
    rig = await makeRig();
    rig.server.dropNextConnections(5);
    rig.end(100);
    await rig.settle();
    expect(rig.processor.getStats()).toMatchObject({ exported: 100, dropped: { total: 0 } });
    rig.check();
  });

  it('a response slower than the request timeout: held, then delivered once the server answers in time', async () => {
    rig = await makeRig({ timeoutMillis: 50, maxAttempts: 1 });
    // Answers are held far longer than the test runs: only the request timeout (virtual) ends the attempt.
    rig.server.setResponseDelay(600_000);
    rig.end(20);
    rig.clock.advance(4000);
    await eventually(() => rig!.server.requests.length === 1);
    expect(rig.processor.getStats()).toMatchObject({ inFlight: 20, outage: false });
    rig.clock.advance(50);
    await rig.quiet();
    expect(rig.processor.getStats()).toMatchObject({ outage: true, queued: 20, lastError: { kind: 'timeout' } });
    rig.server.setResponseDelay(0);
    await rig.settle();
    expect(rig.processor.getStats()).toMatchObject({ exported: 20, dropped: { total: 0 }, outage: false });
    rig.check();
  });

  it('a poison span in a batch of 50 (422): the 49 others are delivered, the poison one is dropped with the reason', async () => {
    rig = await makeRig();
    rig.server.rejectItems((item) => item.name.startsWith('poison'), 422, 'metadata too deep');
    const good = rig.end(24, 'good');
    rig.end(1, 'poison');
    good.push(...rig.end(25, 'good'));
    const error = await rig.capture(rig.processor.forceFlush());
    expect(error).toBeInstanceOf(SGPFlushError);
    expect((error as SGPFlushError).undelivered).toBe(1);
    expect((error as Error).message).toContain('1 rejected by SGP: SGP rejected span "poison-24"');
    expect((error as Error).message).toContain('HTTP 422: items[0]: metadata too deep');
    expect(rig.server.items.map((i) => i.id).sort()).toEqual(good.sort());
    expect(rig.processor.getStats()).toMatchObject({ exported: 49, dropped: { total: 1, rejected: 1 } });
    // Halving 50 down to the culprit: 1 + 2 * ceil(log2(50)) requests at most.
    expect(rig.server.requests.length).toBeLessThanOrEqual(13);
    rig.check();
  });

  it('a 413 for a huge span: it is sent truncated and marked, its batch-mates as they are', async () => {
    rig = await makeRig({ maxFieldBytes: 8 * 1024 * 1024 }, { maxBodyBytes: 256 * 1024 });
    rig.end(5, 'small');
    const [huge] = rig.end(1, 'huge', { 'sgp.input': 'x'.repeat(1024 * 1024) });
    rig.end(4, 'small');
    await rig.capture(rig.processor.forceFlush());
    expect(rig.errors).toEqual([]);
    const item = rig.server.items.find((i) => i.id === huge)!;
    expect(Buffer.byteLength(item.input.value as string)).toBeLessThanOrEqual(2048);
    expect(item.metadata.sgp_otel).toEqual({
      truncated: [{ path: 'input.value', original_bytes: 1024 * 1024 }],
      truncated_after: 'HTTP 413',
    });
    expect(rig.processor.getStats()).toMatchObject({ exported: 10, dropped: { total: 0 } });
    rig.check();
  });

  it('a batch of nothing but huge spans, every part refused with 413: each span still gets its retry truncated', async () => {
    rig = await makeRig({ maxFieldBytes: 8 * 1024 * 1024 }, { maxBodyBytes: 256 * 1024 });
    const huge = rig.end(4, 'huge', { 'sgp.input': 'x'.repeat(600 * 1024) });
    await rig.capture(rig.processor.forceFlush());
    expect(rig.errors).toEqual([]);
    expect(rig.server.items.map((item) => item.id).sort()).toEqual([...huge].sort());
    for (const item of rig.server.items) expect(item.metadata.sgp_otel).toMatchObject({ truncated_after: 'HTTP 413' });
    expect(rig.processor.getStats()).toMatchObject({ exported: 4, dropped: { total: 0 } });
    rig.check();
  });

  it('401 (bad key): one request per batch, no retries, one clear error', async () => {
    rig = await makeRig({}, { apiKey: 'the-real-key' });
    rig.end(200);
    const error = await rig.capture(rig.processor.forceFlush());
    expect((error as Error).message).toContain('SGP answered HTTP 401: Invalid API key');
    expect(rig.server.requests.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    expect(rig.processor.getStats()).toMatchObject({ exported: 0, retries: 0, dropped: { rejected: 200 } });
    const warnings = rig.diag.at('warn');
    expect(warnings.length).toBeLessThanOrEqual(3);
    expect(warnings[0]).toBe('sgp-otel: SGP refused the credentials (HTTP 401): check SGP_API_KEY (apiKey): the key is wrong or revoked. Spans are dropped until this is fixed.');
    expect(warnings[1]).toContain('(rejected by SGP): SGP answered HTTP 401: Invalid API key');
    rig.check();
  });

  it('a burst of 20,000 spans: the queue keeps 4000, the rest are counted, a few warnings carry the count', async () => {
    rig = await makeRig();
    rig.end(20_000);
    expect(rig.processor.getStats()).toMatchObject({ received: 20_000, dropped: { queueFull: 16_000 } });
    await rig.settle();
    await rig.processor.shutdown();
    expect(rig.processor.getStats()).toMatchObject({ exported: 4000, dropped: { total: 16_000 } });
    const warnings = rig.diag.at('warn');
    expect(warnings.length).toBeLessThanOrEqual(3);
    const counted = warnings.map((w) => Number(/dropped (\d+) spans? \(queue full\)/.exec(w)?.[1] ?? 0)).reduce((a, b) => a + b, 0);
    expect(counted).toBe(16_000);
    rig.check();
  });

  it('shutdown during an outage: settles at its timeout and counts the spans it could not deliver', async () => {
    rig = await makeRig({ exportTimeoutMillis: 10_000 });
    await rig.down();
    rig.end(30);
    rig.clock.advance(4000);
    await rig.driveUntil(() => rig!.processor.getStats().outage);
    let settled = false;
    const shutdown = rig.capture(rig.processor.shutdown()).finally(() => {
      settled = true;
    });
    await rig.driveUntil(() => settled);
    const error = await shutdown;
    expect(error).toBeInstanceOf(SGPFlushError);
    expect(error).toMatchObject({ timedOut: true, undelivered: 30 });
    expect(rig.processor.getStats()).toMatchObject({ received: 30, exported: 0, queued: 0, dropped: { shutdown: 30 } });
    rig.check();
  });

  it('forceFlush racing shutdown: both settle and every span is delivered', async () => {
    rig = await makeRig();
    rig.end(120);
    const flush = rig.processor.forceFlush();
    const shutdown = rig.processor.shutdown();
    const lateFlush = rig.processor.forceFlush();
    const results = await Promise.allSettled([flush, shutdown, lateFlush]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(rig.processor.getStats()).toMatchObject({ exported: 120, queued: 0 });
    rig.check();
  });

  it('exportOnStart, start and end in the same batch: only the final record is sent', async () => {
    rig = await makeRig({ exportOnStart: true });
    const [id] = rig.end(1, 'quick');
    await rig.processor.forceFlush();
    expect(rig.server.requests.filter((r) => r.ids.includes(id!))).toHaveLength(1);
    expect(rig.server.items[0]!.end_timestamp).toBeDefined();
    expect(rig.processor.getStats().inProgress).toEqual({ sent: 0, superseded: 1, dropped: 0 });
    rig.check();
  });

  it('exportOnStart, start and end in different batches: the start record first, then the final one replaces it', async () => {
    rig = await makeRig({ exportOnStart: true });
    const span = rig.provider.getTracer('t').startSpan('long-run', { attributes: { 'sgp.input': '{"task":"plan a trip"}' } });
    const id = span.spanContext().spanId;
    await rig.processor.forceFlush();
    const started = rig.server.items.find((i) => i.id === id)!;
    expect(started.end_timestamp).toBeUndefined();
    expect(started.metadata.sgp_otel).toEqual({ in_progress: true });
    expect(started.input).toEqual({ task: 'plan a trip' });
    span.end();
    rig.ended.push(id);
    await rig.processor.forceFlush();
    const final = rig.server.items.find((i) => i.id === id)!;
    expect(final.end_timestamp).toBeDefined();
    expect(final.start_timestamp).toBe(started.start_timestamp);
    expect(final.metadata.sgp_otel).toBeUndefined();
    const sentIn = rig.server.requests.map((r, i) => (r.ids.includes(id) ? i : -1)).filter((i) => i >= 0);
    expect(sentIn).toHaveLength(2);
    expect(rig.processor.getStats().inProgress).toEqual({ sent: 1, superseded: 0, dropped: 0 });
    rig.check();
  });

  it('spans still open at shutdown are sent as in-progress records', async () => {
    rig = await makeRig();
    const open = rig.provider.getTracer('t').startSpan('cut-short');
    rig.end(3);
    await rig.processor.shutdown();
    const item = rig.server.items.find((i) => i.id === open.spanContext().spanId)!;
    expect(item.end_timestamp).toBeUndefined();
    expect(item.metadata.sgp_otel).toEqual({ in_progress: true });
    expect(rig.processor.getStats()).toMatchObject({ exported: 3, inProgress: { sent: 1 } });
    rig.check();
  });

  it('keeps no record of spans that ended', async () => {
    rig = await makeRig({ exportOnStart: true });
    rig.end(10_000);
    const stillOpen = rig.provider.getTracer('t').startSpan('open');
    expect(rig.processor.getStats().open).toBe(1);
    stillOpen.end();
    rig.ended.push(stillOpen.spanContext().spanId);
    expect(rig.processor.getStats().open).toBe(0);
    await rig.settle();
    rig.check();
  });

  it('a long outage stays within maxQueueSize: queued + in flight + held never exceed it, held spans go out first', async () => {
    rig = await makeRig({ maxQueueSize: 200, maxExportBatchSize: 20, maxConcurrentExports: 4 });
    await rig.down();
    let peak = 0;
    for (let round = 0; round < 30; round += 1) {
      rig.end(50);
      await rig.quiet();
      peak = Math.max(peak, rig.processor.getStats().queued);
      rig.clock.advance(5000);
      await rig.quiet();
      peak = Math.max(peak, rig.processor.getStats().queued);
      if (round > 0) expect(rig.processor.getStats().outage).toBe(true);
    }
    const during = rig.processor.getStats();
    expect(peak).toBeLessThanOrEqual(200);
    expect(during.queued).toBe(200);
    expect(during.dropped).toMatchObject({ total: 1500 - 200, queueFull: 1500 - 200 });
    await rig.up();
    await rig.settle();
    expect(rig.processor.getStats()).toMatchObject({ exported: 200, queued: 0, outage: false });
    // The oldest spans (held since the outage began) are the first the server received.
    const firstRequest = rig.server.requests.find((r) => r.status === 200)!;
    expect(firstRequest.ids).toContain(rig.ended[0]);
    rig.check();
  });

  it('outage is true while held spans are in flight, not only while they wait', async () => {
    rig = await makeRig({ maxAttempts: 1, timeoutMillis: 60_000 });
    await rig.down();
    rig.end(10);
    await rig.driveUntil(() => rig!.processor.getStats().outage);
    await rig.up();
    rig.server.setResponseDelay(600_000);
    rig.clock.advance(1000);
    await eventually(() => rig!.server.requests.length === 1);
    expect(rig.processor.getStats()).toMatchObject({ inFlight: 10, outage: true });
    rig.server.setResponseDelay(0);
    await rig.settle();
    expect(rig.processor.getStats()).toMatchObject({ exported: 10, outage: false });
    rig.check();
  });

  it.each([500, 307])('the outage ends when SGP answers again, even with an error of its own (HTTP %i) that drops the held spans', async (status) => {
    rig = await makeRig({ maxAttempts: 1 });
    await rig.down();
    rig.end(10);
    await rig.driveUntil(() => rig!.processor.getStats().outage);
    await rig.up();
    rig.server.failNext(1, status);
    await rig.settle();
    expect(rig.processor.getStats()).toMatchObject({ queued: 0, exported: 0, dropped: { exportFailed: 10 }, outage: false });
    expect(rig.diag.at('info').filter((line) => line.includes('reachable again'))).toHaveLength(1);
    rig.check();
  });

  it('a server that echoes the API key and account id: neither reaches errors, stats or logs', async () => {
    rig = await makeRig();
    const echo = JSON.stringify({ detail: `key ${API_KEY} has no access to ${ACCOUNT_ID}` });
    rig.server.failNext(1, 403, { body: echo });
    rig.server.failNext(1, 500, { body: echo });
    rig.end(5);
    const first = await rig.capture(rig.processor.forceFlush());
    expect((first as Error).message).toContain('SGP answered HTTP 403: key [redacted] has no access to [redacted]');
    rig.end(5);
    await rig.capture(rig.processor.forceFlush());
    const shown = JSON.stringify({ stats: rig.processor.getStats(), log: rig.diag.messages, errors: rig.errors.map((e) => `${e}`) });
    expect(shown).toContain('[redacted]');
    expect(shown).not.toContain(API_KEY);
    expect(shown).not.toContain(ACCOUNT_ID);
    rig.check();
  });

  it('a server that refuses everything (blanket 422) costs a few requests per batch, not 2n - 1', async () => {
    rig = await makeRig();
    rig.server.rejectItems(() => true, 422, 'validation failed');
    rig.end(50);
    const error = await rig.capture(rig.processor.forceFlush());
    expect(error).toMatchObject({ undelivered: 50 });
    // The whole batch, its halves, its quarters: every part refused alike, and one item of each
    // refused alone too, so probing stops.
    expect(rig.server.requests).toHaveLength(1 + 2 + 4 + 4);
    expect(rig.processor.getStats()).toMatchObject({ exported: 0, dropped: { rejected: 50 } });
    expect(rig.processor.getStats().lastError!.message).toContain('every part of the batch was refused alike');
    rig.check();
  });

  it('four bad spans that SGP refuses with the same message (each at the same place in its quarter): only they are dropped', async () => {
    rig = await makeRig();
    rig.server.rejectItems((item) => item.name.startsWith('bad'), 422, 'bad span');
    // The quarters a batch of 50 is split into start at 0, 13, 25 and 38: a bad span 5 items into each.
    const bad = new Set([5, 18, 30, 43]);
    for (let i = 0; i < 50; i += 1) rig.end(1, bad.has(i) ? 'bad' : 'good');
    await rig.capture(rig.processor.forceFlush());
    expect(rig.processor.getStats()).toMatchObject({ exported: 46, dropped: { rejected: 4 } });
    expect(rig.server.requests.length - 1).toBeLessThanOrEqual(splitBudget(50));
    rig.check();
  });

  it('four huge spans in a batch refused as too large (413): each is sent alone and cut, every batch-mate delivered', async () => {
    rig = await makeRig({ maxFieldBytes: 1024 * 1024 }, { maxBodyBytes: 64 * 1024 });
    const huge = new Set([3, 17, 29, 44]);
    for (let i = 0; i < 50; i += 1) rig.end(1, huge.has(i) ? 'huge' : 'small', huge.has(i) ? { 'sgp.input': 'x'.repeat(200 * 1024) } : {});
    await rig.capture(rig.processor.forceFlush());
    expect(rig.processor.getStats()).toMatchObject({ exported: 50, dropped: { total: 0 } });
    const cut = rig.server.items.filter((item) => item.name.startsWith('huge'));
    expect(cut.map((item) => (item.metadata.sgp_otel as { truncated_after: string }).truncated_after)).toEqual(['HTTP 413', 'HTTP 413', 'HTTP 413', 'HTTP 413']);
    expect(rig.server.requests.length - 1).toBeLessThanOrEqual(splitBudget(50) + 4);
    rig.check();
  });

  it('many bad items in one batch: splitting stops at its budget, good spans found on the way are delivered', async () => {
    rig = await makeRig();
    rig.server.rejectItems((item) => item.name.startsWith('poison'), 422, 'poison');
    for (let i = 0; i < 25; i += 1) {
      rig.end(1, 'good');
      rig.end(1, 'poison');
    }
    await rig.capture(rig.processor.forceFlush());
    expect(rig.server.requests.length).toBeLessThanOrEqual(1 + splitBudget(50));
    const stats = rig.processor.getStats();
    expect(stats.exported + stats.dropped.rejected).toBe(50);
    expect(stats.dropped.rejected).toBeGreaterThanOrEqual(25);
    expect(rig.server.items.some((item) => item.name.startsWith('poison'))).toBe(false);
    rig.check();
  });
});
