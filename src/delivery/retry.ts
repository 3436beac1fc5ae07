import type { RetryPolicy } from '../config.js';
import type { AttemptFailure } from './classify.js';
import { classifyFailure } from './classify.js';

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

/** The longest wait a server's `Retry-After` can impose; a longer request is capped to it. */
export const MAX_RETRY_AFTER_MILLIS = 60_000;

export type RetryDecision =
  | { retry: true; delayMillis: number }
  | { retry: false; reason: 'not_retryable' | 'attempts_exhausted' | 'deadline' };

export function isRetryable(failure: AttemptFailure): boolean {
  return classifyFailure(failure).retry;
}

/**
 * The one rule for a server-requested wait (`Retry-After`, `retry-after-ms`): honoured when
 * positive, capped at {@link MAX_RETRY_AFTER_MILLIS}; undefined when the server asked for none.
 */
export function serverRequestedWait(failure: AttemptFailure): number | undefined {
  const requested = failure.retryAfterMillis;
  if (requested === undefined || !(requested > 0)) return undefined;
  return Math.min(requested, MAX_RETRY_AFTER_MILLIS);
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
  const delayMillis = serverRequestedWait(failure) ?? backoffMillis(attemptsMade, policy, timing.random);
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
