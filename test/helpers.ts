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
  /** keepAlive() holds not yet released. */
  readonly holds: number;
  advance(ms: number): void;
  setRandom(value: number): void;
}

export function virtualClock(startMillis = Date.UTC(2026, 10, 29, 12, 0, 0)): VirtualClock {
  let now = startMillis;
  let random = 0.5;
  let holds = 0;
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
    yield: () => new Promise<void>((resolve) => setImmediate(resolve)),
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
      const due = timers.filter((t) => t.at <= now).sort((a, b) => a.at - b.at);
      timers = timers.filter((t) => t.at > now);
      for (const timer of due) timer.callback();
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

export function credentials(baseUrl: string) {
  return { apiKey: API_KEY, accountId: ACCOUNT_ID, baseUrl, env: {} };
}

/** Waits (turn by turn, at most `turns` event-loop turns) until `condition` holds; fails otherwise. */
export async function eventually(condition: () => boolean, turns = 2000): Promise<void> {
  for (let i = 0; i < turns; i += 1) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  throw new Error('condition never held');
}
