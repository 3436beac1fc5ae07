// npm run soak [-- --spans 1000000 --seed 42]
//
// Pushes spans through SGPSpanProcessor to the local SGP-compatible server while injecting random
// faults (503/429 bursts, outages of 503s, dropped connections, poison spans refused with 422).
// Prints delivered / dropped by reason and the heap after GC at several points: the heap must not
// grow with the number of spans processed, and delivered + dropped must equal produced.
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { SGPSpanProcessor } from 'sgp-otel';
import { systemClock } from '../dist/esm/clock.js';
import { startSGPTestServer } from 'sgp-otel/testing';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith('--') ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const TOTAL = Number(args.spans ?? 1_000_000);
const SEED = Number(args.seed ?? 42);
const SPEEDUP = 50; // backoff waits and outage pauses run 50x faster than real time

if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc (npm run soak does)');

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
