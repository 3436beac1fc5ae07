// npm run soak [-- --spans 1000000 --seed 42]
// npm run soak -- --outage-minutes=10 [--rate=50]
//
// Pushes spans through SGPSpanProcessor to the local SGP-compatible server while injecting random
// faults (503/429 bursts, outages of 503s, dropped connections, poison spans refused with 422).
// Prints delivered / dropped by reason and the heap after GC at several points: the heap must not
// grow with the number of spans processed, and delivered + dropped must equal produced.
//
// With --outage-minutes, instead: a producer at a steady rate (spans per second) with a spool
// directory runs through an outage that long, on a clock 50x faster than real time, then SGP comes
// back. Memory must stay within maxQueueSize and the spool within spoolMaxBytes, and every span
// produced must be delivered (live or replayed from the spool).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { SGPSpanProcessor } from 'sgp-otel';
import { systemClock } from '../dist/esm/clock.js';
import { startSGPTestServer } from 'sgp-otel/testing';

// --name value and --name=value
const args = {};
process.argv.slice(2).forEach((arg, i, all) => {
  if (!arg.startsWith('--')) return;
  const [name, value] = arg.slice(2).split(/=(.*)/s);
  args[name] = value ?? all[i + 1];
});
const TOTAL = Number(args.spans ?? 1_000_000);
const SEED = Number(args.seed ?? 42);
const SPEEDUP = 50; // backoff waits and outage pauses run 50x faster than real time

if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc (npm run soak does)');
if (args['outage-minutes'] !== undefined) {
  await outageSoak(Number(args['outage-minutes']), Number(args.rate ?? 50));
  process.exit(process.exitCode ?? 0);
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = mulberry32(SEED);

// The system clock, with every wait SPEEDUP times shorter.
const fastClock = {
  now: () => systemClock.now(),
  sleep: (ms, signal) => systemClock.sleep(ms / SPEEDUP, signal),
  schedule: (callback, ms) => systemClock.schedule(callback, ms / SPEEDUP),
  yield: () => systemClock.yield(),
  keepAlive: () => systemClock.keepAlive(),
  random,
};

const server = await startSGPTestServer({ retain: false });
server.rejectItems((item) => item.name === 'poison', 422, 'poison span');
const processor = new SGPSpanProcessor({
  apiKey: 'soak-key',
  accountId: 'soak-account',
  baseUrl: server.url,
  clock: fastClock,
  flushOnExit: false,
  env: {},
});
const provider = new BasicTracerProvider({ spanProcessors: [processor] });
const tracer = provider.getTracer('soak');

const faults = { bursts: 0, outages: 0, resets: 0, poison: 0 };
function maybeInjectFault() {
  const roll = random();
  if (roll < 0.03) {
    server.failNext(1 + Math.floor(random() * 3), random() < 0.5 ? 503 : 429);
    faults.bursts += 1;
  } else if (roll < 0.036) {
    server.failNext(12, 503); // long enough to outlast one export round: an outage
    faults.outages += 1;
  } else if (roll < 0.056) {
    server.dropNextConnections(1);
    faults.resets += 1;
  }
}

const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
function heapAfterGc() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
}
const samples = [];
const sampleAt = new Set([50_000, Math.floor(TOTAL / 4), Math.floor(TOTAL / 2), Math.floor((3 * TOTAL) / 4)]);
const waitTurn = () => new Promise((resolve) => setImmediate(resolve));

const started = Date.now();
samples.push(['start', heapAfterGc()]);
for (let produced = 0; produced < TOTAL; ) {
  const chunk = Math.min(500, TOTAL - produced);
  for (let i = 0; i < chunk; i += 1) {
    const poison = random() < 0.0005;
    if (poison) faults.poison += 1;
    const span = tracer.startSpan(poison ? 'poison' : 'llm:step', {
      attributes: { 'sgp.input': '{"messages":[{"role":"user","content":"hello"}]}', 'gen_ai.usage.input_tokens': 12 },
    });
    span.end();
  }
  produced += chunk;
  maybeInjectFault();
  // A well-behaved producer: let the exporter catch up instead of overflowing the queue.
  while (processor.getStats().queued > 3500) await new Promise((resolve) => setTimeout(resolve, 1));
  await waitTurn();
  for (const mark of sampleAt) {
    if (produced >= mark && produced - chunk < mark) samples.push([`after ${mark.toLocaleString('en-US')}`, heapAfterGc()]);
  }
}
await processor.forceFlush().catch(() => undefined);
await processor.shutdown().catch(() => undefined);
samples.push([`after ${TOTAL.toLocaleString('en-US')} (shut down)`, heapAfterGc()]);
const seconds = (Date.now() - started) / 1000;

const stats = processor.getStats();
const d = stats.dropped;
const rows = [
  ['produced', TOTAL],
  ['delivered (exported)', stats.exported],
  ['dropped: rejected (poison)', d.rejected],
  ['dropped: export failed', d.exportFailed],
  ['dropped: queue full', d.queueFull],
  ['dropped: unmappable', d.unmappable],
  ['dropped: shutdown', d.shutdown],
  ['still queued', stats.queued],
  ['items the server accepted', server.counts.itemsAccepted],
  ['requests (incl. retries, splits)', stats.exportRequests],
  ['retries', stats.retries],
];
console.log(`sgp-otel soak: ${TOTAL.toLocaleString('en-US')} spans, seed ${SEED}, ${seconds.toFixed(1)} s, node ${process.version}`);
console.log(`faults injected: ${faults.bursts} 503/429 bursts, ${faults.outages} outages, ${faults.resets} connection resets, ${faults.poison} poison spans\n`);
for (const [label, value] of rows) console.log(`${label.padEnd(34)} ${String(value).padStart(10)}`);
console.log('\nheap used after GC:');
for (const [label, bytes] of samples) console.log(`  ${label.padEnd(32)} ${mb(bytes).padStart(10)}`);

const balanced = stats.exported + d.total === TOTAL && stats.queued === 0;
const steady = samples.filter(([label]) => label !== 'start' && label !== 'after 50,000').map(([, bytes]) => bytes);
const growth = Math.max(...steady) - Math.min(...steady);
const flat = growth < 8 * 1024 * 1024;
console.log(`\ndelivered + dropped = produced: ${balanced ? 'yes' : 'NO'} (${stats.exported} + ${d.total} = ${stats.exported + d.total})`);
console.log(`heap flat from 1/4 of the run to the end: ${flat ? 'yes' : 'NO'} (spread ${mb(growth)})`);
await server.close();
process.exitCode = balanced && flat ? 0 : 1;

/**
 * A steady producer through an outage of `minutes` (virtual), with a spool. Time runs SPEEDUP
 * times faster than real time, for every reader of the clock (now() included, so pauses add up).
 */
async function outageSoak(minutes, rate) {
  const started = Date.now();
  const clock = {
    now: () => started + (Date.now() - started) * SPEEDUP,
    sleep: (ms, signal) => systemClock.sleep(ms / SPEEDUP, signal),
    schedule: (callback, ms) => systemClock.schedule(callback, ms / SPEEDUP),
    yield: () => systemClock.yield(),
    keepAlive: () => systemClock.keepAlive(),
    random: () => 0.5,
  };
  const virtualSecond = 1000 / SPEEDUP;
  const realSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const spoolDir = mkdtempSync(join(tmpdir(), 'sgp-soak-spool-'));
  const maxQueueSize = 4000;
  const spoolMaxBytes = 256 * 1024 * 1024;

  let server = await startSGPTestServer();
  const port = Number(new URL(server.url).port);
  const processor = new SGPSpanProcessor({
    apiKey: 'soak-key',
    accountId: 'soak-account',
    baseUrl: server.url,
    clock,
    flushOnExit: false,
    env: {},
    maxQueueSize,
    spoolDir,
    spoolMaxBytes,
  });
  const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('soak-outage');
  let produced = 0;
  const peaks = { heap: 0, rss: 0, queued: 0, spoolBytes: 0 };
  const samples = [];
  const sample = (label) => {
    global.gc();
    const { heapUsed, rss } = process.memoryUsage();
    const stats = processor.getStats();
    peaks.heap = Math.max(peaks.heap, heapUsed);
    peaks.rss = Math.max(peaks.rss, rss);
    samples.push({ label, heapUsed, rss, queued: stats.queued, spooled: stats.spooled, spoolBytes: stats.spool.bytes });
  };
  const produceFor = async (virtualSeconds, label) => {
    for (let second = 1; second <= virtualSeconds; second += 1) {
      for (let i = 0; i < rate; i += 1) {
        tracer.startSpan('llm:step', { attributes: { 'sgp.input': '{"messages":[{"role":"user","content":"hello"}]}', 'gen_ai.usage.input_tokens': 12 } }).end();
      }
      produced += rate;
      const stats = processor.getStats();
      peaks.queued = Math.max(peaks.queued, stats.queued);
      peaks.spoolBytes = Math.max(peaks.spoolBytes, stats.spool.bytes);
      if (second % 60 === 0) sample(`${label} ${second / 60} min`);
      await realSleep(virtualSecond);
    }
  };

  sample('start');
  await produceFor(60, 'before the outage,');
  // What the server took before it went away counts as delivered too.
  const earlier = new Set(server.items.map((item) => item.id));
  const earlierReceived = server.counts.itemsAccepted;
  await server.close();
  await produceFor(minutes * 60, 'outage,');
  const duringOutage = processor.getStats();
  server = await startSGPTestServer({ port });
  await produceFor(60, 'after the outage,');
  // Drain: the spool replays while the producer has stopped.
  const giveUpAt = Date.now() + 10 * 60_000;
  const delivered = () => new Set([...earlier, ...server.items.map((item) => item.id)]).size;
  const drained = () => {
    const stats = processor.getStats();
    return delivered() >= produced && stats.replayed >= stats.spooled && stats.spool.segments === 0;
  };
  while (!drained() && Date.now() < giveUpAt) {
    peaks.spoolBytes = Math.max(peaks.spoolBytes, processor.getStats().spool.bytes);
    await realSleep(50);
  }
  await processor.shutdown().catch((error) => console.log(`shutdown: ${error.message}`));
  sample('end');
  const stats = processor.getStats();
  const seconds = (Date.now() - started) / 1000;
  const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

  console.log(`sgp-otel outage soak: ${rate} spans/s, ${minutes} min outage (on a ${SPEEDUP}x clock), ${seconds.toFixed(1)} s, node ${process.version}\n`);
  const rows = [
    ['produced', produced],
    ['spooled', stats.spooled],
    ['replayed', stats.replayed],
    ['exported live', stats.exported],
    ['delivered (distinct on the server)', delivered()],
    ['items received by the server', earlierReceived + server.counts.itemsAccepted],
    ['dropped (live)', stats.dropped.total],
    ['dropped from the spool', stats.spool.dropped.total],
    ['queued during the outage (max)', peaks.queued],
    ['spool bytes at the end of the outage', duringOutage.spool.bytes],
  ];
  for (const [label, value] of rows) console.log(`${label.padEnd(38)} ${String(value).padStart(10)}`);
  console.log('\nby virtual minute:');
  for (const s of samples) {
    console.log(`  ${s.label.padEnd(28)} heap ${mb(s.heapUsed).padStart(9)}  rss ${mb(s.rss).padStart(9)}  queued ${String(s.queued).padStart(5)}  spool ${mb(s.spoolBytes).padStart(9)}`);
  }
  const outageSamples = samples.filter((s) => s.label.startsWith('outage,'));
  const outagePeak = (key) => Math.max(...outageSamples.map((s) => s[key]));
  console.log(`\nduring the outage: peak heap after GC ${mb(outagePeak('heapUsed'))}, peak rss ${mb(outagePeak('rss'))}`);
  console.log(`whole run: peak heap after GC ${mb(peaks.heap)}, peak rss ${mb(peaks.rss)} (the test server in this process keeps every item it stored)`);
  console.log(`peak spool ${mb(peaks.spoolBytes)} of ${mb(spoolMaxBytes)}`);

  const heaps = outageSamples.slice(1).map((s) => s.heapUsed);
  const spread = heaps.length > 1 ? Math.max(...heaps) - Math.min(...heaps) : 0;
  const checks = [
    ['every span delivered', delivered() === produced && stats.dropped.total === 0 && stats.spool.dropped.total === 0],
    ['books balance (received = exported + dropped + queued + spooled)', stats.received === stats.exported + stats.dropped.total + stats.queued + stats.spooled],
    [`memory within maxQueueSize (${maxQueueSize} queued at most)`, peaks.queued <= maxQueueSize],
    ['heap flat through the outage (spread < 16 MB)', spread < 16 * 1024 * 1024],
    [`spool within spoolMaxBytes`, peaks.spoolBytes <= spoolMaxBytes],
    ['spool empty at the end', stats.spool.segments === 0],
  ];
  for (const [label, ok] of checks) console.log(`${label}: ${ok ? 'yes' : 'NO'}`);
  console.log(`(heap spread during the outage: ${mb(spread)})`);
  await server.close();
  rmSync(spoolDir, { recursive: true, force: true });
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
}
