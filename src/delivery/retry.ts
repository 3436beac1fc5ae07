import type { RetryPolicy } from '../config.js';

/**
 * The retry policy of the official SGP SDK: 4 attempts per batch, waits of 0.4 s, 0.8 s, 1.6 s
 * (doubling, capped), with jitter; a server's `Retry-After` replaces the computed wait.
 * Everything here is a pure function of its arguments.
 */

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  initialBackoffMillis: 400,
  maxBackoffMillis: 20_000,
  jitterRatio: 0.2,
};

/** The official SDK honours a server-requested wait only within this bound. */
export const MAX_RETRY_AFTER_MILLIS = 60_000;

/** What a failed attempt looked like, as far as the retry decision cares. */
export interface AttemptFailure {
  kind: 'http' | 'network' | 'timeout' | 'shutdown';
  status?: number;
  retryAfterMillis?: number;
}

export type RetryDecision =
  | { retry: true; delayMillis: number }
  | { retry: false; reason: 'not_retryable' | 'attempts_exhausted' | 'deadline' };

/**
 * Connection errors, timeouts, 408, 429 and 5xx may succeed later. Every other 4xx describes the
 * request itself (400 bad bytes, 401/403 credentials, 409 parent cycle, 413 size, 422 content):
 * sending it again cannot succeed.
 */
export function isRetryable(failure: AttemptFailure): boolean {
  switch (failure.kind) {
    case 'network':
    case 'timeout':
      return true;
    case 'shutdown':
      return false;
    case 'http': {
      const status = failure.status ?? 0;
      return status === 408 || status === 429 || status >= 500;
    }
  }
}

/** The computed wait after `attemptsMade` failed attempts (1 -> initial, 2 -> double, ...). */
export function backoffMillis(attemptsMade: number, policy: RetryPolicy, random: number): number {
  const exponential = policy.initialBackoffMillis * 2 ** Math.max(0, attemptsMade - 1);
  const capped = Math.min(exponential, policy.maxBackoffMillis);
  const factor = 1 + policy.jitterRatio * (2 * random - 1);
  return Math.round(Math.min(capped * factor, policy.maxBackoffMillis));
}

/**
 * Whether to try again after `attemptsMade` attempts ended in `failure`, and how long to wait.
 * A wait that would end after `deadlineMillis` is not started: the export gives up instead.
 */
export function decideRetry(
  failure: AttemptFailure,
  attemptsMade: number,
  policy: RetryPolicy,
  timing: { nowMillis: number; deadlineMillis: number; random: number },
): RetryDecision {
  if (!isRetryable(failure)) return { retry: false, reason: 'not_retryable' };
  if (attemptsMade >= policy.maxAttempts) return { retry: false, reason: 'attempts_exhausted' };
  const requested = failure.retryAfterMillis;
  const delayMillis =
    requested !== undefined && requested > 0 && requested <= MAX_RETRY_AFTER_MILLIS
      ? requested
      : backoffMillis(attemptsMade, policy, timing.random);
  if (timing.nowMillis + delayMillis >= timing.deadlineMillis) return { retry: false, reason: 'deadline' };
  return { retry: true, delayMillis };
}

/**
 * The server's requested wait in ms: `retry-after-ms` (milliseconds), else `Retry-After` as
 * delta-seconds or an HTTP date. Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(
  headers: { 'retry-after-ms'?: string | undefined; 'retry-after'?: string | undefined },
  nowMillis: number,
): number | undefined {
  const millis = headers['retry-after-ms']?.trim();
  if (millis && /^\d+(\.\d+)?$/.test(millis)) return Math.round(Number(millis));
  const value = headers['retry-after']?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  // An HTTP date names its month; without this, Date.parse reads "-3" as the year -3.
  if (!/[a-z]/i.test(value)) return undefined;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMillis);
}
