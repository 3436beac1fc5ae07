import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SGPSpanProcessor } from '../src/pipeline/processor.js';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { ACCOUNT_ID, API_KEY, endSpans, providerWith } from './helpers.js';

// A real forward proxy on 127.0.0.1 that tunnels CONNECT requests and records where they went.
let proxy: http.Server;
let proxyUrl: string;
const tunnels: string[] = [];
let server: SGPTestServer;

beforeAll(async () => {
  server = await startSGPTestServer();
  proxy = http.createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
  await server.close();
});

async function send(env: Record<string, string>): Promise<number> {
  server.reset();
  tunnels.length = 0;
  const processor = new SGPSpanProcessor({ apiKey: API_KEY, accountId: ACCOUNT_ID, env: { SGP_CLIENT_BASE_URL: server.url, ...env } });
  const provider = providerWith(processor);
  endSpans(provider, 3);
  await provider.shutdown();
  return server.items.length;
}

describe('proxies named by the environment', () => {
  const target = () => new URL(server.url).host;

  it('HTTP_PROXY: requests go through it', async () => {
    expect(await send({ HTTP_PROXY: proxyUrl })).toBe(3);
    expect(tunnels).toEqual([target()]);
  });

  it('lower-case http_proxy works too', async () => {
    expect(await send({ http_proxy: proxyUrl })).toBe(3);
    expect(tunnels).toEqual([target()]);
  });

  it('NO_PROXY: the listed host is reached directly', async () => {
    expect(await send({ HTTP_PROXY: proxyUrl, NO_PROXY: '127.0.0.1' })).toBe(3);
    expect(tunnels).toEqual([]);
  });

  it('without a proxy variable: direct', async () => {
    expect(await send({})).toBe(3);
    expect(tunnels).toEqual([]);
  });
});
