// The dev viewer in headless Chromium (Debian's chromium, driven by playwright-core): traces are
// sent to a real dev server, and the page must list them, open the newest by itself, follow new
// ones, keep a link per trace and say when old traces were forgotten.
// Run by .ci/run (npm run test:browser). Screenshots go to $SCREENSHOT_DIR (default /tmp):
// sgp-otel-viewer.png, sgp-otel-viewer-missing-output.png, sgp-otel-viewer-forgotten.png,
// sgp-otel-viewer-large-trace.png.
import { SpanStatusCode, context, trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { chromium } from 'playwright-core';
import { SGPSpanProcessor } from 'sgp-otel';
import { startDevServer } from 'sgp-otel/testing';

const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? '/tmp';
const WAIT = { timeout: 10_000 };
const results = [];
const check = (name, ok, detail = '') => {
  results.push(ok);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok ? '' : `: ${detail}`}`);
};

const server = await startDevServer({ port: 0, maxTraces: 3 });
const processor = new SGPSpanProcessor({ apiKey: 'dev', accountId: 'dev', baseUrl: server.url, env: {}, flushOnExit: false });
const provider = new BasicTracerProvider({ spanProcessors: [processor] });
const tracer = provider.getTracer('browser-test');
const hrTime = (ms) => [Math.floor(ms / 1000), (ms % 1000) * 1e6];

/** The agent turn of the demo, 600 ms long, one failed tool call; returns its trace id. */
async function sendAgentTurn(t0) {
  const at = (ms) => hrTime(t0 + ms);
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
  return turn.spanContext().traceId;
}

/** A root span with one child; returns its trace id. */
async function sendSmallTrace(name, t0) {
  const root = tracer.startSpan(name, { startTime: hrTime(t0) });
  tracer.startSpan('step', { startTime: hrTime(t0 + 10) }, trace.setSpan(context.active(), root)).end(hrTime(t0 + 40));
  root.end(hrTime(t0 + 50));
  await provider.forceFlush();
  return root.spanContext().traceId;
}

/** A trace of `count` spans, each the child of the one before, sent as SGP items; returns its trace id. */
async function sendChain(devServer, count) {
  const traceId = 'c0ffee'.padEnd(32, '0');
  const spanId = (i) => (i + 1).toString(16).padStart(16, '0');
  const t0 = Date.now() - count;
  const items = Array.from({ length: count }, (_, i) => ({
    name: `step ${i}`,
    id: spanId(i),
    trace_id: traceId,
    ...(i === 0 ? {} : { parent_id: spanId(i - 1) }),
    start_timestamp: new Date(t0 + i).toISOString(),
    end_timestamp: new Date(t0 + count + 1).toISOString(),
  }));
  for (let from = 0; from < count; from += 1000) {
    const response = await fetch(`${devServer.url}/v5/spans/batch`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-api-key': 'dev', 'x-selected-account-id': 'dev' },
      body: JSON.stringify({ items: items.slice(from, from + 1000) }),
    });
    if (!response.ok) throw new Error(`the dev server refused the chain: ${response.status} ${await response.text()}`);
  }
  return traceId;
}

const titleOf = (page) => page.getByTestId('trace-title').innerText();
const waitForTitle = (page, name) =>
  page.waitForFunction((expected) => document.querySelector('[data-testid="trace-title"]')?.firstChild?.textContent === expected, name, WAIT);
const hasNoScrollbar = (page) =>
  page.evaluate(() => document.documentElement.scrollHeight <= window.innerHeight && document.documentElement.scrollWidth <= window.innerWidth);

const t0 = Date.now() - 10_000;
const traceA = await sendAgentTurn(t0);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await page.goto(server.pageUrl);
  await page.getByTestId('span-row').nth(3).waitFor(WAIT);
  check('the newest trace opens without a click', (await titleOf(page)).startsWith('turn:1'), await titleOf(page));

  const item = page.getByTestId('trace').first();
  const listed = await item.innerText();
  check(
    'the list shows time, root span name, trace id prefix, span count, errors and duration',
    /\b\d{2}:\d{2}:\d{2}\b/.test(listed) && listed.includes('turn:1') && listed.includes(traceA.slice(0, 8)) &&
      listed.includes('4 spans') && listed.includes('1 error') && listed.includes('600 ms'),
    listed,
  );
  check('each trace links to itself', (await item.getAttribute('href')) === `#trace=${traceA}`, await item.getAttribute('href'));

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
  await page.getByTestId('span-input').waitFor(WAIT);
  const input = await page.getByTestId('span-input').innerText();
  const output = await page.getByTestId('span-output').innerText();
  check('clicking a span shows its input', input.includes('What is the weather in Paris?'), input);
  check('and its output', output.includes('"tool_call"') && output.includes('Paris weather'), output);
  check('no page scrollbar', await hasNoScrollbar(page));
  await page.screenshot({ path: `${SCREENSHOTS}/sgp-otel-viewer.png` });

  await page.getByTestId('span-row').nth(3).click();
  await page.waitForFunction(() => document.querySelector('#span h2')?.textContent?.startsWith('tool:search'), null, WAIT);
  const missing = page.getByTestId('span-output');
  const missingText = await missing.innerText();
  check('a missing output shows as missing, not {}', (await missing.getAttribute('class')) === 'missing' && missingText.startsWith('no output'), missingText);
  await page.screenshot({ path: `${SCREENSHOTS}/sgp-otel-viewer-missing-output.png` });

  const traceB = await sendSmallTrace('turn:2', t0 + 1000);
  await waitForTitle(page, 'turn:2');
  const firstListed = await page.getByTestId('trace-name').first().innerText();
  check('a new trace appears and opens without a click', firstListed === 'turn:2' && (await page.getByTestId('trace').count()) === 2, firstListed);

  const linked = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await linked.goto(`${server.pageUrl}#trace=${traceA}`);
  await waitForTitle(linked, 'turn:1');
  await sendSmallTrace('turn:3', t0 + 2000);
  await linked.waitForFunction(() => document.querySelectorAll('[data-testid="trace"]').length === 3, null, WAIT);
  check('a trace link keeps showing its trace when newer ones arrive', (await titleOf(linked)).startsWith('turn:1'), await titleOf(linked));

  await sendSmallTrace('turn:4', t0 + 3000);
  await linked.getByTestId('trace-missing').waitFor(WAIT);
  const notice = await linked.getByTestId('evicted').innerText();
  const kept = await linked.getByTestId('trace-name').allInnerTexts();
  check(
    'past the limit the oldest trace is forgotten, and the page says so',
    notice.includes('1 older trace forgotten') && notice.includes('latest 3 traces') && JSON.stringify(kept) === JSON.stringify(['turn:4', 'turn:3', 'turn:2']),
    `${notice} ${kept.join(',')}`,
  );
  check('no page scrollbar with the notice shown', await hasNoScrollbar(linked));
  await linked.screenshot({ path: `${SCREENSHOTS}/sgp-otel-viewer-forgotten.png` });

  await linked.goto(`${server.pageUrl}#trace=${traceB}`);
  await waitForTitle(linked, 'turn:2');
  const viaLocalhost = await linked.goto(server.pageUrl.replace('127.0.0.1', 'localhost'));
  check('the page answers on localhost too', viaLocalhost?.status() === 200, String(viaLocalhost?.status()));

  const big = await startDevServer({ port: 0 });
  try {
    const bigTrace = await sendChain(big, 20_000);
    const bigPage = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    await bigPage.goto(`${big.pageUrl}#trace=${bigTrace}`);
    await bigPage.getByText('18000 more spans not shown').waitFor(WAIT);
    const rows = await bigPage.getByTestId('span-row').count();
    const last = await bigPage.getByTestId('span-row').last().evaluate((row) => {
      const label = row.querySelector('.label').getBoundingClientRect();
      const name = row.querySelector('[data-testid="span-name"]').getBoundingClientRect();
      return { depth: row.dataset.depth, text: row.querySelector('.label').textContent, nameVisible: name.left < label.right - 40 };
    });
    check(
      'a 20k-span chain shows its first 2000 rows, the deepest with its name in view, and says how many more there are',
      rows === 2000 && last.depth === '1999' && last.text.startsWith('depth 1999 › step 1999') && last.nameVisible,
      `${rows} rows, last ${JSON.stringify(last)}`,
    );
    await bigPage.screenshot({ path: `${SCREENSHOTS}/sgp-otel-viewer-large-trace.png` });
  } finally {
    await big.close();
  }
} finally {
  await browser.close();
  await provider.shutdown();
  await server.close();
}
const failed = results.filter((ok) => !ok).length;
console.log(`browser: ${results.length - failed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
