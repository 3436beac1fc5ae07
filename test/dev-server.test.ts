import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { SGPSpanItem } from '../src/mapping/item.js';
import { startDevServer, summarizeTraces } from '../src/testing/dev-server.js';
import type { DevServer, DevServerOptions, TraceList } from '../src/testing/dev-server.js';

const T0 = Date.UTC(2026, 10, 29, 12, 0, 0);
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const traceId = (n: number) => hex(n + 1, 32);
const spanId = (n: number) => hex(n + 1, 16);

function span(trace: number, id: number, fields: Partial<SGPSpanItem> = {}): SGPSpanItem {
  return {
    name: `span-${id}`,
    id: spanId(id),
    trace_id: traceId(trace),
    start_timestamp: iso(id),
    end_timestamp: iso(id + 5),
    input: {},
    output: {},
    metadata: {},
    status: 'SUCCESS',
    type: 'CUSTOM',
    ...fields,
  };
}

const servers: DevServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function devServer(options: DevServerOptions = {}): Promise<DevServer & { lines: string[] }> {
  const lines: string[] = [];
  const server = await startDevServer({ port: 0, log: (line) => lines.push(line), ...options });
  servers.push(server);
  return Object.assign(server, { lines });
}

function send(server: DevServer, items: SGPSpanItem[]): Promise<Response> {
  return fetch(`${server.url}/v5/spans/batch`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', 'x-api-key': 'dev', 'x-selected-account-id': 'dev' },
    body: JSON.stringify({ items }),
  });
}

async function list(server: DevServer): Promise<TraceList> {
  const response = await fetch(`${server.url}/api/traces`);
  expect(response.status).toBe(200);
  return (await response.json()) as TraceList;
}

/** A request with exactly this Host header (fetch would set its own). */
function requestWithHost(server: DevServer, host: string | undefined, method = 'GET', body?: string): Promise<number> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'x-api-key': 'dev', 'x-selected-account-id': 'dev' };
    if (host !== undefined) headers.host = host;
    const req = http.request({ host: '127.0.0.1', port, method, path: method === 'PUT' ? '/v5/spans/batch' : '/api/traces', headers, setHost: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('dev server: answers only to its loopback address (DNS rebinding)', () => {
  it('serves 127.0.0.1, localhost and [::1] at its port', async () => {
    const server = await devServer();
    const { port } = new URL(server.url);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      expect(await requestWithHost(server, host), host).toBe(200);
    }
  });

  it('refuses any other Host with 403, for the page, the API and the batch endpoint', async () => {
    const server = await devServer();
    const { port } = new URL(server.url);
    for (const host of [`attacker.example:${port}`, `127.0.0.1:${Number(port) + 1}`, '127.0.0.1', `localhost.attacker.example:${port}`]) {
      expect(await requestWithHost(server, host), host).toBe(403);
    }
    const batch = JSON.stringify({ items: [span(0, 0)] });
    expect(await requestWithHost(server, `attacker.example:${port}`, 'PUT', batch)).toBe(403);
    expect(server.items).toEqual([]);
    expect(server.requests).toEqual([]);
    expect([400, 403]).toContain(await requestWithHost(server, undefined));
  });
});

describe('dev server: the trace list', () => {
  it('summarizes a 100k-span trace (a chain 100k deep, root last) over HTTP', async () => {
    const server = await devServer();
    const count = 100_000;
    const spans = Array.from({ length: count }, (_, i) =>
      span(7, i, {
        parent_id: i === 0 ? undefined : spanId(i - 1),
        status: i % 1000 === 999 ? 'ERROR' : 'SUCCESS',
        end_timestamp: iso(i === 50_000 ? 200_000 : i + 5),
      }),
    );
    spans[0]!.name = 'the root';
    for (let end = count; end > 0; end -= 1000) {
      const response = await send(server, spans.slice(end - 1000, end));
      expect(response.status).toBe(200);
    }
    const { traces } = await list(server);
    expect(traces).toEqual([
      { trace_id: traceId(7), name: 'the root', spans: count, errors: 100, start: iso(0), duration_ms: 200_000 },
    ]);
    expect(server.lines.at(-1)).toBe(`received 1000 spans (trace ${traceId(7).slice(0, 8)}…, 1 trace in view)`);
  }, 120_000);

  it('summarizeTraces takes 130k spans in one trace (it once overflowed the stack)', () => {
    const items = Array.from({ length: 130_000 }, (_, i) => span(1, i, { parent_id: i === 0 ? undefined : spanId(i - 1) }));
    items.push(span(2, 200_000, { name: 'later' }));
    const summaries = summarizeTraces(items);
    expect(summaries.map((s) => [s.name, s.spans, s.duration_ms])).toEqual([
      ['later', 1, 5],
      ['span-0', 130_000, 130_004],
    ]);
  });

  it('names a trace after its root, lists newest first, and has no duration while a span is in progress', async () => {
    const server = await devServer();
    await send(server, [span(1, 10, { parent_id: spanId(11), name: 'child' }), span(1, 11, { name: 'root' })]);
    await send(server, [span(2, 20, { name: 'open', end_timestamp: undefined })]);
    const { traces } = await list(server);
    expect(traces.map((t) => [t.name, t.spans, t.duration_ms])).toEqual([
      ['open', 1, undefined],
      ['root', 2, 6],
    ]);
  });

  it('keeps a completed record over a later in-progress one, as SGP does', async () => {
    const server = await devServer();
    await send(server, [span(1, 1)]);
    await send(server, [span(1, 1, { end_timestamp: undefined, name: 'again' })]);
    expect(server.items.map((item) => [item.name, item.end_timestamp])).toEqual([['span-1', iso(6)]]);
  });

  it('serves one trace by id, and 404 for one it does not have', async () => {
    const server = await devServer();
    await send(server, [span(3, 1), span(3, 2, { parent_id: spanId(1) })]);
    const spans = (await (await fetch(`${server.url}/api/traces/${traceId(3)}`)).json()) as SGPSpanItem[];
    expect(spans.map((s) => s.id)).toEqual([spanId(1), spanId(2)]);
    expect((await fetch(`${server.url}/api/traces/${traceId(4)}`)).status).toBe(404);
  });
});

describe('dev server: bounded', () => {
  it('past maxTraces forgets the trace quiet the longest, and says so in the list and the log', async () => {
    const server = await devServer({ maxTraces: 2 });
    await send(server, [span(1, 1)]);
    await send(server, [span(2, 2)]);
    await send(server, [span(1, 3)]);
    await send(server, [span(3, 4)]);
    const { traces, evicted, limits } = await list(server);
    expect(traces.map((t) => t.trace_id)).toEqual([traceId(3), traceId(1)]);
    expect(evicted).toBe(1);
    expect(limits.maxTraces).toBe(2);
    expect((await fetch(`${server.url}/api/traces/${traceId(2)}`)).status).toBe(404);
    expect(server.lines.at(-1)).toBe(
      `received 1 span (trace ${traceId(3).slice(0, 8)}…, 2 traces in view); forgot 1 older trace (keeps 2 traces and 64 MiB)`,
    );
  });

  it('past maxBytes forgets the oldest traces until the rest fits', async () => {
    const one = Buffer.byteLength(JSON.stringify(span(0, 0)));
    const server = await devServer({ maxBytes: 3 * one + 10 });
    for (let trace = 0; trace < 5; trace += 1) await send(server, [span(trace, trace)]);
    const { traces, evicted } = await list(server);
    expect(traces.map((t) => t.trace_id)).toEqual([traceId(4), traceId(3), traceId(2)]);
    expect(evicted).toBe(2);
  });
});

describe('dev server: still the SGP test server behind it', () => {
  it('logs one line per batch, refused ones too', async () => {
    const server = await devServer();
    await send(server, [span(1, 1), span(2, 2), span(3, 3), span(3, 4)]);
    const refused = await send(server, [{ ...span(1, 5), status: 'MAYBE' as never }]);
    expect(refused.status).toBe(422);
    expect(server.lines).toEqual([
      `received 4 spans (traces ${traceId(1).slice(0, 8)}…, ${traceId(2).slice(0, 8)}…, 1 more, 3 traces in view)`,
      'refused a batch: HTTP 422 items[0].status: not one of SUCCESS, ERROR, CANCELED',
    ]);
  });

  it('passes injected faults through: a status with Retry-After, and a dropped connection', async () => {
    const server = await devServer();
    server.failNext(1, 503, { retryAfter: '7' });
    const failed = await send(server, [span(1, 1)]);
    expect([failed.status, failed.headers.get('retry-after')]).toEqual([503, '7']);
    server.dropNextConnections(1);
    await expect(send(server, [span(1, 1)])).rejects.toThrow();
    expect(server.items).toEqual([]);
    expect((await send(server, [span(1, 1)])).status).toBe(200);
    expect(server.items.map((item) => item.id)).toEqual([spanId(1)]);
  });

  it('answers other paths with 404 and other methods on the page with 405', async () => {
    const server = await devServer();
    expect((await fetch(`${server.url}/favicon.ico`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/traces`, { method: 'POST' })).status).toBe(405);
  });
});
