// node --expose-gc bench/full-queue-memory.mjs <contender> <sgpUrl> <otlpUrl>
//
// One measurement in a fresh process, so that no earlier run's garbage or warm caches count: heap
// and RSS growth (MB) with a full queue of 4000 LLM spans of 10 KB each, while the sink holds every
// request unanswered. Prints one JSON line and exits (the held requests die with the process).
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { llmAttributes, makeContenders } from './contenders.mjs';

const [name, sgpUrl, otlpUrl] = process.argv.slice(2);
const make = makeContenders({ sgpUrl, otlpUrl })[name];
if (make === undefined) throw new Error(`unknown contender ${name}`);
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

global.gc();
global.gc();
const before = process.memoryUsage();
const contender = make({ exportTimeoutMillis: 600_000 });
const tracer = new BasicTracerProvider({ spanProcessors: [contender.processor] }).getTracer('bench');
for (let i = 0; i < 4400; i += 1) {
  tracer.startSpan('llm:step', { attributes: llmAttributes(10 * 1024, String(i)) }).end();
  if (i % 100 === 0) await nextTurn();
}
await new Promise((resolve) => setTimeout(resolve, 300));
global.gc();
global.gc();
const after = process.memoryUsage();
const mb = (bytes) => bytes / 1048576;
process.stdout.write(
  `${JSON.stringify({ heap: mb(after.heapUsed - before.heapUsed), rss: mb(after.rss - before.rss), external: mb(after.external - before.external) })}\n`,
);
process.exit(0);
