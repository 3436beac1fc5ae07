import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ERROR_BODY_BYTES, SGPTransport, SHUTDOWN } from '../src/delivery/transport.js';
import { virtualClock } from './helpers.js';

const KEY = 'sk-transport-test-key-1234567890';
let server: http.Server | undefined;
let transport: SGPTransport | undefined;

afterEach(async () => {
  await transport?.destroy();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
  transport = undefined;
});

/** A transport to 127.0.0.1:`port` on a virtual clock. */
function transportTo(port: number, { apiKey = KEY, dispatcher }: { apiKey?: string; dispatcher?: Dispatcher } = {}) {
  const clock = virtualClock();
  const made = new SGPTransport({
    endpoint: new URL(`http://127.0.0.1:${port}/v5/spans/batch`),
    apiKey,
    accountId: 'acct',
    headers: {},
    dispatcher,
    connections: 1,
    proxy: undefined,
    clock,
    timeoutMillis: 10_000,
  });
  return { transport: made, clock };
}

/** A real server on 127.0.0.1 answering every request with `respond`, and a transport pointed at it. */
async function serve(respond: (req: http.IncomingMessage, res: http.ServerResponse) => void, options: { apiKey?: string; dispatcher?: Dispatcher } = {}) {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => respond(req, res));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const made = transportTo((server.address() as AddressInfo).port, options);
  transport = made.transport;
  return made;
}

describe('SGPTransport against a misbehaving server', () => {
  it('quotes an error body from its first 64 KiB and does not wait for a body that never ends', async () => {
    const { transport } = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      // Four times the read limit, then the response stays open for good.
      res.write(`the key ${KEY} was wrong ${'x'.repeat(4 * MAX_ERROR_BODY_BYTES)}`);
    });
    const result = await transport.send(Buffer.from('{"items":[]}'), 30_000, new AbortController());
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.status).toBe(500);
    expect(result.error.message).toContain('SGP answered HTTP 500: the key [redacted] was wrong xxx');
    expect(result.error.message).not.toContain(KEY);
  });

  it('reads Retry-After-Ms, else Retry-After (seconds), from a 503', async () => {
    let requests = 0;
    const { transport } = await serve((_req, res) => {
      requests += 1;
      res.writeHead(503, requests === 1 ? { 'Retry-After-Ms': '1500', 'Retry-After': '9' } : { 'Retry-After': '7' }).end('busy');
    });
    const first = await transport.send(Buffer.from('{"items":[]}'), 30_000, new AbortController());
    const second = await transport.send(Buffer.from('{"items":[]}'), 30_000, new AbortController());
    expect(first.ok ? undefined : first.error.retryAfterMillis).toBe(1500);
    expect(second.ok ? undefined : second.error.retryAfterMillis).toBe(7000);
  });

  it('a 200 whose body breaks off is delivered: the status is the answer', async () => {
    const { transport } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"ok":', () => res.socket?.destroy());
    });
    expect(await transport.send(Buffer.from('{"items":[]}'), 30_000, new AbortController())).toEqual({ ok: true, status: 200 });
  });

  it('a request the server never answers ends at its deadline as a timeout, or at a shutdown abort as a shutdown', async () => {
    let seen = (): void => undefined;
    const { transport, clock } = await serve(() => seen());
    const arrived = () => new Promise<void>((resolve) => (seen = resolve));

    let waiting = arrived();
    const silent = transport.send(Buffer.from('{"items":[]}'), 5000, new AbortController());
    await waiting;
    clock.advance(5000);
    const timedOut = await silent;
    expect(timedOut.ok ? undefined : timedOut.error.kind).toBe('timeout');

    waiting = arrived();
    const controller = new AbortController();
    const hanging = transport.send(Buffer.from('{"items":[]}'), 30_000, controller);
    await waiting;
    controller.abort(SHUTDOWN);
    const shutdown = await hanging;
    expect(shutdown.ok ? undefined : shutdown.error.kind).toBe('shutdown');
  });

  it('takes a 2xx as the answer as soon as its status arrives, without waiting for the body', async () => {
    const { transport } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"ok":');
    });
    // No clock is moved: only the status can end this request.
    expect(await transport.send(Buffer.from('{"items":[]}'), 30_000, new AbortController())).toEqual({ ok: true, status: 200 });
  });

  it('an interim 1xx answer is not the answer, nor are its headers', async () => {
    let raw: net.Server | undefined;
    try {
      raw = net.createServer((socket) => {
        socket.once('data', () => {
          socket.write('HTTP/1.1 103 Early Hints\r\nretry-after: 5\r\nlink: </x>; rel=preload\r\n\r\n');
          socket.write('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy');
        });
      });
      await new Promise<void>((resolve) => raw!.listen(0, '127.0.0.1', resolve));
      const { transport: direct } = transportTo((raw.address() as AddressInfo).port);
      const result = await direct.send(Buffer.from('{"items":[]}'), 30_000, new AbortController());
      await direct.destroy();
      expect(result.ok ? undefined : { status: result.error.status, retryAfterMillis: result.error.retryAfterMillis }).toEqual({ status: 503, retryAfterMillis: undefined });
    } finally {
      await new Promise((resolve) => raw?.close(resolve));
    }
  });

  it.each([
    ['cut by the quote length right through it', (key: string) => `Forbidden. ${'.'.repeat(268)} x-api-key=${key}`],
    ['in JSON without "detail", its slashes escaped', (key: string) => JSON.stringify({ message: `invalid key ${key}` }).replaceAll('/', '\\/')],
    ['in JSON, escaped as \\u sequences', (key: string) => `{"message": "${[...key].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')}"}`],
    ['percent-encoded', (key: string) => `invalid key ${encodeURIComponent(key)}`],
    ["percent-encoded as Python's quote does: slashes left as they are, lowercase hex", (key: string) => `invalid key ${encodeURIComponent(key).replaceAll('%2F', '/').replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase())}`],
    ['with escape()', (key: string) => `invalid key ${escape(key)}`],
    ['HTML-escaped', (key: string) => `<p>invalid key ${key.replaceAll('/', '&#x2F;').replaceAll('+', '&#43;').replaceAll('=', '&#61;')}</p>`],
    ['lowercased', (key: string) => `invalid key ${key.toLowerCase()}`],
    ['HTML-escaped as numeric references without their semicolons', (key: string) => `invalid key ${[...key].map((c) => `&#${c.charCodeAt(0)}`).join('')}`],
    ["HTML-escaped with HTML5's named references", (key: string) => `invalid key ${key.replaceAll('/', '&sol;').replaceAll('+', '&plus;').replaceAll('=', '&equals;')}`],
    ['across the 64 KiB read limit, after whitespace', (key: string) => `${' '.repeat(MAX_ERROR_BODY_BYTES - 16)}${key}`],
  ])('never quotes a key the server echoes %s', async (_case, echo) => {
    const key = 'sk-live/ABCD+EFGH=/IJKLMNOPQRSTUVWXYZ0123';
    const { transport } = await serve((req, res) => res.writeHead(403).end(echo(String(req.headers['x-api-key']))), { apiKey: key });
    const result = await transport.send(Buffer.from('{"items":[]}'), 30_000, new AbortController());
    const message = result.ok ? '' : result.error.message;
    expect(message).toMatch(/^SGP answered HTTP 403/);
    // Not even a piece of it: no 8 characters of the key in a row, in any letter case.
    for (let at = 0; at + 8 <= key.length; at += 1) expect(message.toLowerCase()).not.toContain(key.slice(at, at + 8).toLowerCase());
  });

  it("works through a user's own dispatcher, answering its handler interface", async () => {
    const agent = new Agent();
    let requests = 0;
    const { transport } = await serve((_req, res) => {
      requests += 1;
      if (requests === 1) res.writeHead(503, { 'Retry-After-Ms': '1500' }).end('busy');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    }, { dispatcher: agent });
    const refused = await transport.send(Buffer.from('{"items":[]}'), 30_000, new AbortController());
    const taken = await transport.send(Buffer.from('{"items":[]}'), 30_000, new AbortController());
    await agent.close();
    expect(refused.ok ? undefined : { status: refused.error.status, wait: refused.error.retryAfterMillis, message: refused.error.message }).toEqual({
      status: 503,
      wait: 1500,
      message: 'SGP answered HTTP 503: busy',
    });
    expect(taken).toEqual({ ok: true, status: 200 });
  });
});

