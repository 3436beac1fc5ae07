import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** A real server on 127.0.0.1 answering every request with `respond`, and a transport pointed at it. */
async function serve(respond: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => respond(req, res));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const clock = virtualClock();
  transport = new SGPTransport({
    endpoint: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v5/spans/batch`),
    apiKey: KEY,
    accountId: 'acct',
    headers: {},
    dispatcher: undefined,
    connections: 1,
    proxy: undefined,
    clock,
  });
  return { transport, clock };
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
});
