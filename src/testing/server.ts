import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SGPSpanItem } from '../mapping/item.js';
import { validateBatch } from './validate.js';

export interface SGPTestServerOptions {
  /** The only `x-api-key` accepted (401 otherwise). Default: any non-empty key. */
  apiKey?: string;
  /** The only `x-selected-account-id` accepted (403 otherwise). Default: any non-empty id. */
  accountId?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Bodies larger than this get a 413. Default 16 MiB. */
  maxBodyBytes?: number;
  /**
   * Keep accepted items and recorded requests (default true). With false only `counts` grow, for
   * long runs whose memory is being measured.
   */
  retain?: boolean;
  /** Handles requests to any other path (the dev viewer serves its page this way). Default: 404. */
  handleOther?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/** One request as the server saw it. The API key itself is never kept. */
export interface RecordedRequest {
  method: string;
  path: string;
  status: number | 'dropped';
  /** Headers as received, with `x-api-key` replaced by `[redacted]`. */
  headers: Record<string, string>;
  bytes: number;
  /** The client's port: requests on one keep-alive connection share it. */
  remotePort: number;
  /** Ids of the items in the body, when it parsed. */
  ids: string[];
  /** The raw request body (up to `maxBodyBytes`). */
  body: string;
  /** When the request arrived, ms since the epoch. */
  receivedAt: number;
}

export interface FailOptions {
  /** Sent as `Retry-After` (seconds or an HTTP date). */
  retryAfter?: string;
  /** Sent as `retry-after-ms`. */
  retryAfterMs?: string;
  /** Response body; default `{"detail": "injected failure"}`. */
  body?: string;
  /** More response headers (a redirect's `location`, say). */
  headers?: Record<string, string>;
}

export interface SGPTestServer {
  /** Base URL to give the exporter, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Accepted spans, one per (trace_id, id), in the order first received; the latest record of each. */
  readonly items: SGPSpanItem[];
  readonly requests: RecordedRequest[];
  /** Totals since start (or `reset()`), kept even with `retain: false`; `maxConcurrent`: most requests open at once. */
  readonly counts: { requests: number; itemsAccepted: number; maxConcurrent: number; connections: number };
  /** The next `count` requests fail with `status`, whatever they carry. */
  failNext(count: number, status: number, options?: FailOptions): void;
  /** The next `count` requests have their connection destroyed without an answer. */
  dropNextConnections(count: number): void;
  /** Every later answer waits this long first; 0 stops that and sends the answers waiting now. */
  setResponseDelay(ms: number): void;
  /**
   * From now on, a batch containing an item for which `predicate` is true is refused whole with
   * `status` (default 422), as SGP refuses a batch for one invalid item. `undefined` stops it.
   */
  rejectItems(predicate: ((item: SGPSpanItem) => boolean) | undefined, status?: number, detail?: string): void;
  /** Resolves once at least `count` distinct spans are stored; rejects after `timeoutMillis` (default 5000). */
  waitForItems(count: number, timeoutMillis?: number): Promise<SGPSpanItem[]>;
  /** Forgets stored spans, recorded requests and pending faults. */
  reset(): void;
  close(): Promise<void>;
}

type Fault = { kind: 'status'; status: number; options: FailOptions } | { kind: 'drop' };

/** Starts a local server that speaks SGP's `PUT /v5/spans/batch` with the server's validation rules. */
export async function startSGPTestServer(options: SGPTestServerOptions = {}): Promise<SGPTestServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const stored = new Map<string, SGPSpanItem>();
  const traceOfSpan = new Map<string, string>();
  // trace id -> span id -> parent id of the stored spans, for cycles closed across requests.
  // Like `stored`, kept only with `retain`.
  const parentsByTrace = new Map<string, Map<string, string>>();
  const requests: RecordedRequest[] = [];
  // Runs of the same fault, so that failNext(1e9) costs one entry, not a billion.
  const faults: { fault: Fault; left: number }[] = [];
  const nextFault = (): Fault | undefined => {
    const run = faults[0];
    if (run === undefined) return undefined;
    run.left -= 1;
    if (run.left <= 0) faults.shift();
    return run.fault;
  };
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let responseDelay = 0;
  /** Answers waiting out `responseDelay`; cleared on close so a long delay never outlives the server. */
  const delayed = new Map<NodeJS.Timeout, () => void>();
  const retain = options.retain ?? true;
  const counts = { requests: 0, itemsAccepted: 0, maxConcurrent: 0, connections: 0 };
  let open = 0;
  let itemRejection: { predicate: (item: SGPSpanItem) => boolean; status: number; detail: string } | undefined;

  const server = http.createServer((req, res) => {
    if (options.handleOther && req.url?.split('?')[0]?.endsWith('/v5/spans/batch') !== true) {
      options.handleOther(req, res);
      return;
    }
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      status: 0,
      headers: redactHeaders(req.headers),
      bytes: 0,
      remotePort: req.socket.remotePort ?? 0,
      ids: [],
      body: '',
      receivedAt: Date.now(),
    };
    counts.requests += 1;
    open += 1;
    counts.maxConcurrent = Math.max(counts.maxConcurrent, open);
    res.once('close', () => {
      open -= 1;
    });
    if (retain) requests.push(record);
    const chunks: Buffer[] = [];
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      record.bytes += chunk.length;
      if (record.bytes > maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      const fault = nextFault();
      if (fault?.kind === 'drop') {
        record.status = 'dropped';
        req.socket.destroy();
        return;
      }
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        record.status = status;
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(typeof body === 'string' ? body : JSON.stringify(body));
        };
        if (responseDelay > 0) {
          const timer = setTimeout(() => {
            delayed.delete(timer);
            send();
          }, responseDelay);
          delayed.set(timer, send);
        }
        else send();
      };
      if (fault?.kind === 'status') {
        const headers: Record<string, string> = { ...fault.options.headers };
        if (fault.options.retryAfter !== undefined) headers['retry-after'] = fault.options.retryAfter;
        if (fault.options.retryAfterMs !== undefined) headers['retry-after-ms'] = fault.options.retryAfterMs;
        return answer(fault.status, fault.options.body ?? { detail: 'injected failure' }, headers);
      }
      if (req.url?.split('?')[0]?.endsWith('/v5/spans/batch') !== true) return answer(404, { detail: 'Not Found' });
      if (req.method !== 'PUT') return answer(405, { detail: 'Method Not Allowed' });
      const key = req.headers['x-api-key'];
      if (typeof key !== 'string' || key === '' || (options.apiKey !== undefined && key !== options.apiKey)) {
        return answer(401, { detail: 'Invalid API key' });
      }
      const account = req.headers['x-selected-account-id'];
      if (typeof account !== 'string' || account === '' || (options.accountId !== undefined && account !== options.accountId)) {
        return answer(403, { detail: 'No access to the selected account' });
      }
      if (tooLarge) return answer(413, { detail: `Request body larger than ${maxBodyBytes} bytes` });
      const bytes = Buffer.concat(chunks);
      if (retain) record.body = bytes.toString('utf8');
      let text: string;
      try {
        text = strictUtf8.decode(bytes);
      } catch {
        return answer(400, { detail: 'Body is not valid UTF-8' });
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return answer(400, { detail: 'Body is not valid JSON' });
      }
      const items = (body as { items?: unknown })?.items;
      if (Array.isArray(items)) record.ids = items.map((item) => idForRecord((item as { id?: unknown })?.id));
      const rejection = validateBatch(body, traceOfSpan, parentsByTrace);
      if (rejection) return answer(rejection.status, { detail: rejection.detail });
      const refused = itemRejection && (items as SGPSpanItem[]).findIndex(itemRejection.predicate);
      if (itemRejection && refused !== undefined && refused >= 0) {
        return answer(itemRejection.status, { detail: `items[${refused}]: ${itemRejection.detail}` });
      }
      const writes = retain ? planUpserts(items as SGPSpanItem[]) : [];
      let reply: string;
      try {
        reply = JSON.stringify({ items: writes.map((write) => write.item), object: 'list' });
      } catch {
        // JSON.parse takes any depth but JSON.stringify recurses: an item nested some thousands
        // of levels deep could be neither echoed nor served by the dev viewer. SGP's Python parser
        // has a depth limit too (inferred: FastAPI then answers this 400).
        return answer(400, { detail: 'There was an error parsing the body' });
      }
      for (const write of writes) commit(write);
      counts.itemsAccepted += (items as SGPSpanItem[]).length;
      events.emit('stored');
      return answer(200, reply);
    });
  });

  type Write = { key: string; item: SGPSpanItem; store: boolean };

  /**
   * What upserting a batch would do, in order, without doing it yet: `item` is what SGP answers
   * with for each, `store` whether it is written.
   */
  function planUpserts(batch: readonly SGPSpanItem[]): Write[] {
    const planned = new Map<string, SGPSpanItem>();
    return batch.map((incoming) => {
      const item = { ...incoming, id: incoming.id ?? randomUUID() };
      const key = `${item.trace_id}/${item.id}`;
      const existing = planned.get(key) ?? stored.get(key);
      // A completed record is kept over a later in-progress one, as SGP's tracing store does.
      if (existing?.end_timestamp !== undefined && item.end_timestamp === undefined) return { key, item: existing, store: false };
      planned.set(key, item);
      return { key, item, store: true };
    });
  }

  function commit({ key, item, store }: Write): void {
    if (!store) return;
    stored.set(key, item);
    traceOfSpan.set(item.id, item.trace_id);
    if (item.parent_id === undefined) {
      parentsByTrace.get(item.trace_id)?.delete(item.id);
      return;
    }
    const parents = parentsByTrace.get(item.trace_id) ?? new Map<string, string>();
    parentsByTrace.set(item.trace_id, parents);
    parents.set(item.id, item.parent_id);
  }

  server.on('connection', () => {
    counts.connections += 1;
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    get items() {
      return [...stored.values()];
    },
    get requests() {
      return requests;
    },
    get counts() {
      return { ...counts };
    },
    failNext(count, status, failOptions = {}) {
      if (count > 0) faults.push({ fault: { kind: 'status', status, options: failOptions }, left: count });
    },
    dropNextConnections(count) {
      if (count > 0) faults.push({ fault: { kind: 'drop' }, left: count });
    },
    setResponseDelay(ms) {
      responseDelay = ms;
      if (ms > 0) return;
      // 0 also releases the answers that are waiting now.
      for (const [timer, send] of delayed) {
        clearTimeout(timer);
        send();
      }
      delayed.clear();
    },
    rejectItems(predicate, status = 422, detail = 'item refused by the test server') {
      itemRejection = predicate ? { predicate, status, detail } : undefined;
    },
    waitForItems(count, timeoutMillis = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (stored.size < count) return;
          cleanup();
          resolve([...stored.values()]);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`SGP test server: ${stored.size} of ${count} spans arrived within ${timeoutMillis} ms`));
        }, timeoutMillis);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('stored', check);
        };
        events.on('stored', check);
        check();
      });
    },
    reset() {
      stored.clear();
      traceOfSpan.clear();
      parentsByTrace.clear();
      requests.length = 0;
      counts.requests = 0;
      counts.itemsAccepted = 0;
      counts.maxConcurrent = 0;
      counts.connections = 0;
      faults.length = 0;
      responseDelay = 0;
      itemRejection = undefined;
    },
    close() {
      for (const timer of delayed.keys()) clearTimeout(timer);
      delayed.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/** An item's id for `RecordedRequest.ids`; never String() of an array, which recurses into its nesting. */
function idForRecord(id: unknown): string {
  return id !== null && typeof id === 'object' ? '' : String(id ?? '');
}

/** Throws on bytes that are not UTF-8, where `Buffer#toString` would quietly substitute U+FFFD. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function redactHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = name === 'x-api-key' ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
