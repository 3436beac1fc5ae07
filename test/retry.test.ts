import { describe, expect, it } from 'vitest';
import { classifyFailure } from '../src/delivery/classify.js';
import { backoffMillis, decideRetry, DEFAULT_RETRY_POLICY, isRetryable, parseRetryAfter, serverRequestedWait } from '../src/delivery/retry.js';

const timing = (nowMillis = 0, deadlineMillis = 1e9, random = 0.5) => ({ nowMillis, deadlineMillis, random });

describe('backoffMillis', () => {
  it('doubles from 400 ms and is capped at maxBackoffMillis', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMillis(n, DEFAULT_RETRY_POLICY, 0.5));
    expect(waits).toEqual([400, 800, 1600, 3200, 6400, 12800, 20000, 20000]);
  });

  it('applies at most +-20% jitter and never exceeds the cap', () => {
    expect(backoffMillis(1, DEFAULT_RETRY_POLICY, 0)).toBe(320);
    expect(backoffMillis(1, DEFAULT_RETRY_POLICY, 0.999999)).toBe(480);
    expect(backoffMillis(7, DEFAULT_RETRY_POLICY, 0.999999)).toBe(20000);
  });
});

describe('isRetryable', () => {
  it.each([408, 429, 500, 502, 503, 504])('retries HTTP %i', (status) => {
    expect(isRetryable({ kind: 'http', status })).toBe(true);
  });
  it.each([400, 401, 403, 404, 409, 413, 422])('does not retry HTTP %i', (status) => {
    expect(isRetryable({ kind: 'http', status })).toBe(false);
  });
  it('retries network errors and timeouts, not shutdown', () => {
    expect(isRetryable({ kind: 'network' })).toBe(true);
    expect(isRetryable({ kind: 'timeout' })).toBe(true);
    expect(isRetryable({ kind: 'shutdown' })).toBe(false);
  });
});

describe('classifyFailure: what becomes of a batch once retrying is over', () => {
  it.each([
    [{ kind: 'network' as const }, { retry: true, then: 'hold' }],
    [{ kind: 'timeout' as const }, { retry: true, then: 'hold' }],
    [{ kind: 'shutdown' as const }, { retry: false, then: 'abandon' }],
    [{ kind: 'http' as const, status: 408 }, { retry: true, then: 'hold' }],
    [{ kind: 'http' as const, status: 429 }, { retry: true, then: 'hold' }],
    [{ kind: 'http' as const, status: 502 }, { retry: true, then: 'hold' }],
    [{ kind: 'http' as const, status: 503 }, { retry: true, then: 'hold' }],
    [{ kind: 'http' as const, status: 504 }, { retry: true, then: 'hold' }],
    [{ kind: 'http' as const, status: 500 }, { retry: true, then: 'fail' }],
    [{ kind: 'http' as const, status: 507 }, { retry: true, then: 'fail' }],
    [{ kind: 'http' as const, status: 400 }, { retry: false, then: 'split' }],
    [{ kind: 'http' as const, status: 409 }, { retry: false, then: 'split' }],
    [{ kind: 'http' as const, status: 413 }, { retry: false, then: 'split' }],
    [{ kind: 'http' as const, status: 422 }, { retry: false, then: 'split' }],
    [{ kind: 'http' as const, status: 401 }, { retry: false, then: 'reject' }],
    [{ kind: 'http' as const, status: 403 }, { retry: false, then: 'reject' }],
    [{ kind: 'http' as const, status: 404 }, { retry: false, then: 'reject' }],
    [{ kind: 'http' as const, status: 301 }, { retry: false, then: 'fail' }],
    [{ kind: 'http' as const, status: 307 }, { retry: false, then: 'fail' }],
  ])('%o -> %o', (failure, rule) => {
    expect(classifyFailure(failure)).toEqual(rule);
  });
});

describe('decideRetry', () => {
  it('allows 4 attempts in total with 400, 800, 1600 ms between them', () => {
    const failure = { kind: 'http' as const, status: 503 };
    const decisions = [1, 2, 3, 4].map((attempt) => decideRetry(failure, attempt, DEFAULT_RETRY_POLICY, timing()));
    expect(decisions).toEqual([
      { retry: true, delayMillis: 400 },
      { retry: true, delayMillis: 800 },
      { retry: true, delayMillis: 1600 },
      { retry: false, reason: 'attempts_exhausted' },
    ]);
  });

  it('stops at once on a permanent failure', () => {
    expect(decideRetry({ kind: 'http', status: 422 }, 1, DEFAULT_RETRY_POLICY, timing())).toEqual({
      retry: false,
      reason: 'not_retryable',
    });
  });

  it('uses the server-requested wait instead of the computed one', () => {
    const failure = { kind: 'http' as const, status: 429, retryAfterMillis: 7000 };
    expect(decideRetry(failure, 1, DEFAULT_RETRY_POLICY, timing())).toEqual({ retry: true, delayMillis: 7000 });
  });

  it('caps a server-requested wait above 60 s at 60 s (the one Retry-After rule)', () => {
    const failure = { kind: 'http' as const, status: 503, retryAfterMillis: 120_000 };
    expect(serverRequestedWait(failure)).toBe(60_000);
    expect(decideRetry(failure, 1, DEFAULT_RETRY_POLICY, timing())).toEqual({ retry: true, delayMillis: 60_000 });
  });

  it('computes its own wait when the server asked for none, or for 0', () => {
    expect(serverRequestedWait({ kind: 'http', status: 503 })).toBeUndefined();
    expect(serverRequestedWait({ kind: 'http', status: 503, retryAfterMillis: 0 })).toBeUndefined();
    expect(decideRetry({ kind: 'http', status: 503, retryAfterMillis: 0 }, 1, DEFAULT_RETRY_POLICY, timing())).toEqual({
      retry: true,
      delayMillis: 400,
    });
  });

  it('does not start a wait that would end past the deadline', () => {
    const failure = { kind: 'network' as const };
    expect(decideRetry(failure, 1, DEFAULT_RETRY_POLICY, timing(1000, 1400))).toEqual({ retry: false, reason: 'deadline' });
    expect(decideRetry(failure, 1, DEFAULT_RETRY_POLICY, timing(1000, 1401))).toEqual({ retry: true, delayMillis: 400 });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 10, 29, 12, 0, 0);

  it('reads delta-seconds', () => {
    expect(parseRetryAfter({ 'retry-after': '3' }, now)).toBe(3000);
    expect(parseRetryAfter({ 'retry-after': ' 1.5 ' }, now)).toBe(1500);
  });

  it('reads an HTTP date relative to now, and a past date as 0', () => {
    expect(parseRetryAfter({ 'retry-after': new Date(now + 5000).toUTCString() }, now)).toBe(5000);
    expect(parseRetryAfter({ 'retry-after': new Date(now - 5000).toUTCString() }, now)).toBe(0);
  });

  it('prefers retry-after-ms', () => {
    expect(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '9' }, now)).toBe(250);
  });

  it('returns undefined for absent or unreadable values', () => {
    expect(parseRetryAfter({}, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(parseRetryAfter({ 'retry-after': '-3' }, now)).toBeUndefined();
  });
});
