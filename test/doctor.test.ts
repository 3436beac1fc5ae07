import { execFile } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';

// Runs the built CLI (npm test builds first) as `npx sgp-otel doctor` would.
const CLI = new URL('../dist/esm/cli/main.js', import.meta.url).pathname;
const KEY = 'sk-doctor-canary-77aa';

function doctor(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'doctor', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, out: `${stdout}${stderr}` });
    });
  });
}

let server: SGPTestServer;
beforeAll(async () => {
  server = await startSGPTestServer({ apiKey: KEY, accountId: 'acct-1' });
});
afterEach(() => server.reset());
afterAll(() => server.close());

describe('npx sgp-otel doctor', () => {
  it('without credentials: exit 1, says which variables to set, makes no request', async () => {
    const { code, out } = await doctor({ SGP_CLIENT_BASE_URL: server.url });
    expect(code).toBe(1);
    expect(out).toContain('FAIL  SGP_API_KEY is not set');
    expect(out).toContain('-> export SGP_ACCOUNT_ID=...');
    expect(server.requests).toHaveLength(0);
  });

  it('with a password in the base URL: exit 1, refuses it, never prints the password', async () => {
    const url = server.url.replace('http://', 'http://user:hunter2-secret@');
    const { code, out } = await doctor({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1', SGP_CLIENT_BASE_URL: url });
    expect(code).toBe(1);
    expect(out).toContain('FAIL  Invalid environment variable SGP_CLIENT_BASE_URL: a user name or password in the URL is not supported');
    expect(out).not.toContain('hunter2-secret');
    expect(out).not.toContain(KEY);
    expect(server.requests).toHaveLength(0);
  });

  it('checks every setting the processor reads: a malformed variable is a FAIL naming it, and the exit code says so', async () => {
    const { code, out } = await doctor({
      SGP_API_KEY: KEY,
      SGP_ACCOUNT_ID: 'acct-1',
      SGP_CLIENT_BASE_URL: server.url,
      SGP_BSP_MAX_QUEUE_SIZE: 'abc',
      SGP_CAPTURE_CONTENT: 'no',
    });
    expect(code).toBe(1);
    expect(out).toContain('FAIL  Invalid environment variable SGP_BSP_MAX_QUEUE_SIZE: expected a whole number from 1 to 1000000, got "abc"; using the default (4000)');
    expect(out).toContain('FAIL  Invalid environment variable SGP_CAPTURE_CONTENT: expected true or false, got "no"; content capture is off (this switch fails closed)');
  });

  it('with a wrong key: exit 2, says the key was refused, never prints it', async () => {
    const { code, out } = await doctor({ SGP_API_KEY: `${KEY}-wrong`, SGP_ACCOUNT_ID: 'acct-1', SGP_CLIENT_BASE_URL: server.url });
    expect(code).toBe(2);
    expect(out).toContain('FAIL  SGP refused the credentials (HTTP 401)');
    expect(out).toContain('-> check SGP_API_KEY');
    expect(out).not.toContain(KEY);
  });

  it('with good credentials: exit 0, sends one test span and reports how long delivery took', async () => {
    const { code, out } = await doctor({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1', SGP_CLIENT_BASE_URL: server.url });
    expect(code).toBe(0);
    expect(out).toContain('ok    SGP accepted the credentials and a test span "sgp-otel doctor"');
    expect(out).toMatch(/ok {4}the test span took \d+ ms to deliver/);
    expect(out).not.toContain(KEY);
    expect(server.items.map((i) => i.name)).toEqual(['sgp-otel doctor']);
  });

  it('--dry-run checks the credentials with an empty batch and writes nothing', async () => {
    const { code, out } = await doctor({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1', SGP_CLIENT_BASE_URL: server.url }, '--dry-run');
    expect(code).toBe(0);
    expect(out).toContain('dry run: an empty batch, nothing written');
    expect(out).not.toMatch(/deliver/);
    expect(server.requests.map((r) => r.ids.length)).toEqual([0]);
    expect(server.items).toEqual([]);
  });

  it('goes out through the proxy the environment names, as the processor does: a dead proxy is exit 3', async () => {
    const { code, out } = await doctor({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1', SGP_CLIENT_BASE_URL: server.url, HTTP_PROXY: 'http://127.0.0.1:9' }, '--dry-run');
    expect(code).toBe(3);
    expect(out).toContain('FAIL  cannot reach');
    expect(server.requests).toHaveLength(0);
  });

  it('when SGP cannot be reached: exit 3', async () => {
    const { code, out } = await doctor({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1', SGP_CLIENT_BASE_URL: 'http://127.0.0.1:1' });
    expect(code).toBe(3);
    expect(out).toContain('FAIL  cannot reach 127.0.0.1:1');
  });

  it('reports disabled tracing as a problem', async () => {
    const { code, out } = await doctor({ SGP_API_KEY: KEY, SGP_ACCOUNT_ID: 'acct-1', SGP_CLIENT_BASE_URL: server.url, DISABLE_SCALE_TRACING: '1', OTEL_SDK_DISABLED: 'true' });
    expect(code).toBe(1);
    expect(out).toContain('FAIL  DISABLE_SCALE_TRACING is set');
    expect(out).toContain('FAIL  OTEL_SDK_DISABLED=true');
  });
});
