import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseSegment } from '../../src/spool/segment.js';
import { startSGPTestServer } from '../../src/testing/server.js';
import type { SGPTestServer } from '../../src/testing/server.js';

// Real processes, killed as a crash kills them (SIGKILL), on the built package (npm test builds
// first), with a spool directory of real files. What is checked is what reached the server.

let dir: string;
let server: SGPTestServer | undefined;
const children = new Set<ChildProcess>();
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sgp-spool-crash-'));
});
afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A port nothing listens on now, where the test server starts later: SGP is down, then back. */
async function downPort(): Promise<number> {
  const probe = await startSGPTestServer();
  const port = Number(new URL(probe.url).port);
  await probe.close();
  return port;
}

const env = (port: number) => {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(SGP_|OTEL_|DISABLE_SCALE_TRACING$)/.test(name)));
  return { ...base, SGP_API_KEY: 'k', SGP_ACCOUNT_ID: 'a', SGP_CLIENT_BASE_URL: `http://127.0.0.1:${port}`, SGP_SPOOL_DIR: dir, SGP_LOG_LEVEL: 'none' };
};

// Ends 20 spans every 5 ms, forever, and prints its stats after each round.
const PRODUCER = `
  import { SGPSpanProcessor } from 'sgp-otel';
  import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
  const processor = new SGPSpanProcessor({ maxAttempts: 1, scheduledDelayMillis: 20, maxQueueSize: 400, flushOnExit: false, spoolMaxBytes: 2 * 1024 * 1024 });
  const tracer = new BasicTracerProvider({ spanProcessors: [processor] }).getTracer('crash');
  let ended = 0;
  setInterval(() => {
    for (let i = 0; i < 20; i += 1) tracer.startSpan('crash-' + process.pid + '-' + ended++).end();
    const stats = processor.getStats();
    console.log(JSON.stringify({ ended, spooled: stats.spooled, dropped: stats.dropped.total }));
  }, 5);`;

// Starts, lets the spool replay until the directory is empty, shuts down and prints its stats.
const REPLAYER = `
  import { readdirSync } from 'node:fs';
  import { SGPSpanProcessor } from 'sgp-otel';
  const processor = new SGPSpanProcessor({ flushOnExit: false, spoolMaxBytes: 2 * 1024 * 1024 });
  const poll = setInterval(async () => {
    if (readdirSync(process.env.SGP_SPOOL_DIR).length > 0) return;
    clearInterval(poll);
    await processor.shutdown();
    console.log(JSON.stringify(processor.getStats()));
  }, 20);`;

function start(source: string, port: number): { child: ChildProcess; lines: string[]; exited: Promise<void> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { env: env(port), stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, lines, exited };
}

/** Waits for real processes; the bound only turns a hang into a clear failure. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const giveUpAt = Date.now() + 25_000;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const last = (lines: string[]) => (lines.length === 0 ? undefined : (JSON.parse(lines[lines.length - 1]!) as Record<string, number>));

/** Ids of every whole record in the spool directory, whatever state its segment is in. */
function idsOnDisk(): string[] {
  const ids: string[] = [];
  for (const name of readdirSync(dir)) {
    for (const record of parseSegment(readFileSync(join(dir, name))).records) ids.push((JSON.parse(record.toString()) as { id: string }).id);
  }
  return ids;
}

/** Kills a producer once it has handed `count` spans to the spool, while it keeps producing. */
async function produceAndKill(port: number, count: number): Promise<number> {
  const producer = start(PRODUCER, port);
  await until(() => (last(producer.lines)?.spooled ?? 0) >= count, `the producer to spool ${count} spans`);
  const reported = last(producer.lines)!.spooled!;
  producer.child.kill('SIGKILL');
  await producer.exited;
  return reported;
}

describe('the spool across crashes and processes', () => {
  it('a process killed with SIGKILL during an outage: every span it had handed to the spool arrives after a restart', async () => {
    const port = await downPort();
    const reported = await produceAndKill(port, 300);
    const spooled = new Set(idsOnDisk());
    // Each span the process counted as spooled is on disk as a whole record (a torn one would be its last write).
    expect(spooled.size).toBeGreaterThanOrEqual(reported);

    server = await startSGPTestServer({ port });
    const replayer = start(REPLAYER, port);
    await replayer.exited;
    const stats = last(replayer.lines) as unknown as { replayed: number; spool: { dropped: { total: number; corrupt: number } } };
    const delivered = new Set(server.items.map((item) => item.id));
    expect([...spooled].filter((id) => !delivered.has(id))).toEqual([]);
    expect(stats.replayed).toBeGreaterThanOrEqual(spooled.size);
    // The only loss a kill may cause is the torn record it was writing, and that one was never counted as spooled.
    expect(stats.spool.dropped.total).toBe(stats.spool.dropped.corrupt);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('two processes sharing one directory: both spool, both replay, and no segment is sent twice', async () => {
    const port = await downPort();
    await Promise.all([produceAndKill(port, 600), produceAndKill(port, 600)]);
    const spooled = idsOnDisk();
    expect(new Set(spooled.map((id) => id)).size).toBe(spooled.length);

    server = await startSGPTestServer({ port });
    const replayers = [start(REPLAYER, port), start(REPLAYER, port)];
    await Promise.all(replayers.map((replayer) => replayer.exited));
    const replayed = replayers.map((replayer) => (last(replayer.lines) as unknown as { replayed: number }).replayed);
    const delivered = new Set(server.items.map((item) => item.id));
    expect(spooled.filter((id) => !delivered.has(id))).toEqual([]);
    // Each item went out once: a segment is claimed by one process at a time.
    const sent = server.requests.filter((request) => request.status === 200).flatMap((request) => request.ids);
    expect(sent.length).toBe(spooled.length);
    expect(replayed[0]! + replayed[1]!).toBe(spooled.length);
  });
});
