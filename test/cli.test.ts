import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSGPTestServer } from '../src/testing/server.js';
import type { SGPTestServer } from '../src/testing/server.js';

// Runs the built CLI (npm test builds first) as `npx sgp-otel ...` would.
const CLI = new URL('../dist/esm/cli/main.js', import.meta.url).pathname;
const USAGE_LINE = 'usage: sgp-otel <command>';

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
  });
}

/** `sgp-otel dev` as a child process; `waitFor` resolves once stdout matches (the test's timeout bounds it). */
function startDev(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'dev', ...args], { env: { PATH: process.env.PATH ?? '' } });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const waitFor = async (pattern: RegExp): Promise<RegExpExecArray> => {
    for (;;) {
      const match = pattern.exec(stdout);
      if (match) return match;
      const more = new Promise<void>((resolve) => waiters.push(resolve));
      const code = await Promise.race([more.then(() => 'more' as const), exited]);
      if (code !== 'more') throw new Error(`sgp-otel dev exited with ${code} before printing ${pattern}: ${stdout}${stderr}`);
    }
  };
  return { child, exited, waitFor, output: () => ({ stdout, stderr }) };
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

let sgp: SGPTestServer;
beforeAll(async () => {
  sgp = await startSGPTestServer();
});
afterEach(() => sgp.reset());
afterAll(() => sgp.close());

describe('sgp-otel command line', () => {
  it('a typo in an option is an error with the usage, and doctor does nothing', async () => {
    const { code, stdout, stderr } = await cli(['doctor', '--dryrun'], { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: sgp.url });
    expect(code).toBe(1);
    expect(stderr).toContain("sgp-otel: Unknown option '--dryrun'");
    expect(stderr).toContain(USAGE_LINE);
    expect(stdout).toBe('');
    expect(sgp.requests).toHaveLength(0);
  });

  it('doctor --dry-run is still understood', async () => {
    const { code, stdout } = await cli(['doctor', '--dry-run'], { SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: sgp.url });
    expect(code).toBe(0);
    expect(stdout).toContain('dry run: an empty batch, nothing written');
    expect(sgp.items).toEqual([]);
  });

  it.each([
    [['doctor', 'extra'], "Unexpected argument 'extra'"],
    [['doctor', '--dry-run=yes'], "Option '--dry-run' does not take an argument"],
    [['dev', '--port'], "Option '--port <value>' argument missing"],
    [['dev', '--port=abc'], '--port: expected a port number (0-65535), got "abc"'],
    [['dev', '--port', '70000'], '--port: expected a port number (0-65535), got "70000"'],
    [['dev', '--prot', '5010'], "Unknown option '--prot'"],
    [['serve'], 'unknown command "serve"'],
  ])('%j: exit 1, says what is wrong, prints the usage', async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(1);
    expect(stderr).toContain(`sgp-otel: ${message}`);
    expect(stderr).toContain(USAGE_LINE);
  });

  it('no command: the usage on stderr, exit 1; help: the usage on stdout, exit 0', async () => {
    const none = await cli([]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(USAGE_LINE);
    for (const args of [['help'], ['--help'], ['dev', '--help'], ['doctor', '-h']]) {
      const help = await cli(args);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(USAGE_LINE);
    }
  });

  it.each([[['--port', '0']], [['--port=0']]])('dev %j listens, and exits 0 on SIGTERM', async (args) => {
    const dev = startDev(args);
    running.push(dev.child);
    const [, url] = await dev.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
    await dev.waitFor(/see them here: +(\S+)\n/);
    expect(dev.output().stdout).toContain(`see them here:     ${url}/`);
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    dev.child.kill('SIGTERM');
    expect(await dev.exited).toBe(0);
  });

  it('dev prints one line per batch it receives', async () => {
    const dev = startDev(['--port', '0']);
    running.push(dev.child);
    const [, url] = await dev.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const items = ['00f067aa0ba902b7', '00f067aa0ba902b8'].map((id) => ({ name: 'step', id, trace_id: traceId, start_timestamp: '2026-11-29T12:00:00Z' }));
    const response = await fetch(`${url}/v5/spans/batch`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-api-key': 'dev', 'x-selected-account-id': 'dev' },
      body: JSON.stringify({ items }),
    });
    expect(response.status).toBe(200);
    await dev.waitFor(/received 2 spans \(trace 4bf92f35…, 1 trace in view\)\n/);
    dev.child.kill('SIGTERM');
    expect(await dev.exited).toBe(0);
  });

  it('dev on a port already in use: exit 1 and says so', async () => {
    const port = new URL(sgp.url).port;
    const { code, stderr } = await cli(['dev', '--port', port]);
    expect(code).toBe(1);
    expect(stderr).toContain(`sgp-otel: port ${port} is in use`);
  });
});
