import { execFile } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { diag, DiagLogLevel } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../src/clock.js';

export const API_KEY = 'sk-test-canary-3f9a1c';
export const ACCOUNT_ID = 'acct-test-1';

/**
 * Virtual time: `sleep` records the wait and moves time forward at once; `schedule`d callbacks
 * run only when the test calls `advance`. Jitter is neutral (random() = 0.5) unless set.
 */
export interface VirtualClock extends Clock {
  readonly sleeps: number[];
  /** yield() calls not resumed yet: work in progress that the clock does not time. */
  readonly pendingYields: number;
  /** When the earliest scheduled callback is due, or undefined when none is. */
  nextDue(): number | undefined;
  /** keepAlive() holds not yet released. */
  readonly holds: number;
  advance(ms: number): void;
  setRandom(value: number): void;
}

export function virtualClock(startMillis = Date.UTC(2026, 10, 29, 12, 0, 0)): VirtualClock {
  let now = startMillis;
  let random = 0.5;
  let holds = 0;
  let pendingYields = 0;
  const sleeps: number[] = [];
  let timers: { at: number; callback: () => void }[] = [];
  return {
    sleeps,
    now: () => now,
    async sleep(ms) {
      sleeps.push(ms);
      now += ms;
    },
    schedule(callback, ms) {
      const timer = { at: now + ms, callback };
      timers.push(timer);
      return () => {
        timers = timers.filter((t) => t !== timer);
      };
    },
    random: () => random,
    yield() {
      pendingYields += 1;
      return new Promise<void>((resolve) =>
        setImmediate(() => {
          pendingYields -= 1;
          resolve();
        }),
      );
    },
    get pendingYields() {
      return pendingYields;
    },
    nextDue() {
      return timers.length === 0 ? undefined : Math.min(...timers.map((t) => t.at));
    },
    keepAlive() {
      holds += 1;
      return () => {
        holds -= 1;
      };
    },
    get holds() {
      return holds;
    },
    setRandom(value) {
      random = value;
    },
    advance(ms) {
      now += ms;
      // Callbacks scheduled by a callback for a time already reached run too, as real timers would.
      for (let due = timers.filter((t) => t.at <= now); due.length > 0; due = timers.filter((t) => t.at <= now)) {
        due.sort((a, b) => a.at - b.at);
        timers = timers.filter((t) => t.at > now);
        for (const timer of due) timer.callback();
      }
    },
  };
}

export interface DiagCapture {
  readonly messages: { level: string; message: string }[];
  at(level: string): string[];
  stop(): void;
}

/** Collects everything sent through OpenTelemetry's `diag` until `stop()`. */
export function captureDiag(): DiagCapture {
  const messages: { level: string; message: string }[] = [];
  const log = (level: string) => (message: string, ...args: unknown[]) => {
    messages.push({ level, message: [message, ...args.map((a) => (a instanceof Error ? a.message : String(a)))].join(' ') });
  };
  diag.setLogger(
    { error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), verbose: log('verbose') },
    { logLevel: DiagLogLevel.ALL, suppressOverrideMessage: true },
  );
  return {
    messages,
    at: (level) => messages.filter((m) => m.level === level).map((m) => m.message),
    stop: () => diag.disable(),
  };
}

export function providerWith(...processors: SpanProcessor[]): BasicTracerProvider {
  return new BasicTracerProvider({ spanProcessors: processors });
}

/** Ends `count` root spans named `${prefix}-${i}`; returns their span ids. */
export function endSpans(provider: BasicTracerProvider, count: number, prefix = 'span'): string[] {
  const tracer = provider.getTracer('test');
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const span = tracer.startSpan(`${prefix}-${i}`);
    ids.push(span.spanContext().spanId);
    span.end();
  }
  return ids;
}

/** Lets pending immediates and promise callbacks run. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Numbers the turns of the event loop from now on: `now()` says which one this is, until `stop()`. */
export function countTurns(): { now(): number; stop(): void } {
  let turn = 0;
  let ticking = true;
  const tick = () => {
    turn += 1;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    now: () => turn,
    stop: () => {
      ticking = false;
    },
  };
}

// HTTP requests made through undici (ours and fetch) that have not completed, seen through its
// diagnostics channels: real I/O the virtual clock must wait for before it moves.
const openRequests = new Set<object>();
diagnosticsChannel.subscribe('undici:request:create', (message) => openRequests.add((message as { request: object }).request));
for (const name of ['undici:request:trailers', 'undici:request:error']) {
  diagnosticsChannel.subscribe(name, (message) => openRequests.delete((message as { request: object }).request));
}

/** File system requests Node has under way (they run on its thread pool, not as HTTP requests). */
const FS_REQUESTS = /^(FSReq|FileHandle|CloseReq|StatWatcher)/;

function fsBusy(): boolean {
  return process.getActiveResourcesInfo().some((name) => FS_REQUESTS.test(name));
}

/**
 * Resolves once the program is idle but for the clock: no HTTP request open, no file system
 * request under way (the spool's reads and writes), no `yield()` of the clock pending, for a few
 * turns of the event loop in a row. However slow the machine, time does not move while real work
 * is under way, so virtual timeouts never race real sockets or disks.
 */
export async function quiet(clock?: VirtualClock): Promise<void> {
  for (let calm = 0; calm < 3; ) {
    await nextTurn();
    calm = openRequests.size === 0 && (clock?.pendingYields ?? 0) === 0 && !fsBusy() ? calm + 1 : 0;
  }
}

/**
 * Runs the program on virtual time until `condition` holds: lets real work finish, then moves the
 * clock to the next scheduled callback, and again. Fails when nothing is left to happen.
 */
export async function driveUntil(clock: VirtualClock, condition: () => boolean, maxSteps = 20_000): Promise<void> {
  for (let step = 0; step < maxSteps; step += 1) {
    await quiet(clock);
    if (condition()) return;
    const due = clock.nextDue();
    if (due === undefined) break;
    clock.advance(Math.max(0, due - clock.now()));
  }
  if (!condition()) throw new Error('driveUntil: the condition never held, and nothing is left to happen');
}

export function credentials(baseUrl: string) {
  return { apiKey: API_KEY, accountId: ACCOUNT_ID, baseUrl, env: {} };
}

/**
 * Waits, turn by turn, until `condition` holds: for real I/O whose end is certain (a request
 * reaching the server). The 20 s bound only turns a hang into a clear failure; it is no race.
 */
export async function eventually(condition: () => boolean): Promise<void> {
  const giveUpAt = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error('eventually: the condition never held');
    await nextTurn();
  }
}

export interface ProgramEnded {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node args` as a user would (plain node, default flags), with `env` added to this
 * process's environment less anything that would change sgp-otel's or OpenTelemetry's behaviour.
 */
export function runProgram(args: string[], env: Record<string, string>): Promise<ProgramEnded> {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(SGP_|OTEL_|DISABLE_SCALE_TRACING$|https?_proxy$|no_proxy$)/i.test(name)),
  );
  return new Promise((resolve) => {
    execFile(process.execPath, args, { encoding: 'utf8', env: { ...base, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Arguments that run `source` as an ES module. */
export const esm = (source: string): string[] => ['--input-type=module', '-e', source];
/** Arguments that run `source` as CommonJS, inside an async function. */
export const cjs = (source: string): string[] => ['-e', `(async () => {\n${source}\n})();`];
