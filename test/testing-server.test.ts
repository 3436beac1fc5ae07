import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { formatTraceTree } from '../src/testing/tree.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { ACCOUNT_ID, API_KEY, credentials, providerWith } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID, maxBodyBytes: 1024 * 1024 });
});
afterEach(() => server.reset());
afterAll(() => server.close());

const T = '2026-11-29T12:00:00.000000Z';
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const OTHER_TRACE = '0af7651916cd43dd8448eb211c80319c';
/** A 16-hex span id, as OpenTelemetry makes them: `span(1)` is `0000000000000001`. */
const span = (n: number) => n.toString(16).padStart(16, '0');
const item = (overrides: Record<string, unknown> = {}) => ({
  name: 'span',
  id: span(0xa1),
  trace_id: TRACE,
  start_timestamp: T,
  end_timestamp: '2026-11-29T12:00:01.500000Z',
  ...overrides,
});

async function put(items: unknown[], headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}/v5/spans/batch`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'x-selected-account-id': ACCOUNT_ID, ...headers },
    body: JSON.stringify({ items }),
  });
  return { status: response.status, body: await response.json() };
}

/** PUTs `body` exactly as given (a string or raw bytes), for bodies JSON.stringify cannot make. */
async function putRaw(body: string | Uint8Array): Promise<{ status: number; body: any }> {
  const response = await fetch(`${server.url}/v5/spans/batch`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'x-api-key': API_KEY, 'x-selected-account-id': ACCOUNT_ID },
    body,
  });
  return { status: response.status, body: await response.json() };
}

/** A batch of one valid item and one whose `metadata` nests `depth` objects around `inner` (JSON text). */
function deepBatch(depth: number, inner: string): string {
  const head = JSON.stringify(item({ id: span(1) }));
  const deep = JSON.stringify(item({ id: span(2), metadata: {} })).replace('"metadata":{}', `"metadata":${'{"a":'.repeat(depth)}${inner}${'}'.repeat(depth)}`);
  return `{"items":[${head},${deep}]}`;
}

describe('startSGPTestServer', () => {
  it('stores valid items and answers like SGP', async () => {
    const { status, body } = await put([item()]);
    expect(status).toBe(200);
    expect(body).toEqual({ items: [item()], object: 'list' });
    expect(server.items).toEqual([item()]);
  });

  it.each([
    [{ 'x-api-key': 'other' }, 401],
    [{ 'x-api-key': '' }, 401],
    [{ 'x-selected-account-id': 'someone-else' }, 403],
  ])('refuses bad credentials %j with %i', async (headers, status) => {
    expect((await put([item()], headers)).status).toBe(status);
    expect(server.items).toEqual([]);
  });

  it.each([
    ['an end before the start', item({ end_timestamp: '2026-11-29T11:59:59.999999Z' }), 422],
    ['a missing name', item({ name: undefined }), 422],
    ['an unknown span type', item({ type: 'LLM' }), 422],
    ['an unknown status', item({ status: 'OK' }), 422],
    ['an array as input', item({ input: [1] }), 422],
    ['a timestamp that is not ISO 8601', item({ start_timestamp: 'yesterday' }), 422],
    ['an id over 256 bytes', item({ id: 'x'.repeat(257) }), 422],
    ['a NUL byte in an id', item({ id: 'a\u0000b' }), 400],
    ['an unknown field', item({ colour: 'red' }), 422],
  ])('rejects the whole batch for %s', async (_what, bad, status) => {
    const response = await put([item({ id: span(1) }), bad]);
    expect(response.status).toBe(status);
    expect(typeof response.body.detail).toBe('string');
    expect(server.items).toEqual([]);
  });

  it.each([
    ['an empty trace_id', { trace_id: '' }, 'items[1].trace_id: must not be empty'],
    ['an empty id', { id: '' }, 'items[1].id: must not be empty'],
    ['an empty parent_id', { parent_id: '' }, 'items[1].parent_id: must not be empty'],
    ['an empty group_id', { group_id: '' }, 'items[1].group_id: must not be empty'],
    ['a trace_id that is not hex', { trace_id: 'trace-1' }, 'items[1].trace_id: expected a hex id or a UUID'],
    ['an id that is not hex', { id: 'span-0001' }, 'items[1].id: expected a hex id or a UUID'],
    ['a parent_id that is not hex', { parent_id: '00f067aa0ba902bz' }, 'items[1].parent_id: expected a hex id or a UUID'],
    ['a UUID grouped wrongly', { id: '3f0c7d2a4b1e-4c8d-9a6f-0b2e5d7c1a93' }, 'items[1].id: expected a hex id or a UUID'],
    ['a UUID in braces', { trace_id: '{3f0c7d2a-4b1e-4c8d-9a6f-0b2e5d7c1a93}' }, 'items[1].trace_id: expected a hex id or a UUID'],
    ['an id with spaces around it', { id: ` ${span(7)} ` }, 'items[1].id: expected a hex id or a UUID'],
    ['a group_id over 256 bytes', { group_id: 'g'.repeat(257) }, 'items[1].group_id: longer than 256 bytes'],
  ])('rejects %s with 422 naming the field', async (_what, overrides, detail) => {
    const response = await put([item({ id: span(1) }), item({ id: span(2), ...overrides })]);
    expect(response).toEqual({ status: 422, body: { detail } });
    expect(server.items).toEqual([]);
  });

  it.each([
    ['a NUL byte', 'a\u0000b'],
    ['a lone surrogate', `${span(5)}\ud800`],
  ])('answers 400 for %s in an id before checking its format', async (_what, bad) => {
    for (const field of ['trace_id', 'id', 'parent_id', 'group_id']) {
      const response = await put([item({ id: span(1) }), item({ id: span(2), [field]: bad })]);
      expect(response).toEqual({ status: 400, body: { detail: `items[1].${field}: NUL byte or invalid UTF-8` } });
    }
    expect(server.items).toEqual([]);
  });

  it('accepts OpenTelemetry hex ids, UUIDs in either case, and a free-form group_id', async () => {
    const items = [
      item({ id: span(1) }),
      item({ trace_id: '3f0c7d2a-4b1e-4c8d-9a6f-0b2e5d7c1a93', id: 'c2d5e8f1-7a3b-4e6c-8d9f-1a2b3c4d5e6f' }),
      item({ trace_id: '3f0c7d2a-4b1e-4c8d-9a6f-0b2e5d7c1a93', id: 'C2D5E8F1-7A3B-4E6C-8D9F-1A2B3C4D5E70', parent_id: 'c2d5e8f1-7a3b-4e6c-8d9f-1a2b3c4d5e6f' }),
      item({ trace_id: '3F0C7D2A4B1E4C8D9A6F0B2E5D7C1A94', id: span(2), group_id: 'conversation-7' }),
      item({ id: span(3), parent_id: span(1), group_id: 'session: 2026/11/29 #4' }),
    ];
    const response = await put(items);
    expect(response.status).toBe(200);
    expect(server.items).toHaveLength(items.length);
  });

  it.each([
    ['February 30', '2026-02-30T00:00:00Z'],
    ['February 29 outside a leap year', '2026-02-29T00:00:00Z'],
    ['February 29 in 2100', '2100-02-29T00:00:00Z'],
    ['April 31', '2026-04-31T00:00:00Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['month 0', '2026-00-10T00:00:00Z'],
    ['day 0', '2026-11-00T00:00:00Z'],
    ['year 0', '0000-01-01T00:00:00Z'],
    ['hour 24', '2026-11-29T24:00:00Z'],
    ['minute 60', '2026-11-29T12:60:00Z'],
    ['second 60', '2026-11-29T12:00:60Z'],
    ['an offset of 24 hours', '2026-11-29T12:00:00+24:00'],
    ['an offset with 60 minutes', '2026-11-29T12:00:00+01:60'],
  ])('rejects %s as a timestamp with 422', async (_what, bad) => {
    for (const field of ['start_timestamp', 'end_timestamp'] as const) {
      const overrides = field === 'start_timestamp' ? { start_timestamp: bad, end_timestamp: undefined } : { end_timestamp: bad };
      const response = await put([item({ id: span(1) }), item({ id: span(2), ...overrides })]);
      expect(response).toEqual({ status: 422, body: { detail: `items[1].${field}: not an ISO 8601 timestamp` } });
    }
    expect(server.items).toEqual([]);
  });

  it('accepts real calendar dates with Z or an offset, and compares them in UTC', async () => {
    const items = [
      item({ id: span(1), start_timestamp: '2024-02-29T23:59:59.999999Z', end_timestamp: '2024-03-01T00:00:00Z' }),
      item({ id: span(2), start_timestamp: '2000-02-29T00:00:00+00:00', end_timestamp: undefined }),
      // 12:30 at +01:30 is 11:00 UTC, after 10:59:59.5 UTC.
      item({ id: span(3), start_timestamp: '2026-11-29T10:59:59.5Z', end_timestamp: '2026-11-29T12:30:00+01:30' }),
      item({ id: span(4), start_timestamp: '2026-12-31T23:00:00-01:00', end_timestamp: '2027-01-01T00:00:00.000000001Z' }),
    ];
    expect((await put(items)).status).toBe(200);
    expect(server.items).toHaveLength(items.length);
    const early = item({ id: span(5), start_timestamp: '2026-11-29T11:00:00Z', end_timestamp: '2026-11-29T12:29:59+01:30' });
    expect(await put([early])).toEqual({ status: 422, body: { detail: 'items[0].end_timestamp: before start_timestamp' } });
  });

  it.each([
    ['a NUL in the name', { name: 'chat\u0000' }, 'items[1].name: NUL byte or invalid UTF-8'],
    ['a lone surrogate in the name', { name: 'chat \ud83d' }, 'items[1].name: NUL byte or invalid UTF-8'],
    ['a NUL in application_variant_id', { application_variant_id: 'v\u0000' }, 'items[1].application_variant_id: NUL byte or invalid UTF-8'],
    [
      'a NUL deep in input',
      { input: { messages: [{ role: 'user', content: 'hi' }, { role: 'user', content: 'there\u0000' }] } },
      'items[1].input.messages[1].content: NUL byte or invalid UTF-8',
    ],
    ['a lone low surrogate in output', { output: { text: '\udc00abc' } }, 'items[1].output.text: NUL byte or invalid UTF-8'],
    ['a lone high surrogate in a nested array', { metadata: { a: { b: ['ok', ['x\ud800']] } } }, 'items[1].metadata.a.b[1][0]: NUL byte or invalid UTF-8'],
    ['a NUL in a key of output', { output: { 'a\u0000b': 1 } }, 'items[1].output["a\\u0000b"]: NUL byte or invalid UTF-8 in the key'],
    ['a lone surrogate in a nested key', { metadata: { tags: [{ '\ud800': true }] } }, 'items[1].metadata.tags[0]["\\ud800"]: NUL byte or invalid UTF-8 in the key'],
    ['a NUL in an unknown top-level key', { 'col\u0000our': 'red' }, 'items[1]["col\\u0000our"]: NUL byte or invalid UTF-8 in the key'],
  ])('answers 400 for %s, naming where', async (_what, overrides, detail) => {
    const response = await put([item({ id: span(1) }), item({ id: span(2), ...overrides })]);
    expect(response).toEqual({ status: 400, body: { detail } });
    expect(server.items).toEqual([]);
  });

  it('accepts any well-formed text: surrogate pairs, non-Latin scripts, escapes', async () => {
    const text = 'naïve 日本語 🤖 \t\n "quoted" \\ \u2028';
    const valid = item({ name: text, input: { [text]: [text, { k: text }] }, output: { text }, metadata: { 'key 🔑': text } });
    expect((await put([valid])).status).toBe(200);
    expect(server.items).toEqual([valid]);
  });

  it('answers 400 for bytes that are not UTF-8', async () => {
    const head = Buffer.from(JSON.stringify({ items: [item({ id: span(1) }), item({ id: span(2), name: 'PLACEHOLDER' })] }));
    const at = head.indexOf('PLACEHOLDER');
    const body = Buffer.concat([head.subarray(0, at), Buffer.from([0x63, 0xff, 0xfe, 0x68]), head.subarray(at + 'PLACEHOLDER'.length)]);
    expect(await putRaw(body)).toEqual({ status: 400, body: { detail: 'Body is not valid UTF-8' } });
    expect(server.items).toEqual([]);
  });

  it('walks a body nested 100,000 levels deep without overflowing the stack', async () => {
    const depth = 100_000;
    const bad = await putRaw(deepBatch(depth, '"x\\u0000"'));
    expect(bad.status).toBe(400);
    // The path (metadata, then `depth` times a) keeps its first and last 8 steps.
    expect(bad.body.detail).toBe(`items[1].metadata${'.a'.repeat(7)}…(${depth + 1 - 16} more)…${'.a'.repeat(8)}: NUL byte or invalid UTF-8`);
    // Valid text but too deep to echo back (or to show in the dev viewer): refused, nothing kept.
    expect(await putRaw(deepBatch(depth, '"x"'))).toEqual({ status: 400, body: { detail: 'There was an error parsing the body' } });
    expect(server.items).toEqual([]);
    const deepId = JSON.stringify({ items: [item({ id: 'ID' })] }).replace('"ID"', `${'['.repeat(depth)}${']'.repeat(depth)}`);
    expect(await putRaw(deepId)).toEqual({ status: 422, body: { detail: 'items[0].id: expected a string' } });
    // The server is still up, and ordinary nesting is fine.
    expect((await putRaw(deepBatch(200, '"x"'))).status).toBe(200);
    expect(server.items).toHaveLength(2);
  });

  it('takes 1000 items in one request and rejects 1001 with 422, storing none of them', async () => {
    const items = Array.from({ length: 1001 }, (_, i) => item({ id: span(i + 1) }));
    expect(await put(items)).toEqual({ status: 422, body: { detail: 'items: at most 1000 per request, got 1001' } });
    expect(server.items).toEqual([]);
    expect((await put(items.slice(0, 1000))).status).toBe(200);
    expect(server.items).toHaveLength(1000);
  });

  it('accepts what our exporter sends: start records, final records and spans left open at shutdown', async () => {
    const processor = new SGPSpanProcessor({ ...credentials(server.url), exportOnStart: true });
    const provider = providerWith(processor);
    const tracer = provider.getTracer('testing-server-test');
    const root = tracer.startSpan('turn:1', {
      attributes: { 'sgp.group_id': 'conversation-7', 'gen_ai.input.messages': JSON.stringify([{ role: 'user', content: 'naïve 日本語 🤖' }]) },
    });
    const inRoot = trace.setSpan(ROOT_CONTEXT, root);
    const llm = tracer.startSpan('llm:gpt-4o', { attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 12 } }, inRoot);
    const tool = tracer.startSpan('tool:search', { attributes: { tags: ['a', 'b'] } }, inRoot);
    const open = tracer.startSpan('still running', {}, inRoot);
    await provider.forceFlush(); // the four start records go out while their spans are open
    llm.addEvent('gen_ai.choice', { 'gen_ai.choice.text': 'Hello' });
    llm.end();
    tool.recordException(new Error('timeout'));
    tool.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
    tool.end();
    root.end();
    await provider.shutdown();

    expect(server.requests.length).toBeGreaterThan(0);
    expect(server.requests.filter((request) => request.status !== 200)).toEqual([]);
    const sent = server.requests.flatMap((request) => JSON.parse(request.body).items as { id: string; end_timestamp?: string }[]);
    // Every span went out first as a start record without end_timestamp.
    const spans = [root, llm, tool, open];
    for (const s of spans) {
      expect(sent.find((record) => record.id === s.spanContext().spanId && record.end_timestamp === undefined)).toBeDefined();
    }
    const stored = new Map(server.items.map((stored) => [stored.id, stored]));
    expect(stored.size).toBe(spans.length);
    expect(stored.get(open.spanContext().spanId)!.end_timestamp).toBeUndefined();
    for (const s of [root, llm, tool]) expect(stored.get(s.spanContext().spanId)!.end_timestamp).toBeDefined();
    expect(stored.get(root.spanContext().spanId)!.group_id).toBe('conversation-7');
    expect(stored.get(tool.spanContext().spanId)!.status).toBe('ERROR');
  });

  it('answers 409 for a parent cycle or a parent in another trace', async () => {
    expect(await put([item({ id: span(0xa), parent_id: span(0xb) }), item({ id: span(0xb), parent_id: span(0xa) })])).toEqual({
      status: 409,
      body: { detail: `items[0].parent_id: parent cycle ${span(0xa)} -> ${span(0xb)} -> ${span(0xa)}` },
    });
    expect(await put([item({ id: span(0xa), parent_id: span(0xa) })])).toEqual({
      status: 409,
      body: { detail: `items[0].parent_id: parent cycle ${span(0xa)} -> ${span(0xa)}` },
    });
    expect(await put([item({ id: span(0xf), trace_id: TRACE }), item({ id: span(0xc), trace_id: OTHER_TRACE, parent_id: span(0xf) })])).toEqual({
      status: 409,
      body: { detail: `items[1].parent_id: parent ${span(0xf)} belongs to another trace` },
    });
    expect(server.items).toEqual([]);
  });

  it('answers 409 for a parent cycle closed across requests, storing nothing from that batch', async () => {
    const a = span(0xa);
    const b = span(0xb);
    expect((await put([item({ id: a, parent_id: b })])).status).toBe(200);
    const closing = await put([item({ id: span(1) }), item({ id: b, parent_id: a })]);
    expect(closing).toEqual({ status: 409, body: { detail: `items[1].parent_id: parent cycle ${b} -> ${a} -> ${b}` } });
    expect(server.items.map((stored) => stored.id)).toEqual([a]);

    // Three requests: c -> d, then d -> e, then e -> c.
    const [c, d, e] = [span(0xc), span(0xd), span(0xe)];
    expect((await put([item({ id: c, parent_id: d })])).status).toBe(200);
    expect((await put([item({ id: d, parent_id: e })])).status).toBe(200);
    expect(await put([item({ id: e, parent_id: c })])).toEqual({
      status: 409,
      body: { detail: `items[0].parent_id: parent cycle ${e} -> ${c} -> ${d} -> ${e}` },
    });
    expect(server.items.map((stored) => stored.id)).toEqual([a, c, d]);
  });

  it('is no cycle to upsert a span with the same parent, or to move a link that would close one', async () => {
    const [root, child] = [span(1), span(2)];
    expect((await put([item({ id: child, parent_id: root, end_timestamp: undefined })])).status).toBe(200);
    expect((await put([item({ id: root })])).status).toBe(200);
    expect((await put([item({ id: child, parent_id: root })])).status).toBe(200);
    expect((await put([item({ id: child, parent_id: root })])).status).toBe(200);
    // root -> child alone would close a cycle with the stored child -> root; re-parenting the child
    // to nothing in the same batch does not.
    expect((await put([item({ id: root, parent_id: child })])).status).toBe(409);
    expect((await put([item({ id: root, parent_id: child }), item({ id: child })])).status).toBe(200);
    // Once the child has no parent, the old link is forgotten too.
    expect((await put([item({ id: root, parent_id: child })])).status).toBe(200);
  });

  it('answers 413 for a body over its limit', async () => {
    expect((await put([item({ input: { text: 'x'.repeat(1100 * 1024) } })])).status).toBe(413);
  });

  it('upserts by (trace_id, id), keeping a completed record over a later in-progress one', async () => {
    await put([item({ end_timestamp: undefined, output: { partial: true } })]);
    await put([item({ output: { final: true } })]);
    await put([item({ end_timestamp: undefined, output: { stale: true } })]);
    expect(server.items).toHaveLength(1);
    expect(server.items[0]!.output).toEqual({ final: true });
  });

  it('fails, delays and drops on request, then behaves again', async () => {
    server.failNext(1, 503, { retryAfter: '2' });
    const failed = await fetch(`${server.url}/v5/spans/batch`, { method: 'PUT', body: '{}' });
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('2');
    server.dropNextConnections(1);
    await expect(put([item()])).rejects.toThrow();
    expect((await put([item()])).status).toBe(200);
    expect(server.requests.map((r) => r.status)).toEqual([503, 'dropped', 200]);
  });

  it('an outage of any length costs one entry: failNext(1e9) then reset() behaves again', async () => {
    server.failNext(1e9, 503);
    server.failNext(2, 500);
    expect((await put([item()])).status).toBe(503);
    expect((await put([item()])).status).toBe(503);
    server.reset();
    expect((await put([item()])).status).toBe(200);
  });

  it('never records the API key', async () => {
    await put([item()]);
    expect(JSON.stringify(server.requests)).not.toContain(API_KEY);
  });

  it('renders received spans as a trace tree', async () => {
    await put([
      item({ id: span(1), name: 'agent.turn', type: 'AGENT_WORKFLOW' }),
      item({ id: span(2), parent_id: span(1), name: 'llm:gpt-4o', type: 'COMPLETION', start_timestamp: '2026-11-29T12:00:00.100000Z', end_timestamp: '2026-11-29T12:00:00.900000Z' }),
      item({ id: span(3), parent_id: span(1), name: 'tool:search', type: 'STANDALONE', status: 'ERROR', metadata: { error_message: 'timeout' }, start_timestamp: '2026-11-29T12:00:01.000000Z', end_timestamp: '2026-11-29T12:00:01.200000Z' }),
    ]);
    expect(formatTraceTree(server.items)).toBe(
      [
        `trace ${TRACE}`,
        '└─ agent.turn  AGENT_WORKFLOW  1500.0 ms',
        '   ├─ llm:gpt-4o  COMPLETION  800.0 ms',
        '   └─ tool:search  STANDALONE  ERROR  200.0 ms  (timeout)',
      ].join('\n'),
    );
  });
});
