/**
 * Every source of time and chance sgp-otel uses: schedules, backoff waits, request and mask
 * timeouts, yields to the event loop, and jitter. Tests inject their own so that every wait is
 * exact and moves only when the test moves time; production uses {@link systemClock}.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `callback` once after `ms`; returns a function that cancels it. Must not keep the process alive. */
  schedule(callback: () => void, ms: number): () => void;
  /** Resolves after `ms`, or early (without rejecting) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Resolves on a later turn of the event loop, after pending I/O callbacks. */
  yield(): Promise<void>;
  /**
   * Keeps the process alive until the returned function is called. Held while a `forceFlush()` or
   * `shutdown()` is pending, so that a program awaiting one cannot exit in the middle of a backoff.
   */
  keepAlive(): () => void;
  /** A number in [0, 1), for backoff jitter. */
  random(): number;
}

/** Node's timers wrap any delay above this to 1 ms. */
export const MAX_TIMER_MILLIS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(callback, ms) {
    const timer = setTimeout(callback, Math.min(Math.max(0, ms), MAX_TIMER_MILLIS));
    timer.unref();
    return () => clearTimeout(timer);
  },
  sleep(ms, signal) {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = () => {
        cancel();
        resolve();
      };
      const cancel = systemClock.schedule(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
  yield: () => new Promise((resolve) => setImmediate(resolve)),
  keepAlive() {
    const handle = setInterval(noop, MAX_TIMER_MILLIS);
    return () => clearInterval(handle);
  },
  random: () => Math.random(),
};

function noop(): void {}
