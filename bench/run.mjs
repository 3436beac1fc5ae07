// npm run bench [-- --quick]
//
// Runs every contender in this one process on the same generated spans and prints one table
// (also written to bench/results.md). The receiving servers run in a child process (sinks.mjs).
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SGPSpanProcessor, toSGPSpanItem } from 'sgp-otel';
import { Agent, request } from 'undici';

const QUICK = process.argv.includes('--quick');
/** `--only=hot|throughput|eventloop|growth|memory` runs one section and prints no table (for iterating). */
const ONLY = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const section = (name) => ONLY === undefined || ONLY === name;
const RUNS = QUICK ? 3 : 9;
const HOT_SPANS = 3000;
const THROUGHPUT_RUNS = QUICK ? 1 : 3;
const LATENCY_MS = 50;
const HEADERS = { 'content-type': 'application/json', 'x-api-key': 'bench-key', 'x-selected-account-id': 'bench' };

if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc (npm run bench does)');

// ---------------------------------------------------------------------------------------------
// The receiving end, in its own process.
const sinks = fork(new URL('./sinks.mjs', import.meta.url), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const ready = await new Promise((resolve) => sinks.once('message', resolve));
let lastId = 0;
function ask(cmd, extra = {}) {
  lastId += 1;
  const id = lastId;
  return new Promise((resolve) => {
    const onMessage = (message) => {
      if (message.id !== id) return;
      sinks.off('message', onMessage);
      resolve(message);
    };
    sinks.on('message', onMessage);
    sinks.send({ cmd, id, ...extra });
  });
}
const setLatency = (ms) => ask('delay', { ms });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------
// Spans: small ones, and LLM spans carrying `bytes` of prompt text.
const SMALL = { 'http.route': '/chat', 'app.user_tier': 'pro', 'gen_ai.request.model': 'gpt-4o' };
function llmAttributes(bytes, salt = '') {
  const text = `${salt}${'lorem ipsum dolor sit amet '.repeat(Math.ceil(bytes / 27))}`.slice(0, bytes);
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 300,
    // A flat copy, so every span owns its text as a real instrumentation's would.
    'gen_ai.input.messages': Buffer.from(JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: text }] }])).toString(),
    'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'Sure.' }] }]),
  };
}
const LLM_10K = llmAttributes(10 * 1024);
const LLM_100K = llmAttributes(100 * 1024);

// ---------------------------------------------------------------------------------------------
// Contenders. Each makes { processor, delivered(), close() }.
const CONTENDERS = {
  'sgp-otel': (options = {}) => {
    const processor = new SGPSpanProcessor({
      apiKey: 'bench-key',
      accountId: 'bench',
      baseUrl: ready.sgpUrl,
      env: {},
      flushOnExit: false,
      ...options,
    });
    return { processor, delivered: () => processor.getStats().exported, close: () => processor.shutdown().catch(() => {}) };
  },
  'stock OTel': (options = {}) => {
    let delivered = 0;
    const inner = new OTLPTraceExporter({ url: ready.otlpUrl });
    const exporter = {
      export(spans, done) {
        inner.export(spans, (result) => {
          if (result.code === 0) delivered += spans.length;
          done(result);
        });
      },
      shutdown: () => inner.shutdown(),
      forceFlush: () => inner.forceFlush(),
    };
    const processor = new BatchSpanProcessor(exporter, {
      maxQueueSize: options.maxQueueSize ?? 4000,
      maxExportBatchSize: 50,
      scheduledDelayMillis: 4000,
      exportTimeoutMillis: options.exportTimeoutMillis ?? 30000,
    });
    return { processor, delivered: () => delivered, close: () => processor.shutdown().catch(() => {}) };
  },
  'naive per-span PUT': () => {
    const agent = new Agent({ keepAliveTimeout: 15_000 });
    let chain = Promise.resolve();
    let delivered = 0;
    const put = async (item) => {
      const response = await request(`${ready.sgpUrl}/v5/spans/batch`, {
        method: 'PUT',
        headers: HEADERS,
        body: JSON.stringify({ items: [item] }),
        dispatcher: agent,
      });
      await response.body.dump();
      if (response.statusCode === 200) delivered += 1;
    };
    const processor = {
      onStart() {},
      onEnd(span) {
        const item = toSGPSpanItem(span);
        chain = chain.then(() => put(item)).catch(() => {});
      },
      forceFlush: () => chain,
      shutdown: async () => {
        await chain;
        await agent.close();
      },
    };
    return { processor, delivered: () => delivered, close: () => processor.shutdown() };
  },
};

// ---------------------------------------------------------------------------------------------
function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
}

/** Nanoseconds of span.end() per span, spans started beforehand. */
async function hotPath(make, attributes, count, options) {
  const contender = make?.(options);
  const provider = new BasicTracerProvider({ spanProcessors: contender ? [contender.processor] : [] });
  const tracer = provider.getTracer('bench');
  const spans = Array.from({ length: count }, () => tracer.startSpan('llm:step', { attributes }));
  const started = process.hrtime.bigint();
  for (const span of spans) span.end();
  const nanos = Number(process.hrtime.bigint() - started) / count;
  await setLatency(0);
  await contender?.processor.forceFlush().catch(() => {});
  await contender?.close();
  return nanos;
}

/**
 * Spans per second delivered end to end: `count` spans produced in chunks, each contender paced
 * by its own delivered count (never more than `window` in its queue, so none is dropped).
 */
async function throughput(make, count, attributes, options = {}, window = 1000) {
  await ask('reset');
  const contender = make(options);
  const provider = new BasicTracerProvider({ spanProcessors: [contender.processor] });
  const tracer = provider.getTracer('bench');
  const started = performance.now();
  for (let produced = 0; produced < count; ) {
    const chunk = Math.min(500, count - produced);
    for (let i = 0; i < chunk; i += 1) tracer.startSpan('llm:step', { attributes }).end();
    produced += chunk;
    while (produced - contender.delivered() > window) await sleep(1);
    await nextTurn();
  }
  // The stock processor's flush hands every queued batch to its exporter at once, which can hit the
  // OTLP exporter's limit of concurrent exports: that is counted as spans not delivered, not a crash.
  await contender.processor.forceFlush().catch((error) => log(`   (flush failed: ${error?.message ?? error})`));
  const seconds = (performance.now() - started) / 1000;
  const counts = await ask('counts');
  const delivered = contender.delivered();
  await contender.close();
  return { rate: delivered / seconds, delivered, seconds, counts };
}

/** The floor: the same items, already mapped, JSON.stringify'd and PUT in batches of 50 over raw undici. */
async function floor(count, attributes, concurrency) {
  await ask('reset');
  const spans = [];
  const provider = new BasicTracerProvider({
    spanProcessors: [{ onStart() {}, onEnd: (span) => spans.push(span), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  const tracer = provider.getTracer('bench');
  for (let i = 0; i < count; i += 1) tracer.startSpan('llm:step', { attributes }).end();
  const items = spans.map((span) => toSGPSpanItem(span));
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 15_000 });
  const started = performance.now();
  let next = 0;
  let delivered = 0;
  const worker = async () => {
    while (next < items.length) {
      const batch = items.slice(next, next + 50);
      next += 50;
      const response = await request(`${ready.sgpUrl}/v5/spans/batch`, {
        method: 'PUT',
        headers: HEADERS,
        body: JSON.stringify({ items: batch }),
        dispatcher: agent,
      });
      await response.body.dump();
      if (response.statusCode === 200) delivered += batch.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  await agent.close();
  const counts = await ask('counts');
  return { rate: delivered / seconds, delivered, seconds, counts };
}

/** Event-loop delay (ms) while `count` spans with `attributes` are produced and exported. */
async function eventLoopDelay(make, count, attributes) {
  await ask('reset');
  const contender = make();
  const provider = new BasicTracerProvider({ spanProcessors: [contender.processor] });
  const tracer = provider.getTracer('bench');
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  for (let produced = 0; produced < count; ) {
    for (let i = 0; i < 5; i += 1) tracer.startSpan('llm:step', { attributes }).end();
    produced += 5;
    while (produced - contender.delivered() > 300) await sleep(1);
    await nextTurn();
  }
  await contender.processor.forceFlush().catch((error) => log(`   (flush failed: ${error?.message ?? error})`));
  histogram.disable();
  await contender.close();
  return { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 };
}

/** Heap and RSS growth (MB) with a full queue of 4000 LLM spans (the server holds every request). */
async function fullQueueMemory(make) {
  await setLatency(600_000);
  global.gc();
  global.gc();
  const before = process.memoryUsage();
  const contender = make({ exportTimeoutMillis: 600_000 });
  const provider = new BasicTracerProvider({ spanProcessors: [contender.processor] });
  const tracer = provider.getTracer('bench');
  for (let i = 0; i < 4400; i += 1) {
    tracer.startSpan('llm:step', { attributes: llmAttributes(10 * 1024, String(i)) }).end();
    if (i % 100 === 0) await nextTurn();
  }
  await sleep(200);
  global.gc();
  global.gc();
  const after = process.memoryUsage();
  return { heap: (after.heapUsed - before.heapUsed) / 1048576, rss: (after.rss - before.rss) / 1048576, contender };
}

// ---------------------------------------------------------------------------------------------
const rows = [];
const log = (line) => console.log(line);
const fmt = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const range = (s, digits = 0) => `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
const names = ['sgp-otel', 'stock OTel', 'naive per-span PUT'];

log(`sgp-otel benchmark${QUICK ? ' (quick)' : ''}: node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${fmt(os.totalmem() / 2 ** 30)} GiB`);

process.on('unhandledRejection', (error) => log(`   (unhandled rejection: ${error?.message ?? error})`));

// 1. Hot path.
log(`\n1. hot path: ns per span.end() (median (min–max) of ${RUNS} runs, ${HOT_SPANS} spans each)`);
const hot = {};
for (const [kind, attributes] of section('hot') ? [['small span', SMALL], ['LLM span, 10 KB prompt', LLM_10K]] : []) {
  for (const name of [undefined, ...names]) {
    for (let warm = 0; warm < 3; warm += 1) await hotPath(name && CONTENDERS[name], attributes, HOT_SPANS);
    const samples = [];
    for (let run = 0; run < RUNS; run += 1) samples.push(await hotPath(name && CONTENDERS[name], attributes, HOT_SPANS));
    hot[`${kind}/${name ?? 'no processor'}`] = stats(samples);
    log(`   ${kind.padEnd(24)} ${(name ?? 'no processor').padEnd(20)} ${range(stats(samples))}`);
  }
}

// 2. Throughput, instant server and 50 ms latency; the floor with the instant server.
log('\n2. throughput: spans/s delivered end to end (median (min–max))');
const tput = {};
async function measureThroughput(label, run) {
  const results = [];
  for (let i = 0; i < THROUGHPUT_RUNS; i += 1) results.push(await run());
  tput[label] = { ...stats(results.map((r) => r.rate)), last: results[results.length - 1] };
  const last = tput[label].last;
  log(`   ${label.padEnd(44)} ${range(tput[label])}  [${fmt(last.delivered)} spans, ${fmt(last.seconds, 1)} s]`);
}
const N_INSTANT = QUICK ? 20_000 : 100_000;
const N_LATENCY = QUICK ? 4000 : 10_000;
const sweep = {};
if (section('throughput')) {
await setLatency(0);
await measureThroughput('producer only (no processor, for scale)', async () => {
  const tracer = new BasicTracerProvider().getTracer('bench');
  const started = performance.now();
  for (let i = 0; i < N_INSTANT; i += 1) tracer.startSpan('llm:step', { attributes: SMALL }).end();
  const seconds = (performance.now() - started) / 1000;
  return { rate: N_INSTANT / seconds, delivered: N_INSTANT, seconds, counts: {} };
});
await measureThroughput('instant / sgp-otel', () => throughput(CONTENDERS['sgp-otel'], N_INSTANT, SMALL));
await measureThroughput('instant / stock OTel', () => throughput(CONTENDERS['stock OTel'], N_INSTANT, SMALL));
await measureThroughput('instant / naive per-span PUT', () => throughput(CONTENDERS['naive per-span PUT'], N_INSTANT / 10, SMALL));
await measureThroughput('instant / floor (raw undici, 4 connections)', () => floor(N_INSTANT, SMALL, 4));
await setLatency(LATENCY_MS);
await measureThroughput(`${LATENCY_MS} ms / sgp-otel`, () => throughput(CONTENDERS['sgp-otel'], N_LATENCY, SMALL));
await measureThroughput(`${LATENCY_MS} ms / stock OTel`, () => throughput(CONTENDERS['stock OTel'], N_LATENCY, SMALL));
await measureThroughput(`${LATENCY_MS} ms / naive per-span PUT`, () => throughput(CONTENDERS['naive per-span PUT'], 100, SMALL, {}, 100));

log(`\n   maxConcurrentExports sweep at ${LATENCY_MS} ms latency (sgp-otel, ${fmt(N_LATENCY)} spans):`);
for (const slots of [1, 2, 4, 8]) {
  const result = await throughput(CONTENDERS['sgp-otel'], N_LATENCY, SMALL, { maxConcurrentExports: slots });
  sweep[slots] = result;
  log(`   ${String(slots).padStart(2)} slot(s): ${fmt(result.rate)} spans/s, ${result.counts.sgp.connections} connection(s)`);
}
await setLatency(0);
}

// 3. Event-loop delay with 100 KB payloads.
log('\n3. event-loop delay while exporting LLM spans with 100 KB payloads (ms)');
const loop = {};
for (const name of section('eventloop') ? names : []) {
  const count = name === 'naive per-span PUT' ? 200 : 600;
  loop[name] = await eventLoopDelay(CONTENDERS[name], count, LLM_100K);
  log(`   ${name.padEnd(20)} p99 ${fmt(loop[name].p99, 1)}  max ${fmt(loop[name].max, 1)}`);
}

// 6. Growth: hot path and throughput at 1k, 10k, 100k spans.
log('\n6. growth: hot path (ns/span) and throughput (spans/s) by run size');
const growth = {};
for (const size of !section('growth') ? [] : QUICK ? [1000, 10_000] : [1000, 10_000, 100_000]) {
  for (const name of ['sgp-otel', 'stock OTel']) {
    const hotNs = await hotPath(CONTENDERS[name], SMALL, size, { maxQueueSize: size + 1 });
    const rate = (await throughput(CONTENDERS[name], size, SMALL)).rate;
    growth[`${name}/${size}`] = { hotNs, rate };
    log(`   ${name.padEnd(12)} ${fmt(size).padStart(7)} spans: ${fmt(hotNs)} ns/span, ${fmt(rate)} spans/s`);
  }
}

// 4. Memory with a full queue (last: it leaves requests hanging on purpose).
log('\n4. memory with a full queue of 4000 LLM spans (10 KB each)');
const memory = {};
for (const name of section('memory') ? ['sgp-otel', 'stock OTel'] : []) {
  const result = await fullQueueMemory(CONTENDERS[name]);
  memory[name] = result;
  log(`   ${name.padEnd(12)} heap +${fmt(result.heap, 1)} MB, rss +${fmt(result.rss, 1)} MB`);
}

if (ONLY !== undefined) {
  sinks.send({ cmd: 'exit', id: 0 });
  process.exit(0);
}

// 5. Requests and connections per 10,000 spans (from the instant throughput runs).
const perTenK = (label, n, which) => {
  const counts = tput[label].last.counts[which];
  return { requests: (counts.requests * 10_000) / n, connections: counts.connections };
};
const wire = {
  'sgp-otel': perTenK('instant / sgp-otel', N_INSTANT, 'sgp'),
  'stock OTel': perTenK('instant / stock OTel', N_INSTANT, 'otlp'),
  'naive per-span PUT': perTenK('instant / naive per-span PUT', N_INSTANT / 10, 'sgp'),
};

// ---------------------------------------------------------------------------------------------
const ratio = (a, b) => `${fmt(a / b, 2)}x`;
const h = (kind, name) => hot[`${kind}/${name}`].median;
const t = (label) => tput[label].median;
const table = [
  '| measure | sgp-otel | stock OTel | naive per-span PUT | floor | target | met |',
  '|---|---|---|---|---|---|---|',
  ...['small span', 'LLM span, 10 KB prompt'].map((kind) => {
    const ours = h(kind, 'sgp-otel') - h(kind, 'no processor');
    const stock = h(kind, 'stock OTel') - h(kind, 'no processor');
    return `| hot path, ${kind}: ns per span.end() (no processor: ${fmt(h(kind, 'no processor'))}) | ${range(hot[`${kind}/sgp-otel`])} | ${range(hot[`${kind}/stock OTel`])} | ${range(hot[`${kind}/naive per-span PUT`])} | | processor's own cost <= 1.1x stock's | ${ratio(ours, stock)} ${ours <= 1.1 * stock ? 'yes' : 'NO'} |`;
  }),
  `| throughput, instant server: spans/s | ${range(tput['instant / sgp-otel'])} | ${range(tput['instant / stock OTel'])} | ${range(tput['instant / naive per-span PUT'])} | ${range(tput['instant / floor (raw undici, 4 connections)'])} | within 1.5x of the floor | floor/sgp-otel ${ratio(t('instant / floor (raw undici, 4 connections)'), t('instant / sgp-otel'))} ${t('instant / floor (raw undici, 4 connections)') <= 1.5 * t('instant / sgp-otel') ? 'yes' : 'NO'} |`,
  `| throughput, ${LATENCY_MS} ms latency: spans/s | ${range(tput[`${LATENCY_MS} ms / sgp-otel`])} | ${range(tput[`${LATENCY_MS} ms / stock OTel`])} | ${range(tput[`${LATENCY_MS} ms / naive per-span PUT`])} | | >= 2x stock | ${ratio(t(`${LATENCY_MS} ms / sgp-otel`), t(`${LATENCY_MS} ms / stock OTel`))} ${t(`${LATENCY_MS} ms / sgp-otel`) >= 2 * t(`${LATENCY_MS} ms / stock OTel`) ? 'yes' : 'NO'} |`,
  `| event-loop delay, 100 KB payloads: p99 / max ms | ${fmt(loop['sgp-otel'].p99, 1)} / ${fmt(loop['sgp-otel'].max, 1)} | ${fmt(loop['stock OTel'].p99, 1)} / ${fmt(loop['stock OTel'].max, 1)} | ${fmt(loop['naive per-span PUT'].p99, 1)} / ${fmt(loop['naive per-span PUT'].max, 1)} | | p99 < 10 ms | ${loop['sgp-otel'].p99 < 10 ? 'yes' : 'NO'} |`,
  `| full queue of 4000 LLM spans: heap / rss growth MB | ${fmt(memory['sgp-otel'].heap, 1)} / ${fmt(memory['sgp-otel'].rss, 1)} | ${fmt(memory['stock OTel'].heap, 1)} / ${fmt(memory['stock OTel'].rss, 1)} | | | | |`,
  `| per 10,000 spans: HTTP requests / TCP connections | ${fmt(wire['sgp-otel'].requests)} / ${wire['sgp-otel'].connections} | ${fmt(wire['stock OTel'].requests)} / ${wire['stock OTel'].connections} | ${fmt(wire['naive per-span PUT'].requests)} / ${wire['naive per-span PUT'].connections} | | one connection per export slot (4) | ${wire['sgp-otel'].connections <= 4 ? 'yes' : 'NO'} |`,
  ...Object.keys(growth)
    .filter((key) => key.startsWith('sgp-otel/'))
    .map((key) => {
      const size = key.split('/')[1];
      const ours = growth[key];
      const stock = growth[`stock OTel/${size}`];
      return `| growth at ${fmt(Number(size))} spans: ns/span, spans/s | ${fmt(ours.hotNs)}, ${fmt(ours.rate)} | ${fmt(stock.hotNs)}, ${fmt(stock.rate)} | | | flat | |`;
    }),
  `| ${LATENCY_MS} ms latency by maxConcurrentExports (1/2/4/8): spans/s | ${[1, 2, 4, 8].map((s) => fmt(sweep[s].rate)).join(' / ')} | | | | | |`,
];
const header = [
  '# sgp-otel benchmark results',
  '',
  `Command: \`npm run bench\`${QUICK ? ' (--quick)' : ''}. Machine: ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${fmt(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
  `Hot path: ${RUNS} runs of ${HOT_SPANS} spans; throughput: ${THROUGHPUT_RUNS} run(s), ${fmt(N_INSTANT)} spans instant (naive: ${fmt(N_INSTANT / 10)}), ${fmt(N_LATENCY)} spans at ${LATENCY_MS} ms (naive: 100).`,
  'Stock OTel = BatchSpanProcessor (queue 4000, batch 50, delay 4 s) + OTLP/HTTP JSON exporter. The servers run in a child process.',
  "Hot-path target compares each processor's own cost (its ns minus the no-processor ns).",
  '',
];
const markdown = [...header, ...table, ''].join('\n');
console.log(`\n${markdown}`);
writeFileSync(new URL('./results.md', import.meta.url), markdown);
sinks.send({ cmd: 'exit', id: 0 });
setTimeout(() => process.exit(0), 500).unref();
process.exit(0);
