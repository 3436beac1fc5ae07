import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';
import { esm, runProgram } from './helpers.js';

// What a newcomer sees on stderr, in a real program, with and without a diag logger.
const KEY = 'sk-first-run-canary-91c2';

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer({ apiKey: KEY, accountId: 'acct-1' });
});
afterEach(() => server.reset());
afterAll(() => server.close());

/** A tiny app: three spans, a flush whose failure it catches, then it says it is still running. */
function app(setup = ''): string[] {
  return esm(`
    import { SGPSpanProcessor } from 'sgp-otel';
    import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
    import { diag, DiagConsoleLogger, DiagLogLevel } from '@opentelemetry/api';
    ${setup}
    const provider = new BasicTracerProvider({ spanProcessors: [new SGPSpanProcessor()] });
    for (const name of ['a', 'b', 'c']) provider.getTracer('app').startSpan(name).end();
    await provider.forceFlush().catch(() => undefined);
    await provider.shutdown().catch(() => undefined);
    console.log('app still running');`);
}

const lines = (text: string) => text.split('\n').filter((line) => line !== '');
const env = (extra: Record<string, string> = {}) => ({ SGP_CLIENT_BASE_URL: server.url, ...extra });

describe('first run, no diag logger installed: one clear line on stderr', () => {
  it('no key: says sgp-otel is disabled and why, and the app keeps running', async () => {
    const ended = await runProgram(app(), env());
    expect(ended).toMatchObject({ code: 0, stdout: 'app still running\n' });
    expect(lines(ended.stderr)).toEqual([
      'sgp-otel: SGPSpanProcessor is disabled: SGP_API_KEY and SGP_ACCOUNT_ID are not set (pass apiKey/accountId or set the environment variable). No spans will be sent.',
    ]);
  });

  it('wrong key: says SGP refused the credentials and how many spans were dropped, never the key', async () => {
    const ended = await runProgram(app(), env({ SGP_API_KEY: `${KEY}-wrong`, SGP_ACCOUNT_ID: 'acct-1' }));
    expect(ended).toMatchObject({ code: 0, stdout: 'app still running\n' });
    expect(lines(ended.stderr)).toEqual([
      'sgp-otel: SGP refused the credentials (HTTP 401): check SGP_API_KEY (apiKey): the key is wrong or revoked. Spans are dropped until this is fixed.',
      'sgp-otel: dropped 3 spans (rejected by SGP): SGP answered HTTP 401: Invalid API key',
    ]);
    expect(ended.stderr).not.toContain(KEY);
  });

  it('a malformed variable: names it and the value, uses the default, and delivers', async () => {
    const ended = await runProgram(app(), env({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1', SGP_BSP_MAX_EXPORT_BATCH_SIZE: 'abc' }));
    expect(ended).toMatchObject({ code: 0, stdout: 'app still running\n' });
    expect(lines(ended.stderr)).toEqual([
      'sgp-otel: Invalid environment variable SGP_BSP_MAX_EXPORT_BATCH_SIZE: expected a whole number from 1 to 1000, got "abc"; using the default (50)',
    ]);
    expect(server.items.map((item) => item.name).sort()).toEqual(['a', 'b', 'c']);
  });

  it('a good setup: silence, and every span delivered', async () => {
    const ended = await runProgram(app(), env({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1' }));
    expect(ended).toMatchObject({ code: 0, stdout: 'app still running\n', stderr: '' });
    expect(server.items).toHaveLength(3);
  });

  it('SGP_LOG_LEVEL=none silences it; SGP_LOG_LEVEL=error keeps warnings out', async () => {
    for (const level of ['none', 'error']) {
      const ended = await runProgram(app(), env({ SGP_LOG_LEVEL: level }));
      expect(ended).toMatchObject({ code: 0, stderr: '' });
    }
  });
});

describe('first run, a program that exits at once', () => {
  it('still says sgp-otel is disabled, even with process.exit right after start-up', async () => {
    const ended = await runProgram(
      esm(`
        import { SGPSpanProcessor } from 'sgp-otel';
        new SGPSpanProcessor();
        process.exit(0);`),
      env(),
    );
    expect(ended.code).toBe(0);
    expect(lines(ended.stderr)).toEqual([
      'sgp-otel: SGPSpanProcessor is disabled: SGP_API_KEY and SGP_ACCOUNT_ID are not set (pass apiKey/accountId or set the environment variable). No spans will be sent.',
    ]);
  });

  it('a malformed proxy variable, or an http:// base URL elsewhere: one line each, and the app runs on', async () => {
    const setups: Record<string, string>[] = [{ HTTPS_PROXY: 'http://user:pw@proxy corp:8080' }, { SGP_CLIENT_BASE_URL: 'http://sgp-dev:5003' }];
    for (const extra of setups) {
      const ended = await runProgram(app(), env({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1', ...extra }));
      expect(ended).toMatchObject({ code: 0, stdout: 'app still running\n' });
      expect(lines(ended.stderr)).toHaveLength(1);
      expect(ended.stderr).toMatch(/^sgp-otel: Invalid environment variable (HTTPS_PROXY|SGP_CLIENT_BASE_URL)/);
      expect(ended.stderr).not.toContain('pw@');
    }
  });
});

describe('first run with a diag logger installed: each message appears once, through it', () => {
  it('no key, DiagConsoleLogger at WARN: the warning appears once', async () => {
    const ended = await runProgram(app('diag.setLogger(new DiagConsoleLogger(), DiagLogLevel.WARN);'), env());
    expect(ended.code).toBe(0);
    expect(lines(ended.stderr).filter((line) => line.includes('SGPSpanProcessor is disabled'))).toHaveLength(1);
  });

  it('NodeSDK with OTEL_LOG_LEVEL=info, installed by start() after the processor was built: the warning still appears, once', async () => {
    const ended = await runProgram(
      esm(`
        import { NodeSDK } from '@opentelemetry/sdk-node';
        import { SGPSpanProcessor } from 'sgp-otel';
        const sdk = new NodeSDK({ serviceName: 'first-run', spanProcessors: [new SGPSpanProcessor()], instrumentations: [] });
        sdk.start();
        await sdk.shutdown();
        console.log('app still running');`),
      env({ OTEL_LOG_LEVEL: 'info' }),
    );
    expect(ended).toMatchObject({ code: 0, stdout: expect.stringContaining('app still running') });
    const output = `${ended.stdout}${ended.stderr}`;
    expect(output.split('SGPSpanProcessor is disabled: SGP_API_KEY and SGP_ACCOUNT_ID are not set').length - 1).toBe(1);
  });

  it('NodeSDK without OTEL_LOG_LEVEL: the warning reaches stderr on its own', async () => {
    const ended = await runProgram(
      esm(`
        import { NodeSDK } from '@opentelemetry/sdk-node';
        import { SGPSpanProcessor } from 'sgp-otel';
        const sdk = new NodeSDK({ serviceName: 'first-run', spanProcessors: [new SGPSpanProcessor()], instrumentations: [] });
        sdk.start();
        await sdk.shutdown();`),
      env(),
    );
    expect(ended.code).toBe(0);
    expect(lines(ended.stderr)).toContain(
      'sgp-otel: SGPSpanProcessor is disabled: SGP_API_KEY and SGP_ACCOUNT_ID are not set (pass apiKey/accountId or set the environment variable). No spans will be sent.',
    );
  });
});
