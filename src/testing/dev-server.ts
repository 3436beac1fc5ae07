import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SGPSpanItem } from '../mapping/item.js';
import { DEV_VIEWER_PAGE } from './viewer-page.js';
import { startSGPTestServer } from './server.js';
import type { SGPTestServer } from './server.js';
import { isoToMicros } from './validate.js';

/** The official SDK's "development" environment is http://127.0.0.1:5003/public: listen there. */
export const DEV_PORT = 5003;

export interface DevServerOptions {
  /** Default 5003 (0: a free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Traces kept for the page; past it the least recently received trace is forgotten. Default 1000. */
  maxTraces?: number;
  /** Bytes of span JSON kept for the page, likewise. Default 64 MiB. */
  maxBytes?: number;
  /** Called with one line per batch received (`npx sgp-otel dev` prints them). Default: nothing. */
  log?: (line: string) => void;
}

/** The test server's API, with `items` being the spans in view (within the limits), plus the page's address. */
export interface DevServer extends SGPTestServer {
  readonly pageUrl: string;
}

export interface TraceSummary {
  trace_id: string;
  /** The root span's name (the earliest root's, when several spans have no parent in the trace). */
  name: string;
  spans: number;
  errors: number;
  /** The earliest start_timestamp in the trace. */
  start: string;
  /** From the earliest start to the latest end; undefined while a span is in progress. */
  duration_ms: number | undefined;
}

/** What the page's list asks for: traces newest first, and whether older ones were forgotten. */
export interface TraceList {
  traces: TraceSummary[];
  evicted: number;
  limits: { maxTraces: number; maxBytes: number };
}

const BATCH_PATH = '/v5/spans/batch';

/** One trace in one pass over its spans, so a trace of 100k spans costs no more than reading it. */
export function summarizeTrace(traceId: string, spans: readonly SGPSpanItem[]): TraceSummary {
  const ids = new Set<string>();
  for (const span of spans) ids.add(span.id);
  let first: SGPSpanItem | undefined;
  let root: SGPSpanItem | undefined;
  let start = Infinity;
  let rootStart = Infinity;
  let end = -Infinity;
  let inProgress = false;
  let errors = 0;
  for (const span of spans) {
    const begins = isoToMicros(span.start_timestamp) ?? Infinity;
    if (first === undefined || begins < start) [first, start] = [span, begins];
    const isRoot = span.parent_id === undefined || !ids.has(span.parent_id);
    if (isRoot && (root === undefined || begins < rootStart)) [root, rootStart] = [span, begins];
    const ends = span.end_timestamp === undefined ? undefined : isoToMicros(span.end_timestamp);
    if (ends === undefined) inProgress = true;
    else end = Math.max(end, ends);
    if (span.status === 'ERROR') errors += 1;
  }
  return {
    trace_id: traceId,
    name: (root ?? first)?.name ?? '',
    spans: spans.length,
    errors,
    start: first?.start_timestamp ?? '',
    duration_ms: inProgress || first === undefined ? undefined : (end - start) / 1000,
  };
}

/** Traces newest first, each named after its root span (or its earliest span). */
export function summarizeTraces(items: readonly SGPSpanItem[]): TraceSummary[] {
  const byTrace = new Map<string, SGPSpanItem[]>();
  for (const item of items) {
    const spans = byTrace.get(item.trace_id);
    if (spans) spans.push(item);
    else byTrace.set(item.trace_id, [item]);
  }
  return newestFirst([...byTrace].map(([traceId, spans]) => summarizeTrace(traceId, spans)));
}

function newestFirst(summaries: TraceSummary[]): TraceSummary[] {
  const startOf = new Map(summaries.map((s) => [s, isoToMicros(s.start) ?? -Infinity]));
  return summaries.sort((a, b) => startOf.get(b)! - startOf.get(a)!);
}

interface KeptTrace {
  spans: Map<string, { item: SGPSpanItem; bytes: number }>;
  bytes: number;
  summary: TraceSummary | undefined;
}

/**
 * The spans the page can show, within a limit in traces and in bytes. Traces are kept in the order
 * they last received a span, so the one forgotten first is the one quiet the longest.
 */
class TraceStore {
  private readonly traces = new Map<string, KeptTrace>();
  private bytes = 0;
  evicted = 0;

  constructor(readonly limits: { maxTraces: number; maxBytes: number }) {}

  get size(): number {
    return this.traces.size;
  }

  /** Upserts the items SGP stored; returns how many traces were forgotten to stay within the limits. */
  add(items: readonly SGPSpanItem[]): number {
    for (const item of items) this.upsert(item);
    let evicted = 0;
    for (const [traceId, trace] of this.traces) {
      if (this.traces.size <= this.limits.maxTraces && this.bytes <= this.limits.maxBytes) break;
      this.traces.delete(traceId);
      this.bytes -= trace.bytes;
      evicted += 1;
    }
    this.evicted += evicted;
    return evicted;
  }

  list(): TraceList {
    const summaries = [...this.traces].map(([traceId, trace]) => (trace.summary ??= summarizeTrace(traceId, this.spansOf(trace))));
    return { traces: newestFirst(summaries), evicted: this.evicted, limits: this.limits };
  }

  spans(traceId: string): SGPSpanItem[] | undefined {
    const trace = this.traces.get(traceId);
    return trace && this.spansOf(trace);
  }

  items(): SGPSpanItem[] {
    return [...this.traces.values()].flatMap((trace) => this.spansOf(trace));
  }

  clear(): void {
    this.traces.clear();
    this.bytes = 0;
    this.evicted = 0;
  }

  private upsert(item: SGPSpanItem): void {
    const trace = this.traces.get(item.trace_id) ?? { spans: new Map(), bytes: 0, summary: undefined };
    // Re-inserted: the trace becomes the most recently received.
    this.traces.delete(item.trace_id);
    this.traces.set(item.trace_id, trace);
    const existing = trace.spans.get(item.id);
    // As SGP does: a completed record is kept over a later in-progress one.
    if (existing?.item.end_timestamp !== undefined && item.end_timestamp === undefined) return;
    const bytes = Buffer.byteLength(JSON.stringify(item));
    trace.spans.set(item.id, { item, bytes });
    trace.bytes += bytes - (existing?.bytes ?? 0);
    this.bytes += bytes - (existing?.bytes ?? 0);
    trace.summary = undefined;
  }

  private spansOf(trace: KeptTrace): SGPSpanItem[] {
    return Array.from(trace.spans.values(), (span) => span.item);
  }
}

/**
 * `npx sgp-otel dev`: the SGP-compatible test server on a fixed local port, plus a page at `/`
 * that lists received traces and shows one as a waterfall.
 *
 * The port is served by a small front server that the test server sits behind (on a free
 * loopback port): it answers only to loopback host names, so a web page that rebinds its own
 * name to 127.0.0.1 gets a 403; it keeps what the page shows within bounds; and it sees each
 * batch's answer, which carries exactly the items stored.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const limits = { maxTraces: options.maxTraces ?? 1000, maxBytes: options.maxBytes ?? 64 * 1024 * 1024 };
  const log = options.log ?? (() => undefined);
  const store = new TraceStore(limits);
  const sgp = await startSGPTestServer({ host: '127.0.0.1', port: 0 });
  const upstream = new http.Agent({ keepAlive: true });
  let allowedHosts = new Set<string>();
  // The test server keeps every request and span it took; it is emptied each time it has taken
  // maxBytes, so its memory is bounded too (its checks across requests then start afresh).
  let sgpBytes = 0;

  const front = http.createServer((req, res) => {
    if (!allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      req.resume();
      return sendJson(res, 403, { detail: `this server answers only to ${[...allowedHosts].join(', ')}` });
    }
    const path = (req.url ?? '/').split('?')[0]!;
    if (path.endsWith(BATCH_PATH)) return forward(req, res);
    req.resume();
    serveViewer(req, res, path);
  });

  function serveViewer(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    if (req.method !== 'GET') return sendJson(res, 405, { detail: 'Method Not Allowed' });
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(DEV_VIEWER_PAGE);
      return;
    }
    if (path === '/api/traces') return sendJson(res, 200, store.list());
    const match = /^\/api\/traces\/([0-9A-Za-z_-]+)$/.exec(path);
    const spans = match ? store.spans(match[1]!) : undefined;
    if (spans) return sendJson(res, 200, spans);
    sendJson(res, 404, { detail: 'Not Found' });
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const { connection: _connection, 'keep-alive': _keepAlive, ...headers } = req.headers;
    const sgpUrl = new URL(sgp.url);
    const request = http.request({ host: sgpUrl.hostname, port: sgpUrl.port, method: req.method, path: req.url, headers, agent: upstream }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        const { connection: _c, 'keep-alive': _k, 'transfer-encoding': _t, ...answerHeaders } = answer.headers;
        res.writeHead(answer.statusCode ?? 502, { ...answerHeaders, 'content-length': String(body.length) });
        res.end(body);
        if (req.method === 'PUT') received(answer.statusCode ?? 502, body);
      });
    });
    // The test server dropped the connection (dropNextConnections): the client sees the same.
    request.on('error', () => req.socket.destroy());
    req.pipe(request);
  }

  function received(status: number, body: Buffer): void {
    if (status !== 200) {
      log(`refused a batch: HTTP ${status} ${detailOf(body)}`);
      return;
    }
    const items = (JSON.parse(body.toString('utf8')) as { items: SGPSpanItem[] }).items;
    const evicted = store.add(items);
    log(describeBatch(items, store.size, evicted, limits));
    sgpBytes += body.length;
    if (sgpBytes > limits.maxBytes) {
      sgp.reset();
      sgpBytes = 0;
    }
  }

  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(options.port ?? DEV_PORT, options.host ?? '127.0.0.1', () => resolve());
  }).catch(async (error: unknown) => {
    await sgp.close();
    throw error;
  });
  const address = front.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  allowedHosts = new Set(['127.0.0.1', 'localhost', '[::1]', host].map((name) => `${name}:${address.port}`));
  const url = `http://${host}:${address.port}`;

  return {
    url,
    pageUrl: `${url}/`,
    get items() {
      return store.items();
    },
    get requests() {
      return sgp.requests;
    },
    get counts() {
      return sgp.counts;
    },
    failNext: sgp.failNext,
    dropNextConnections: sgp.dropNextConnections,
    setResponseDelay: sgp.setResponseDelay,
    rejectItems: sgp.rejectItems,
    waitForItems: sgp.waitForItems,
    reset() {
      sgp.reset();
      store.clear();
    },
    async close() {
      await new Promise<void>((resolve) => {
        front.close(() => resolve());
        front.closeAllConnections();
      });
      upstream.destroy();
      await sgp.close();
    },
  };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function detailOf(body: Buffer): string {
  try {
    const detail = (JSON.parse(body.toString('utf8')) as { detail?: unknown }).detail;
    return typeof detail === 'string' ? detail : body.toString('utf8');
  } catch {
    return body.toString('utf8');
  }
}

/** E.g. `received 12 spans (trace 4bf92f35…, 3 traces in view)`. */
function describeBatch(items: readonly SGPSpanItem[], inView: number, evicted: number, limits: TraceList['limits']): string {
  const traceIds = [...new Set(items.map((item) => item.trace_id))];
  const shown = traceIds.slice(0, 2).map((id) => `${id.slice(0, 8)}…`);
  if (traceIds.length > 2) shown.push(`${traceIds.length - 2} more`);
  const line = `received ${plural(items.length, 'span')} (${traceIds.length === 1 ? 'trace' : 'traces'} ${shown.join(', ')}, ${plural(inView, 'trace')} in view)`;
  if (evicted === 0) return line;
  return `${line}; forgot ${plural(evicted, 'older trace')} (keeps ${plural(limits.maxTraces, 'trace')} and ${formatBytes(limits.maxBytes)})`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MiB` : bytes >= 1024 ? `${+(bytes / 1024).toFixed(1)} KiB` : `${bytes} bytes`;
}
