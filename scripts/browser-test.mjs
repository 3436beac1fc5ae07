// The dev viewer in headless Chromium (Debian's chromium, driven by playwright-core): a demo
// trace is sent to the dev server, then the page must list it and show it as a waterfall.
// Run by .ci/run (npm run test:browser). Writes a screenshot to $SCREENSHOT or /tmp/sgp-otel-viewer.png.
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { chromium } from 'playwright-core';
import { SGPSpanProcessor } from 'sgp-otel';
import { startDevServer } from 'sgp-otel/testing';

const results = [];
const check = (name, ok, detail = '') => {
  results.push(ok);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `: ${detail}`}`);
};

const server = await startDevServer({ port: 0 });
const processor = new SGPSpanProcessor({ apiKey: 'dev', accountId: 'dev', baseUrl: server.url, env: {}, flushOnExit: false });
const provider = new BasicTracerProvider({ spanProcessors: [processor] });
const tracer = provider.getTracer('browser-test');
const t0 = Date.now() - 1000;
const at = (ms) => [Math.floor((t0 + ms) / 1000), ((t0 + ms) % 1000) * 1e6];
const turn = tracer.startSpan('turn:1', { startTime: at(0), attributes: { 'sgp.span_type': 'AGENT_WORKFLOW' } });
const inTurn = trace.setSpan(context.active(), turn);
const llm = tracer.startSpan('llm:gpt-4o-mini', {
  startTime: at(5),
  attributes: {
    'gen_ai.operation.name': 'chat',
    'gen_ai.input.messages': JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'What is the weather in Paris?' }] }]),
    'gen_ai.output.messages': JSON.stringify([{ role: 'assistant', parts: [{ type: 'tool_call', name: 'search', arguments: { query: 'Paris weather' } }] }]),
  },
}, inTurn);
llm.end(at(300));
const failing = tracer.startSpan('tool:calendar', { startTime: at(310), attributes: { 'sgp.span_type': 'CODE_EXECUTION' } }, inTurn);
failing.setStatus({ code: SpanStatusCode.ERROR, message: 'calendar timed out' });
failing.end(at(360));
tracer.startSpan('tool:search', { startTime: at(370), attributes: { 'sgp.span_type': 'CODE_EXECUTION' } }, inTurn).end(at(520));
turn.end(at(600));
await provider.forceFlush();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await page.goto(server.pageUrl);
  const item = page.getByTestId('trace').first();
  await item.waitFor({ timeout: 10_000 });
  const listed = await item.innerText();
  check('the trace list shows the demo trace', listed.includes('turn:1') && listed.includes('4 spans') && listed.includes('1 error'), listed);

  await item.click();
  await page.getByTestId('span-row').nth(3).waitFor({ timeout: 10_000 });
  const names = await page.getByTestId('span-name').allInnerTexts();
  check('the waterfall lists the spans in tree order', JSON.stringify(names.map((n) => n.trim())) === JSON.stringify(['turn:1', 'llm:gpt-4o-mini', 'tool:calendar', 'tool:search']), names.join(','));
  const types = await page.getByTestId('span-type').allInnerTexts();
  check('each span shows its SGP type', JSON.stringify(types) === JSON.stringify(['AGENT_WORKFLOW', 'COMPLETION', 'CODE_EXECUTION', 'CODE_EXECUTION']), types.join(','));
  const errors = await page.locator('[data-testid="span-row"].error [data-testid="span-name"]').allInnerTexts();
  check('the failed span is marked as an error', errors.length === 1 && errors[0].trim() === 'tool:calendar', errors.join(','));
  const bars = await page.getByTestId('span-bar').evaluateAll((nodes) => nodes.map((n) => [parseFloat(n.style.left), parseFloat(n.style.width)]));
  check(
    'timing bars start in order and the root spans the trace',
    bars[0][0] === 0 && bars[0][1] > 99 && bars[1][0] < bars[2][0] && bars[2][0] < bars[3][0],
    JSON.stringify(bars),
  );

  await page.getByTestId('span-row').nth(1).click();
  await page.getByTestId('span-input').waitFor({ timeout: 10_000 });
  const input = await page.getByTestId('span-input').innerText();
  const output = await page.getByTestId('span-output').innerText();
  check('clicking a span shows its input', input.includes('What is the weather in Paris?'), input);
  check('and its output', output.includes('"tool_call"') && output.includes('Paris weather'), output);
  await page.screenshot({ path: process.env.SCREENSHOT ?? '/tmp/sgp-otel-viewer.png', fullPage: true });
} finally {
  await browser.close();
  await provider.shutdown();
  await server.close();
}
const failed = results.filter((ok) => !ok).length;
console.log(`browser: ${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
