import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEGMENT_MAGIC, frameRecords } from '../../src/spool/segment.js';
import { startSGPTestServer } from '../../src/testing/server.js';
import type { SGPTestServer } from '../../src/testing/server.js';

// Runs the built CLI (npm test builds first) as `npx sgp-otel doctor` would.
const CLI = new URL('../../dist/esm/cli/main.js', import.meta.url).pathname;

function doctor(env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'doctor', '--dry-run'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, out: `${stdout}${stderr}` });
    });
  });
}

let server: SGPTestServer;
let dir: string;
beforeAll(async () => {
  server = await startSGPTestServer();
  dir = mkdtempSync(join(tmpdir(), 'sgp-spool-doctor-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
const env = (spoolDir: string) => ({ SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: server.url, SGP_SPOOL_DIR: spoolDir });

describe('npx sgp-otel doctor with SGP_SPOOL_DIR', () => {
  it('reports the spool: path, segments, size against the budget, and the age of its oldest item', async () => {
    const started = Date.now() - 5 * 60_000;
    const segment = Buffer.concat([SEGMENT_MAGIC, frameRecords([Buffer.alloc(300_000, 'x')])]);
    writeFileSync(join(dir, `${String(started).padStart(15, '0')}-0a0b0c0d.seg`), segment);
    writeFileSync(join(dir, `${String(Date.now()).padStart(15, '0')}-0e0f0a0b.seg`), segment);
    const { code, out } = await doctor({ ...env(dir), SGP_SPOOL_MAX_BYTES: String(64 * 1024 * 1024) });
    expect(out).toContain(`info  spool ${dir}: 2 segments, 0.6 MiB of 64.0 MiB, oldest item at most 5 min old`);
    expect(code).toBe(0);
  });

  it('a spool directory that does not exist yet is reported, not a failure', async () => {
    const { code, out } = await doctor(env(join(dir, 'later')));
    expect(out).toContain(`info  spool ${join(dir, 'later')} does not exist yet (created when a processor starts), budget 256.0 MiB`);
    expect(code).toBe(0);
  });

  it('one that cannot be used is a warning with what to do, and exit 1', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    const { code, out } = await doctor(env(join(dir, 'a-file')));
    expect(out).toContain(`warn  spool ${join(dir, 'a-file')} cannot be used: ENOTDIR`);
    expect(out).toContain('-> fix the directory or its permissions, or unset SGP_SPOOL_DIR');
    expect(code).toBe(1);
  });

  it('a malformed SGP_SPOOL_MAX_BYTES is a FAIL naming it', async () => {
    const { code, out } = await doctor({ ...env(dir), SGP_SPOOL_MAX_BYTES: '1GB' });
    expect(out).toContain('FAIL  Invalid environment variable SGP_SPOOL_MAX_BYTES: expected a whole number >= 65536, got "1GB"');
    expect(code).toBe(1);
  });
});
