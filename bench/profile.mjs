// node --expose-gc bench/profile.mjs [--contender=sgp-otel|stock] [--spans=N] [--kind=small|llm10k|llm100k] [--top=N]
// node bench/profile.mjs --read=some.cpuprofile [--top=N]
//
// Drains N spans through one contender to the benchmark sinks (bench/sinks.mjs, another process)
// with the V8 sampling profiler on for the drain only (not the warm-up, not the setup), writes the
// .cpuprofile next to this file (bench/profiles/, not committed) and prints the frames with the most
// self time. `--read=` prints the same summary for any .cpuprofile, e.g. one from `node --cpu-prof`.
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { SGPSpanProcessor } from 'sgp-otel';

const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const TOP = Number(arg('top', '25'));

/** Self time per frame (function, file, line), summed over every node of the profile's call tree. */
function topFrames(profile, top) {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map();
  const deltas = profile.timeDeltas;
  // Each sample is charged the time until the next one.
  for (let i = 0; i < profile.samples.length; i += 1) {
    const interval = deltas[i + 1] ?? 0;
    selfMicros.set(profile.samples[i], (selfMicros.get(profile.samples[i]) ?? 0) + interval);
  }
  const frames = new Map();
  let total = 0;
  let idle = 0;
  for (const [id, micros] of selfMicros) {
    const { callFrame } = byNode.get(id);
    total += micros;
    if (callFrame.functionName === '(idle)') {
      idle += micros;
      continue;
    }
    const file = callFrame.url ? shortUrl(callFrame.url) : '';
    const key = `${callFrame.functionName || '(anonymous)'} ${file}${file ? `:${callFrame.lineNumber + 1}` : ''}`;
    frames.set(key, (frames.get(key) ?? 0) + micros);
  }
  const busy = total - idle;
  const rows = [...frames].sort((a, b) => b[1] - a[1]).slice(0, top);
  return { total, idle, busy, rows, inclusive: inclusiveFrames(profile, selfMicros, byNode) };
}

/** Time spent in each of our own functions and everything it called (counted once per stack, however deep it recurses). */
function inclusiveFrames(profile, selfMicros, byNode) {
  const totals = new Map();
  const root = profile.nodes[0];
  const visit = (node, open) => {
    const { callFrame } = node;
    const ours = callFrame.url.includes('/dist/esm/');
    const key = ours ? `${callFrame.functionName || '(anonymous)'} ${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}` : undefined;
    const entered = key !== undefined && !open.has(key);
    if (entered) open.add(key);
    let sum = selfMicros.get(node.id) ?? 0;
    for (const child of node.children ?? []) sum += visit(byNode.get(child), open);
    if (entered) {
      open.delete(key);
      totals.set(key, (totals.get(key) ?? 0) + sum);
    }
    return sum;
  };
  visit(root, new Set());
  return [...totals].sort((a, b) => b[1] - a[1]);
}

function shortUrl(url) {
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nodeModules = path.lastIndexOf('node_modules/');
  if (nodeModules >= 0) return path.slice(nodeModules + 'node_modules/'.length);
  const dist = path.indexOf('/dist/esm/');
  if (dist >= 0) return `sgp-otel/${path.slice(dist + '/dist/esm/'.length)}`;
  return path.replace(/^.*\/bench\//, 'bench/');
}

function printSummary(title, profile) {
  const { total, idle, busy, rows, inclusive } = topFrames(profile, TOP);
  console.log(`${title}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy, ${(idle / 1000).toFixed(0)} ms idle`);
  console.log('| self ms | % of busy | frame |');
  console.log('|---:|---:|---|');
  for (const [key, micros] of rows) {
    console.log(`| ${(micros / 1000).toFixed(1)} | ${((100 * micros) / busy).toFixed(1)} | \`${key}\` |`);
  }
  console.log('\nsgp-otel functions by inclusive time:');
  console.log('| total ms | % of busy | function |');
  console.log('|---:|---:|---|');
  for (const [key, micros] of inclusive.slice(0, 15)) {
    console.log(`| ${(micros / 1000).toFixed(1)} | ${((100 * micros) / busy).toFixed(1)} | \`${key}\` |`);
  }
}

const readPath = arg('read', undefined);
if (readPath !== undefined) {
  printSummary(readPath, JSON.parse(readFileSync(readPath, 'utf8')));
  process.exit(0);
}

const CONTENDER = arg('contender', 'sgp-otel');
const SPANS = Number(arg('spans', '50000'));
const KIND = arg('kind', 'small');

function llmAttributes(bytes) {
  const text = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(bytes / 27)).slice(0, bytes);
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 300,
    'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: text }] }]),
    'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'text', content: 'Sure.' }] }]),
  };
}
const ATTRIBUTES = {
  small: { 'http.route': '/chat', 'app.user_tier': 'pro', 'gen_ai.request.model': 'gpt-4o' },
  llm10k: llmAttributes(10 * 1024),
  llm100k: llmAttributes(100 * 1024),
}[KIND];
if (ATTRIBUTES === undefined) throw new Error(`unknown --kind=${KIND}`);

const sinks = fork(new URL('./sinks.mjs', import.meta.url), { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const ready = await new Promise((resolve) => sinks.once('message', resolve));

function makeContender() {
  if (CONTENDER === 'sgp-otel') {
    const processor = new SGPSpanProcessor({ apiKey: 'k', accountId: 'a', baseUrl: ready.sgpUrl, env: {}, flushOnExit: false });
    return { processor, delivered: () => processor.getStats().exported };
  }
  let delivered = 0;
  const inner = new OTLPTraceExporter({ url: ready.otlpUrl });
  const exporter = {
    export: (spans, done) =>
      inner.export(spans, (result) => {
        if (result.code === 0) delivered += spans.length;
        done(result);
      }),
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush(),
  };
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize: 4000, maxExportBatchSize: 50, scheduledDelayMillis: 4000 });
  return { processor, delivered: () => delivered };
}

/** The throughput benchmark's loop: produce in chunks, never more than `window` spans undelivered. */
async function drain(count, window = 1000) {
  const contender = makeContender();
  const tracer = new BasicTracerProvider({ spanProcessors: [contender.processor] }).getTracer('bench');
  const chunkSize = KIND === 'small' ? 500 : 5;
  // As in run.mjs: 100 KB spans are produced 5 at a time, at most 300 undelivered.
  const limit = KIND === 'llm100k' ? 300 : window;
  for (let produced = 0; produced < count; ) {
    const chunk = Math.min(chunkSize, count - produced);
    for (let i = 0; i < chunk; i += 1) tracer.startSpan('llm:step', { attributes: ATTRIBUTES }).end();
    produced += chunk;
    while (produced - contender.delivered() > limit) await new Promise((resolve) => setTimeout(resolve, 1));
    await new Promise((resolve) => setImmediate(resolve));
  }
  await contender.processor.forceFlush();
  await contender.processor.shutdown();
  return contender.delivered();
}

await drain(Math.min(SPANS, 5000));
global.gc?.();
const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });
await session.post('Profiler.start');
const started = performance.now();
const delivered = await drain(SPANS);
const seconds = (performance.now() - started) / 1000;
const { profile } = await session.post('Profiler.stop');
session.disconnect();
sinks.send({ cmd: 'exit', id: 0 });

const dir = new URL('./profiles/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`${CONTENDER}-${KIND}.cpuprofile`, dir);
writeFileSync(file, JSON.stringify(profile));
printSummary(
  `${CONTENDER}, ${delivered} of ${SPANS} ${KIND} spans delivered in ${seconds.toFixed(2)} s (${Math.round(delivered / seconds)} spans/s), node ${process.version}; ${fileURLToPath(file)}`,
  profile,
);
process.exit(0);
