import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { formatTraceTree } from '../src/testing/tree.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { ACCOUNT_ID, API_KEY } from './helpers.js';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID, maxBodyBytes: 1024 * 1024 });
});
afterEach(() => server.reset());
afterAll(() => server.close());

const T = '2026-11-29T12:00:00.000000Z';
const item = (overrides: Record<string, unknown> = {}) => ({
  name: 'span',
  id: 'a1',
  trace_id: 't1',
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
    const response = await put([item({ id: 'good' }), bad]);
    expect(response.status).toBe(status);
    expect(typeof response.body.detail).toBe('string');
    expect(server.items).toEqual([]);
  });

  it('rejects more than 1000 items with 422', async () => {
    const items = Array.from({ length: 1001 }, (_, i) => item({ id: `s${i}` }));
    expect((await put(items)).status).toBe(422);
  });

  it('answers 409 for a parent cycle or a parent in another trace', async () => {
    expect((await put([item({ id: 'a', parent_id: 'b' }), item({ id: 'b', parent_id: 'a' })])).status).toBe(409);
    expect((await put([item({ id: 'p', trace_id: 't1' }), item({ id: 'c', trace_id: 't2', parent_id: 'p' })])).status).toBe(409);
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

  it('never records the API key', async () => {
    await put([item()]);
    expect(JSON.stringify(server.requests)).not.toContain(API_KEY);
  });

  it('renders received spans as a trace tree', async () => {
    await put([
      item({ id: 'root', name: 'agent.turn', type: 'AGENT_WORKFLOW' }),
      item({ id: 'llm', parent_id: 'root', name: 'llm:gpt-4o', type: 'COMPLETION', start_timestamp: '2026-11-29T12:00:00.100000Z', end_timestamp: '2026-11-29T12:00:00.900000Z' }),
      item({ id: 'tool', parent_id: 'root', name: 'tool:search', type: 'STANDALONE', status: 'ERROR', metadata: { error_message: 'timeout' }, start_timestamp: '2026-11-29T12:00:01.000000Z', end_timestamp: '2026-11-29T12:00:01.200000Z' }),
    ]);
    expect(formatTraceTree(server.items)).toBe(
      [
        'trace t1',
        '└─ agent.turn  AGENT_WORKFLOW  1500.0 ms',
        '   ├─ llm:gpt-4o  COMPLETION  800.0 ms',
        '   └─ tool:search  STANDALONE  ERROR  200.0 ms  (timeout)',
      ].join('\n'),
    );
  });
});
