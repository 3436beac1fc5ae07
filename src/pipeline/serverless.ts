import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { createLogger } from '../log.js';

/** Anything with OpenTelemetry's forceFlush: a tracer provider, NodeSDK's provider, or the processor itself. */
export interface Flushable {
  forceFlush(): Promise<void>;
}

export interface WithSGPFlushOptions {
  /** What to flush after each invocation: usually the tracer provider (or the SGPSpanProcessor). */
  provider: Flushable;
  /** Longest the flush may add to an invocation, in ms. Default 10000. */
  timeoutMillis?: number;
  /** Times the flush; for tests. Default: the system clock. */
  clock?: Clock;
}

/**
 * Flushes `provider`, never longer than `timeoutMillis` and never throwing: a failed or slow
 * flush is reported as a warning (diag, or stderr without a diag logger) and the caller goes on.
 */
async function flushWithin(provider: Flushable, timeoutMillis: number, clock: Clock): Promise<void> {
  const log = createLogger('warn');
  let cancel = (): void => undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    cancel = clock.schedule(() => resolve('timeout'), timeoutMillis);
  });
  try {
    const outcome = await Promise.race([provider.forceFlush().then(() => 'done' as const), timeout]);
    if (outcome === 'timeout') log.warn(`sgp-otel: flush did not finish within ${timeoutMillis} ms; some spans may be lost when the runtime freezes`);
  } catch (error) {
    log.warn(`sgp-otel: flush after the handler failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    cancel();
  }
}

/**
 * Wraps an async handler (AWS Lambda style) so that spans are flushed after it returns or throws,
 * before the runtime can freeze the process. The handler's own result or error is passed through
 * unchanged; the flush never turns a success into a failure.
 */
export function withSGPFlush<Args extends unknown[], Result>(
  handler: (...args: Args) => Result | Promise<Result>,
  options: WithSGPFlushOptions,
): (...args: Args) => Promise<Result> {
  if (typeof handler !== 'function') throw new TypeError('withSGPFlush: handler must be a function');
  if (typeof options?.provider?.forceFlush !== 'function') {
    throw new TypeError('withSGPFlush: options.provider must have a forceFlush() method (a tracer provider or SGPSpanProcessor)');
  }
  const timeoutMillis = options.timeoutMillis ?? 10_000;
  const clock = options.clock ?? systemClock;
  return async (...args: Args): Promise<Result> => {
    try {
      return await handler(...args);
    } finally {
      await flushWithin(options.provider, timeoutMillis, clock);
    }
  };
}
