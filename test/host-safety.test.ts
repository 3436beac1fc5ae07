import { spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { cjs, esm, eventually, runProgram as run } from './helpers.js';

// Programs run as users run them: plain `node`, default flags, the built package (`npm test` builds
// first). What is checked is how each one ends and what reached the server.

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
});
afterEach(() => server.reset());
afterAll(() => server.close());
const env = () => ({ SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: server.url });

describe('a pending forceFlush() or shutdown() keeps the process alive until it settles', () => {
  const body = `
    const provider = new BasicTracerProvider({ spanProcessors: [new SGPSpanProcessor()] });
    for (const name of ['one', 'two', 'three']) provider.getTracer('t').startSpan(name).end();
    await provider.shutdown();
    console.log('shut down');`;

  it('an ES module ending with `await provider.shutdown()` that meets a 503 waits out the backoff and delivers', async () => {
    server.failNext(1, 503);
    const ended = await run(
      esm(`import { SGPSpanProcessor } from 'sgp-otel';
           import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
           ${body}`),
      env(),
    );
    expect(ended).toMatchObject({ code: 0, stdout: 'shut down\n' });
    expect(server.requests.map((r) => r.status)).toEqual([503, 200]);
    expect(server.items.map((i) => i.name).sort()).toEqual(['one', 'three', 'two']);
  });

  it('so does a CommonJS program', async () => {
    server.failNext(1, 503);
    const ended = await run(
      cjs(`const { SGPSpanProcessor } = require('sgp-otel');
           const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
           ${body}`),
      env(),
    );
    expect(ended).toMatchObject({ code: 0, stdout: 'shut down\n' });
    expect(server.items.map((i) => i.name).sort()).toEqual(['one', 'three', 'two']);
  });

  it('so does the flush at exit of a program that never calls shutdown()', async () => {
    server.failNext(2, 503);
    const ended = await run(
      esm(`import { SGPSpanProcessor } from 'sgp-otel';
           import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
           const provider = new BasicTracerProvider({ spanProcessors: [new SGPSpanProcessor({ scheduledDelayMillis: 60000 })] });
           provider.getTracer('t').startSpan('flushed-at-exit').end();`),
      env(),
    );
    expect(ended.code).toBe(0);
    expect(server.requests.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(server.items.map((i) => i.name)).toEqual(['flushed-at-exit']);
  });

  it('while nothing awaits a flush, an outage never holds the program open', async () => {
    await server.close();
    const ended = await run(
      esm(`import { SGPSpanProcessor } from 'sgp-otel';
           import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
           const processor = new SGPSpanProcessor({ flushOnExit: false, maxExportBatchSize: 2, maxAttempts: 1 });
           const provider = new BasicTracerProvider({ spanProcessors: [processor] });
           for (const name of ['a', 'b']) provider.getTracer('t').startSpan(name).end();
           const waitForOutage = () => new Promise((resolve) => {
             const poll = () => (processor.getStats().outage ? resolve() : setTimeout(poll, 10));
             poll();
           });
           await waitForOutage();
           console.log('outage; leaving');`),
      { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: server.url },
    );
    expect(ended).toMatchObject({ code: 0, stdout: 'outage; leaving\n' });
    server = await startSGPTestServer();
  });
});

describe('a TCP connect that never completes', () => {
  it('holds a program ending with shutdown() at most timeoutMillis past shutdown, not undici\'s own 10 s', async () => {
    // A listener stopped with its accept queue full: the kernel drops every further SYN, so a
    // connect neither succeeds nor fails (a firewall that drops packets, a wedged server).
    const listener = spawn(process.execPath, ['-e', "const s = require('net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port))"], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const fillers: net.Socket[] = [];
    try {
      const port = await new Promise<number>((resolve) => listener.stdout.once('data', (data: Buffer) => resolve(Number(data.toString().trim()))));
      listener.kill('SIGSTOP');
      // The queue takes backlog + 1 connections; wait until they are in, then one more connect hangs.
      let connected = 0;
      for (let i = 0; i < 4; i += 1) fillers.push(net.connect(port, '127.0.0.1').on('connect', () => (connected += 1)).on('error', () => undefined));
      await eventually(() => connected >= 2);
      const started = Date.now();
      const ended = await run(
        esm(`import { SGPSpanProcessor } from 'sgp-otel';
             import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
             const provider = new BasicTracerProvider({ spanProcessors: [new SGPSpanProcessor({ timeoutMillis: 1000, exportTimeoutMillis: 2000, logLevel: 'none' })] });
             provider.getTracer('t').startSpan('never-connects').end();
             await provider.shutdown().catch(() => undefined);
             console.log('shut down');`),
        { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: `http://127.0.0.1:${port}` },
      );
      expect(ended).toMatchObject({ code: 0, stdout: 'shut down\n' });
      // shutdown() settles at 2 s; the connect in flight is given up at 1 s. Before: about 10 s more.
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      for (const socket of fillers) socket.destroy();
      listener.kill('SIGKILL');
    }
  });
});

describe('no rejection escapes into the host', () => {
  it('a single item answered 413 whose content nests 3000 levels deep: the program ends normally and the span is accounted for', async () => {
    await server.close();
    server = await startSGPTestServer({ maxBodyBytes: 4096 });
    const ended = await run(
      esm(`import { SGPSpanProcessor } from 'sgp-otel';
           import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
           const processor = new SGPSpanProcessor();
           const provider = new BasicTracerProvider({ spanProcessors: [processor] });
           const deep = '['.repeat(3000) + JSON.stringify('x'.repeat(5000)) + ']'.repeat(3000);
           provider.getTracer('t').startSpan('deep', { attributes: { 'sgp.input': deep } }).end();
           await provider.shutdown().catch((error) => console.log('shutdown:', error.name));
           const stats = processor.getStats();
           console.log(JSON.stringify({ received: stats.received, settled: stats.exported + stats.dropped.total }));`),
      env(),
    );
    expect(ended.stderr).not.toContain('Maximum call stack');
    expect(ended.code).toBe(0);
    expect(ended.stdout).toContain('{"received":1,"settled":1}');
    await server.close();
    server = await startSGPTestServer();
  });
});
