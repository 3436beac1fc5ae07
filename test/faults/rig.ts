import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import type { SGPSpanProcessorOptions } from '../../src/config.js';
import { SGPSpanProcessor } from '../../src/pipeline/processor.js';
import { startSGPTestServer } from '../../src/testing/server.js';
import type { SGPTestServer, SGPTestServerOptions } from '../../src/testing/server.js';
import { ACCOUNT_ID, API_KEY, captureDiag, driveUntil, quiet, virtualClock } from '../helpers.js';
import type { DiagCapture, VirtualClock } from '../helpers.js';

/**
 * One scenario's world: the real test server, a real provider with an SGPSpanProcessor on a
 * virtual clock (backoff waits are instant, pauses and schedules move only when the rig drives
 * the clock), a diag capture, and the canary API key.
 */
export interface Rig {
  server: SGPTestServer;
  processor: SGPSpanProcessor;
  provider: BasicTracerProvider;
  clock: VirtualClock;
  diag: DiagCapture;
  /** Ids of every span ended through `end()`. */
  ended: string[];
  /** Errors from flushes and shutdowns, for the canary check. */
  errors: unknown[];
  end(count: number, name?: string, attributes?: Record<string, string>): string[];
  /** Takes the server away (connections refused) until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** Lets real I/O finish, then moves virtual time to the next due callback, until `condition` holds. */
  driveUntil(condition: () => boolean): Promise<void>;
  /** Lets real I/O finish without moving time. */
  quiet(): Promise<void>;
  /** Drives until nothing is queued, held or in flight. */
  settle(): Promise<void>;
  /** Records a rejection instead of throwing. */
  capture(promise: Promise<unknown>): Promise<unknown>;
  /** The accounting invariant and the canary check. */
  check(): void;
  close(): Promise<void>;
}

export async function makeRig(
  options: Partial<SGPSpanProcessorOptions> = {},
  serverOptions: SGPTestServerOptions = {},
): Promise<Rig> {
  let server = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID, ...serverOptions });
  const port = Number(new URL(server.url).port);
  const clock = virtualClock();
  const diag = captureDiag();
  const processor = new SGPSpanProcessor({
    apiKey: API_KEY,
    accountId: ACCOUNT_ID,
    baseUrl: server.url,
    env: {},
    clock,
    flushOnExit: false,
    ...options,
  });
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  const tracer = provider.getTracer('fault-suite');
  const ended: string[] = [];
  const errors: unknown[] = [];
  let isDown = false;

  const rig: Rig = {
    get server() {
      return server;
    },
    processor,
    provider,
    clock,
    diag,
    ended,
    errors,
    end(count, name = 'span', attributes = {}) {
      const ids: string[] = [];
      for (let i = 0; i < count; i += 1) {
        const span = tracer.startSpan(`${name}-${ended.length}`, { attributes });
        ids.push(span.spanContext().spanId);
        ended.push(span.spanContext().spanId);
        span.end();
      }
      return ids;
    },
    async down() {
      await server.close();
      isDown = true;
    },
    async up() {
      if (!isDown) return;
      server = await startSGPTestServer({ apiKey: API_KEY, accountId: ACCOUNT_ID, ...serverOptions, port });
      isDown = false;
    },
    driveUntil(condition) {
      return driveUntil(clock, condition);
    },
    quiet() {
      return quiet(clock);
    },
    settle() {
      return rig.driveUntil(() => processor.getStats().queued === 0 && processor.getStats().inFlight === 0);
    },
    capture(promise) {
      return promise.then(
        () => undefined,
        (error: unknown) => {
          errors.push(error);
          return error;
        },
      );
    },
    check() {
      const stats = processor.getStats();
      expect(stats.received).toBe(ended.length);
      expect(stats.received).toBe(stats.exported + stats.dropped.total + stats.queued);
      // Each span is on the server at most once (the server keys by trace and span id) ...
      const finals = server.items.filter((item) => item.end_timestamp !== undefined).map((item) => item.id);
      expect(new Set(finals).size).toBe(finals.length);
      // ... only spans we ended are there, and exactly the exported ones are.
      const endedSet = new Set(ended);
      expect(finals.filter((id) => !endedSet.has(id))).toEqual([]);
      expect(finals.length).toBe(stats.exported);
      const everything = JSON.stringify({
        stats,
        log: diag.messages,
        errors: errors.map((e) => (e instanceof Error ? `${e.name}: ${e.message} ${e.stack}` : String(e))),
        requests: server.requests,
      });
      expect(everything).not.toContain(API_KEY);
    },
    async close() {
      let done = false;
      void processor.shutdown().catch(() => undefined).finally(() => {
        done = true;
      });
      await rig.driveUntil(() => done);
      diag.stop();
      if (!isDown) await server.close();
    },
  };
  return rig;
}
