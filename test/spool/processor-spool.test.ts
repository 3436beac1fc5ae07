import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SGPFlushError } from '../../src/errors.js';
import { hrTimeToIso } from '../../src/mapping/span-to-item.js';
import type { SGPStats } from '../../src/pipeline/stats.js';
import { makeRig } from '../faults/rig.js';
import type { Rig } from '../faults/rig.js';
import { driveUntil, eventually, nextTurn, quiet } from '../helpers.js';
import { closeRig } from './drive.js';

// The processor with a spool, on virtual time, against the real test server and real files.

let dir: string;
let rig: Rig | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sgp-spool-'));
});
afterEach(async () => {
  if (rig) await closeRig(rig);
  rig = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** The books of a processor with a spool. */
function balanced(stats: SGPStats): void {
  expect(stats.received).toBe(stats.exported + stats.dropped.total + stats.queued + stats.spooled);
}

/** Ends `count` spans through the rig's provider and keeps them, to compare with what arrives. */
function endKept(target: Rig, count: number, kept: ReadableSpan[]): void {
  const tracer = target.provider.getTracer('spool');
  for (let i = 0; i < count; i += 1) {
    const span = tracer.startSpan(`spooled-${kept.length}`);
    span.end();
    kept.push(span as unknown as ReadableSpan);
  }
}

describe('spoolDir', () => {
  it('an outage longer than maxQueueSize can hold: spans go to disk, memory stays bounded, and all arrive, byte-identical start, once SGP is back', async () => {
    rig = await makeRig({ spoolDir: dir, maxQueueSize: 100, maxExportBatchSize: 20, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    const kept: ReadableSpan[] = [];
    let peakQueued = 0;
    // A steady producer: 50 spans per round, far more in all than maxQueueSize.
    for (let round = 0; round < 20; round += 1) {
      endKept(rig, 50, kept);
      peakQueued = Math.max(peakQueued, rig.processor.getStats().queued);
      await driveUntil(rig.clock, () => rig!.processor.getStats().queued < 50);
      peakQueued = Math.max(peakQueued, rig.processor.getStats().queued);
    }
    await driveUntil(rig.clock, () => rig!.processor.getStats().queued === 0);
    const during = rig.processor.getStats();
    expect(during).toMatchObject({ received: 1000, exported: 0, queued: 0, spooled: 1000, outage: true, dropped: { total: 0 } });
    expect(peakQueued).toBeLessThanOrEqual(100);
    expect(during.spool).toMatchObject({ path: dir, writable: true, segments: expect.any(Number) });
    expect(during.spool!.bytes).toBeGreaterThan(1000 * 100);
    balanced(during);
    expect(rig.diag.at('warn').filter((w) => w.includes('SGP is unreachable'))).toEqual([expect.stringContaining(`spooling spans to ${dir}`)]);

    await rig.up();
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed === 1000);
    const after = rig.processor.getStats();
    expect(after).toMatchObject({ received: 1000, spooled: 1000, replayed: 1000, dropped: { total: 0 }, outage: false });
    expect(after.spool).toMatchObject({ dropped: { total: 0 } });
    balanced(after);
    const byId = new Map(rig.server.items.map((item) => [item.id, item]));
    for (const span of kept) {
      const item = byId.get(span.spanContext().spanId);
      expect(item?.start_timestamp).toBe(hrTimeToIso(span.startTime));
      expect(item?.end_timestamp).toBe(hrTimeToIso(span.endTime));
    }
    // Oldest first: the server stored them in the order they ended.
    expect(rig.server.items.map((item) => item.name)).toEqual(kept.map((span) => span.name));
    await driveUntil(rig.clock, () => readdirSync(dir).length === 0);
  });

  it('shutdown during an outage spools what is undelivered instead of dropping it; the next process delivers it', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    const kept: ReadableSpan[] = [];
    endKept(rig, 120, kept);
    let shutdownError: unknown = 'pending';
    rig.processor.shutdown().then(
      () => (shutdownError = undefined),
      (error: unknown) => (shutdownError = error),
    );
    await driveUntil(rig.clock, () => shutdownError !== 'pending');
    expect(shutdownError).toBeInstanceOf(SGPFlushError);
    expect((shutdownError as Error).message).toContain(`spooled to ${dir}, to be sent once SGP answers`);
    const stats = rig.processor.getStats();
    expect(stats).toMatchObject({ received: 120, spooled: 120, queued: 0, dropped: { total: 0, shutdown: 0 } });
    balanced(stats);
    expect(readdirSync(dir).every((name) => name.endsWith('.seg'))).toBe(true);
    await closeRig(rig);

    // The next run of the program, SGP answering again.
    rig = await makeRig({ spoolDir: dir });
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed === 120);
    expect(new Set(rig.server.items.map((item) => item.id))).toEqual(new Set(kept.map((span) => span.spanContext().spanId)));
    expect(rig.processor.getStats()).toMatchObject({ received: 0, replayed: 120, spool: { dropped: { total: 0 } } });
    // Ten batches' worth per replay turn: 120 items are one request, not three.
    expect(rig.server.counts.requests).toBe(1);
  });

  it('shutdown with more undelivered than spoolMaxBytes holds: the newest go to disk, the oldest are counted spoolFull, none dropped as shutdown', async () => {
    rig = await makeRig({ spoolDir: dir, spoolMaxBytes: 64 * 1024, maxAttempts: 1, maxQueueSize: 1000 });
    await quiet(rig.clock);
    await rig.down();
    // 300 spans of about 1 KB each: several times the budget, in one shutdown batch.
    const ids = rig.end(300, 'big', { 'app.note': 'n'.repeat(1000) });
    await closeRig(rig);
    const stats = rig.processor.getStats();
    expect(stats).toMatchObject({ received: 300, spooled: 300, dropped: { total: 0, shutdown: 0 } });
    balanced(stats);
    const lost = stats.spool!.dropped.spoolFull;
    expect(lost).toBeGreaterThan(0);
    expect(lost).toBeLessThan(300);
    expect(rig.diag.at('warn').some((w) => /spool spoolFull/.test(w) || /spoolMaxBytes \(65536\) reached/.test(w))).toBe(true);
    expect(readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0)).toBeLessThanOrEqual(64 * 1024);

    rig = await makeRig({ spoolDir: dir });
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed === 300 - lost);
    // Every item is either delivered once or counted lost; the budget kept most of a budget's worth.
    const delivered = rig.server.items.map((item) => item.id);
    expect(new Set(delivered).size).toBe(300 - lost);
    expect(delivered.every((id) => ids.includes(id))).toBe(true);
    expect(300 - lost).toBeGreaterThan(30);
  });

  it('with one export slot (exportOnStart), replaying a large spool does not starve live spans: they take turns', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(500);
    await closeRig(rig);

    rig = await makeRig({ spoolDir: dir, exportOnStart: true, maxExportBatchSize: 10 });
    // The first replay request is answered only once the live spans are queued behind it.
    rig.server.setResponseDelay(60_000);
    await eventually(() => rig!.server.counts.requests === 1);
    const live = new Set(rig.end(30, 'live'));
    rig.server.setResponseDelay(0);
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed === 500 && rig!.processor.getStats().exported === 30);
    const carriesLive = rig.server.requests.map((request) => request.ids.some((id) => live.has(id)));
    expect(carriesLive.slice(0, 7)).toEqual([false, true, false, true, false, true, false]);
    expect(rig.server.items).toHaveLength(530);
  });

  it('spans spooled after a failed export are written as that export encoded them: the mask runs once per span', async () => {
    const masked = new Map<string, number>();
    const mask = (value: unknown, context: { field: string; span: ReadableSpan }) => {
      if (context.field === 'input') {
        const id = context.span.spanContext().spanId;
        masked.set(id, (masked.get(id) ?? 0) + 1);
      }
      return JSON.parse(JSON.stringify(value).replaceAll('secret', '[masked]')) as unknown;
    };
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1, mask: mask as never });
    await quiet(rig.clock);
    await rig.down();
    const ids = rig.end(60, 'masked', { 'input.value': 'a secret prompt' });
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 60);
    expect([...masked.values()]).toEqual(ids.map(() => 1));
    await rig.up();
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed === 60);
    expect([...masked.values()]).toEqual(ids.map(() => 1));
    expect(rig.server.items.map((item) => JSON.stringify(item.input)).every((input) => input.includes('a [masked] prompt'))).toBe(true);
  });

  it('a clean shutdown that ends a replay in flight says nothing about SGP being unreachable, and the items stay spooled', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(40);
    await closeRig(rig);

    rig = await makeRig({ spoolDir: dir });
    rig.server.setResponseDelay(600_000);
    await eventually(() => rig!.server.counts.requests === 1);
    await closeRig(rig);
    expect(rig.diag.at('warn')).toEqual([]);
    expect(rig.processor.getStats()).toMatchObject({ replayed: 0, outage: false, lastError: undefined });
    rig = await makeRig({ spoolDir: dir });
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed === 40);
  });

  it('the spool directory deleted mid-outage: what it held is counted as deleted, the directory is made again, and the outage still ends', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(100, 'before');
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 100);
    rmSync(dir, { recursive: true, force: true });
    const after = new Set(rig.end(300, 'after'));
    await driveUntil(rig.clock, () => rig!.processor.getStats().queued === 0);
    await rig.up();
    await driveUntil(rig.clock, () => !rig!.processor.getStats().outage && rig!.processor.getStats().spool!.segments === 0 && rig!.processor.getStats().queued === 0);
    const stats = rig.processor.getStats();
    balanced(stats);
    // Every span ended after the deletion arrives; those in the deleted file are counted, not silent.
    expect(rig.server.items.filter((item) => after.has(item.id))).toHaveLength(300);
    expect(stats.spool!.dropped.deleted).toBe(100 - rig.server.items.filter((item) => item.name.startsWith('before')).length);
    expect(stats.spool!.dropped.deleted).toBeGreaterThan(0);
    expect(stats.spooled).toBe(stats.replayed + stats.spool!.dropped.total);
    expect(rig.diag.at('warn').some((w) => w.includes('was deleted by something other than sgp-otel'))).toBe(true);
  });

  it.each(['the directory', 'the open segment'])('%s deleted and no span ends afterwards: the loss is counted at the next rescan, not left unseen', async (what) => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(100);
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 100);
    if (what === 'the directory') rmSync(dir, { recursive: true, force: true });
    else for (const name of readdirSync(dir)) rmSync(join(dir, name));
    await rig.up();
    await driveUntil(rig.clock, () => rig!.processor.getStats().spool!.dropped.total > 0);
    expect(rig.processor.getStats().spool!.dropped).toMatchObject({ deleted: 100, total: 100 });
    expect(rig.processor.getStats().spooled).toBe(rig.processor.getStats().replayed + rig.processor.getStats().spool!.dropped.total);
  });

  it('the directory deleted with sealed segments in it: their records are counted too (estimated from their sizes)', async () => {
    rig = await makeRig({ spoolDir: dir, spoolMaxBytes: 1024 * 1024, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(600, 'sealed', { 'app.note': 'n'.repeat(400) });
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 600);
    expect(readdirSync(dir).filter((name) => name.endsWith('.seg')).length).toBeGreaterThan(1);
    rmSync(dir, { recursive: true, force: true });
    await rig.up();
    await driveUntil(rig.clock, () => rig!.processor.getStats().spool!.dropped.total > 0);
    const deleted = rig.processor.getStats().spool!.dropped.deleted;
    expect(deleted).toBeGreaterThan(570);
    expect(deleted).toBeLessThan(630);
    expect(rig.diag.at('warn').some((w) => w.includes('the spool directory was deleted with'))).toBe(true);
  });

  it('a file in the spool that cannot be read (a directory named like a segment) is skipped with one warning; the other segments are replayed at once', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(40);
    await closeRig(rig);
    mkdirSync(join(dir, '000000000000001-aaaaaaaa.seg'));
    rig = await makeRig({ spoolDir: dir });
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed === 40);
    expect(rig.clock.now() - Date.UTC(2026, 10, 29, 12, 0, 0)).toBeLessThan(30_000);
    expect(rig.diag.at('warn')).toEqual([expect.stringMatching(/cannot read 000000000000001-aaaaaaaa\..*\.claimed \(EISDIR.*skipping it, the other segments are replayed/)]);
  });

  it('a spool directory that cannot be used: one warning, and memory holding takes over as without a spool', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    rig = await makeRig({ spoolDir: join(dir, 'a-file', 'spool'), maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(60);
    await driveUntil(rig.clock, () => rig!.processor.getStats().outage);
    expect(rig.processor.getStats()).toMatchObject({ received: 60, queued: 60, spooled: 0, spool: { writable: false } });
    expect(rig.diag.at('warn').filter((w) => /spool|unreachable/.test(w))).toEqual([
      expect.stringMatching(/spool .*a-file\/spool is off: cannot create or list the directory/),
      expect.stringContaining('holding spans and retrying, up to maxQueueSize'),
    ]);
    await rig.up();
    await driveUntil(rig.clock, () => rig!.processor.getStats().queued === 0);
    expect(rig.processor.getStats()).toMatchObject({ exported: 60, spooled: 0, dropped: { total: 0 } });
    rig.check();
  });

  it('items SGP refuses on replay are dropped alone and counted in the spool; the others arrive', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(30);
    rig.end(1, 'poison');
    rig.end(30);
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 61);
    await rig.up();
    rig.server.rejectItems((item) => item.name.startsWith('poison'), 422, 'poison span');
    await driveUntil(rig.clock, () => rig!.processor.getStats().spool!.dropped.total === 1 && rig!.processor.getStats().replayed === 60);
    expect(rig.processor.getStats().spool!.dropped).toEqual({ total: 1, spoolFull: 0, corrupt: 0, deleted: 0, rejected: 1, exportFailed: 0 });
    expect(rig.server.items).toHaveLength(60);
    expect(rig.diag.at('warn').some((w) => w.includes('spool rejected'))).toBe(true);
  });

  it('a spooled item SGP refuses as too large (413) on replay is sent once more cut short and marked, as live ones are', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1, maxFieldBytes: 1024 * 1024 }, { maxBodyBytes: 64 * 1024 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(5, 'small');
    const [huge] = rig.end(1, 'huge', { 'sgp.input': 'x'.repeat(200 * 1024) });
    rig.end(5, 'small');
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 11);
    await rig.up();
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed === 11);
    expect(rig.processor.getStats().spool!.dropped.total).toBe(0);
    const item = rig.server.items.find((i) => i.id === huge)!;
    expect(Buffer.byteLength(item.input.value as string)).toBeLessThanOrEqual(2048);
    expect(item.metadata.sgp_otel).toEqual({ truncated: [{ path: 'input.value', original_bytes: 200 * 1024 }], truncated_after: 'HTTP 413' });
    expect(rig.server.items).toHaveLength(11);
  });

  it('a spooled item refused on replay is named in the drop warning', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(3);
    const [poison] = rig.end(1, 'poison');
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 4);
    await rig.up();
    rig.server.rejectItems((item) => item.name.startsWith('poison'), 422, 'poison span');
    await driveUntil(rig.clock, () => rig!.processor.getStats().spool!.dropped.total === 1 && rig!.processor.getStats().replayed === 3);
    expect(rig.diag.at('warn').filter((w) => w.includes('spool rejected'))).toEqual([expect.stringContaining(`"poison-3" (${poison})`)]);
  });

  it('shutdown keeps to its bound when the file system under the spool stops answering (a replay read that never returns)', async () => {
    // A FIFO named as a sealed segment: reading it blocks until something opens it for writing,
    // as a call on a hung mount would.
    execFileSync('mkfifo', [join(dir, `${String(Date.now()).padStart(15, '0')}-0badf1f0.seg`)]);
    rig = await makeRig({ spoolDir: dir, exportTimeoutMillis: 5000 });
    await eventually(() => readdirSync(dir).some((name) => name.endsWith('.claimed')));
    const claimed = join(dir, readdirSync(dir).find((name) => name.endsWith('.claimed'))!);
    try {
      const started = rig.clock.now();
      let settled = false;
      void rig.processor.shutdown().finally(() => (settled = true));
      // Not driveUntil: it lets time move only once no file system call is under way, and this one never ends.
      for (let step = 0; step < 200 && !settled; step += 1) {
        for (let turn = 0; turn < 5; turn += 1) await nextTurn();
        const due = rig.clock.nextDue();
        if (due !== undefined) rig.clock.advance(Math.max(0, due - rig.clock.now()));
      }
      expect(settled).toBe(true);
      expect(rig.clock.now() - started).toBeLessThanOrEqual(5000 + 1000);
    } finally {
      // Lets the blocked read end (at end of file).
      closeSync(openSync(claimed, 'w'));
    }
    await rig.close();
    rig = undefined;
  });

  it('replay isolates bad items as the same spans sent live would: every good batch-mate arrives, each bad one is named', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    // 200 spans, every 17th of them bad: 12 bad ones spread over the four batches of 50.
    for (let i = 0; i < 200; i += 1) rig.end(1, i % 17 === 5 ? 'bad' : 'good');
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 200);
    await rig.up();
    rig.server.rejectItems((item) => item.name.startsWith('bad'), 422, 'bad span');
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed + rig!.processor.getStats().spool!.dropped.total === 200);
    expect(rig.processor.getStats().spool!.dropped).toMatchObject({ total: 12, rejected: 12 });
    expect(rig.server.items).toHaveLength(188);
    expect(rig.server.items.every((item) => item.name.startsWith('good'))).toBe(true);
    // Reported at once for the first, the rest with their count once the interval has passed, each naming a span of its own.
    const counted = () =>
      rig!.diag.at('warn').reduce((sum, w) => sum + Number(/dropped (\d+) spans? \(spool rejected\)/.exec(w)?.[1] ?? 0), 0);
    rig.clock.advance(5000);
    await driveUntil(rig.clock, () => counted() === 12);
    const warnings = rig.diag.at('warn').filter((w) => w.includes('spool rejected'));
    expect(warnings[0]).toMatch(/dropped 1 span \(spool rejected\): SGP rejected span "bad-5"/);
    for (const warning of warnings) expect(warning).toMatch(/SGP rejected span "bad-\d+" \(\w+\): SGP answered HTTP 422/);
  });

  it('replay loses no more batch-mates than live sending when the split budget runs out (halving level by level, as live)', async () => {
    const options = { maxAttempts: 1, maxExportBatchSize: 500 };
    const names = Array.from({ length: 500 }, (_, i) => (i % 50 === 7 ? 'bad' : 'good'));
    // Live: the same 500 spans, the same server rule.
    const live = await makeRig(options);
    live.server.rejectItems((item) => item.name.startsWith('bad'), 422, 'bad span');
    for (const name of names) live.end(1, name);
    await live.settle();
    const liveDelivered = live.server.items.length;
    await closeRig(live);
    // Spooled during an outage, replayed once SGP is back.
    rig = await makeRig({ ...options, spoolDir: dir });
    await quiet(rig.clock);
    await rig.down();
    for (const name of names) rig.end(1, name);
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 500);
    await rig.up();
    rig.server.rejectItems((item) => item.name.startsWith('bad'), 422, 'bad span');
    await driveUntil(rig.clock, () => rig!.processor.getStats().replayed + rig!.processor.getStats().spool!.dropped.total === 500);
    expect(liveDelivered).toBeGreaterThan(0);
    expect(rig.server.items.length).toBeGreaterThanOrEqual(liveDelivered);
    expect(rig.processor.getStats().outage).toBe(false);
  });

  it('the outage ends when SGP answers a replay, even with an error that drops every item, and no live span follows', async () => {
    rig = await makeRig({ spoolDir: dir, maxAttempts: 1 });
    await quiet(rig.clock);
    await rig.down();
    rig.end(5);
    await driveUntil(rig.clock, () => rig!.processor.getStats().spooled === 5);
    await rig.up();
    rig.server.failNext(1e6, 500);
    await driveUntil(rig.clock, () => rig!.processor.getStats().spool!.dropped.total === 5);
    await quiet(rig.clock);
    expect(rig.processor.getStats()).toMatchObject({ outage: false, spool: { dropped: { exportFailed: 5 } } });
  });

  it('shutdown counts the spans a hung spool never took as dropped (shutdown), never leaving them queued', async () => {
    execFileSync('mkfifo', [join(dir, `${String(Date.now()).padStart(15, '0')}-0badf1f1.seg`)]);
    rig = await makeRig({ spoolDir: dir, exportTimeoutMillis: 2000, maxAttempts: 1 });
    await eventually(() => readdirSync(dir).some((name) => name.endsWith('.claimed')));
    const claimed = join(dir, readdirSync(dir).find((name) => name.endsWith('.claimed'))!);
    try {
      rig.server.setResponseDelay(600_000);
      rig.end(20);
      let settled = false;
      void rig.processor.shutdown().catch(() => undefined).finally(() => (settled = true));
      for (let step = 0; step < 200 && !settled; step += 1) {
        for (let turn = 0; turn < 5; turn += 1) await nextTurn();
        const due = rig.clock.nextDue();
        if (due !== undefined) rig.clock.advance(Math.max(0, due - rig.clock.now()));
      }
      expect(settled).toBe(true);
      const stats = rig.processor.getStats();
      expect(stats).toMatchObject({ received: 20, queued: 0, exported: 0 });
      balanced(stats);
      expect(stats.dropped.shutdown + stats.spooled).toBe(20);
    } finally {
      rig.server.setResponseDelay(0);
      closeSync(openSync(claimed, 'w'));
    }
    await rig.close();
    rig = undefined;
  });

  it('a custom exporter cannot spool: spoolDir is a configuration error', async () => {
    const { SGPSpanProcessor } = await import('../../src/pipeline/processor.js');
    const { InMemorySpanExporter } = await import('@opentelemetry/sdk-trace-base');
    expect(() => new SGPSpanProcessor({ exporter: new InMemorySpanExporter(), spoolDir: dir, env: {} })).toThrow(/spoolDir: it needs sgp-otel's own exporter/);
  });
});
