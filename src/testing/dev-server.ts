import type http from 'node:http';
import type { SGPSpanItem } from '../mapping/item.js';
import { DEV_VIEWER_PAGE } from './viewer-page.js';
import { startSGPTestServer } from './server.js';
import type { SGPTestServer } from './server.js';
import { isoToMicros } from './validate.js';

/** The official SDK's "development" environment is http://127.0.0.1:5003/public: listen there. */
export const DEV_PORT = 5003;

export interface TraceSummary {
  trace_id: string;
  name: string;
  spans: number;
  errors: number;
  start: string;
  duration_ms: number | undefined;
}

/** Traces newest first, each named after its root span (or its earliest span). */
export function summarizeTraces(items: readonly SGPSpanItem[]): TraceSummary[] {
  const byTrace = new Map<string, SGPSpanItem[]>();
  for (const item of items) byTrace.set(item.trace_id, [...(byTrace.get(item.trace_id) ?? []), item]);
  const summaries: TraceSummary[] = [];
  for (const [traceId, spans] of byTrace) {
    const ids = new Set(spans.map((s) => s.id));
    const sorted = [...spans].sort((a, b) => a.start_timestamp.localeCompare(b.start_timestamp));
    const root = sorted.find((s) => s.parent_id === undefined || !ids.has(s.parent_id)) ?? sorted[0]!;
    const start = Math.min(...spans.map((s) => isoToMicros(s.start_timestamp) ?? Infinity));
    const ends = spans.map((s) => (s.end_timestamp === undefined ? undefined : isoToMicros(s.end_timestamp)));
    const end = ends.every((e) => e !== undefined) ? Math.max(...(ends as number[])) : undefined;
    summaries.push({
      trace_id: traceId,
      name: root.name,
      spans: spans.length,
      errors: spans.filter((s) => s.status === 'ERROR').length,
      start: sorted[0]!.start_timestamp,
      duration_ms: end === undefined ? undefined : (end - start) / 1000,
    });
  }
  return summaries.sort((a, b) => b.start.localeCompare(a.start));
}

/**
 * `npx sgp-otel dev`: the SGP-compatible test server on a fixed local port, plus a page at `/`
 * that lists received traces and shows one as a waterfall.
 */
export async function startDevServer(options: { port?: number; host?: string } = {}): Promise<SGPTestServer & { pageUrl: string }> {
  let server: SGPTestServer | undefined;
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  server = await startSGPTestServer({
    port: options.port ?? DEV_PORT,
    host: options.host ?? '127.0.0.1',
    handleOther: (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      req.resume();
      if (req.method !== 'GET') return json(res, 405, { detail: 'Method Not Allowed' });
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(DEV_VIEWER_PAGE);
        return;
      }
      if (path === '/api/traces') return json(res, 200, summarizeTraces(server!.items));
      const match = /^\/api\/traces\/([0-9A-Za-z_-]+)$/.exec(path);
      if (match) return json(res, 200, server!.items.filter((item) => item.trace_id === match[1]));
      return json(res, 404, { detail: 'Not Found' });
    },
  });
  return Object.assign(server, { pageUrl: `${server.url}/` });
}
