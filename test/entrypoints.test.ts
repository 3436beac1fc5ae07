import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';

// These run the built package (dist/) through its "exports" map, as users load it.
// `npm test` builds first.
// Asynchronous, so the test server in this process can answer the child.
async function run(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 15_000,
  });
  return stdout;
}

const PROGRAM = `
  const provider = new BasicTracerProvider({ spanProcessors: [new SGPSpanProcessor()] });
  provider.getTracer('entry').startSpan('from-entry-point').end();
  await provider.forceFlush();
  console.log(JSON.stringify({ processor: typeof SGPSpanProcessor, exporter: typeof SGPSpanExporter, map: typeof toSGPSpanItem, server: typeof startSGPTestServer }));
`;

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer();
});
afterAll(() => server.close());

describe('package entry points', () => {
  const env = () => ({ SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: server.url });

  it('works with require() (CommonJS)', async () => {
    const out = await run(
      [
        '-e',
        `(async () => {
          const { SGPSpanProcessor, SGPSpanExporter, toSGPSpanItem } = require('sgp-otel');
          const { startSGPTestServer } = require('sgp-otel/testing');
          const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
          ${PROGRAM}
          console.log(require.resolve('sgp-otel'));
        })()`,
      ],
      env(),
    );
    expect(out).toContain('{"processor":"function","exporter":"function","map":"function","server":"function"}');
    expect(out).toMatch(/dist[\\/]cjs[\\/]index\.js/);
    expect(server.items.map((i) => i.name)).toContain('from-entry-point');
  });

  it('works with import (ES modules)', async () => {
    server.reset();
    const out = await run(
      [
        '--input-type=module',
        '-e',
        `import { SGPSpanProcessor, SGPSpanExporter, toSGPSpanItem } from 'sgp-otel';
         import { startSGPTestServer } from 'sgp-otel/testing';
         import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
         ${PROGRAM}
         console.log(import.meta.resolve('sgp-otel'));`,
      ],
      env(),
    );
    expect(out).toContain('{"processor":"function","exporter":"function","map":"function","server":"function"}');
    expect(out).toMatch(/dist\/esm\/index\.js/);
    expect(server.items.map((i) => i.name)).toContain('from-entry-point');
  });

  it('flushes once when a program ends without calling shutdown, then exits', async () => {
    server.reset();
    await run(
      [
        '--input-type=module',
        '-e',
        `import { SGPSpanProcessor } from 'sgp-otel';
         import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
         const provider = new BasicTracerProvider({ spanProcessors: [new SGPSpanProcessor({ scheduledDelayMillis: 60000 })] });
         provider.getTracer('t').startSpan('flushed-at-exit').end();`,
      ],
      env(),
    );
    expect(server.items.map((i) => i.name)).toEqual(['flushed-at-exit']);
    expect(server.requests).toHaveLength(1);
  });

  it('exits on its own with flushOnExit: false: no timer or socket of ours keeps it alive', async () => {
    server.reset();
    await run(
      [
        '--input-type=module',
        '-e',
        `import { SGPSpanProcessor } from 'sgp-otel';
         import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
         const processor = new SGPSpanProcessor({ scheduledDelayMillis: 60000, flushOnExit: false, maxExportBatchSize: 2 });
         const provider = new BasicTracerProvider({ spanProcessors: [processor] });
         for (const name of ['a', 'b', 'c']) provider.getTracer('t').startSpan(name).end();`,
      ],
      env(),
    );
    // run() resolved: the process exited with a 60 s schedule timer pending and a keep-alive
    // connection open (the full batch of 2 was sent; the third span waited for the timer).
    expect(server.items.map((i) => i.name).sort()).toEqual(['a', 'b']);
  });
});

describe('dependencies', () => {
  it('adds no copy of @opentelemetry/core next to the application SDK: no runtime dependency, no import of it', async () => {
    const { readFileSync, readdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(['undici']);
    const dist = new URL('../dist', import.meta.url).pathname;
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.js'));
    expect(files.length).toBeGreaterThan(20);
    const importing = files.filter((file) => /(from\s*|require\()['"]@opentelemetry\/core['"]/.test(readFileSync(join(dist, file), 'utf8')));
    expect(importing).toEqual([]);
  });
});
