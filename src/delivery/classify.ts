/**
 * The one table that says what a failed attempt means. The retry loop asks it whether to try
 * again; the exporter asks it what to do with the batch once retrying is over.
 */

/** What a failed attempt looked like, as far as the decisions here care. */
export interface AttemptFailure {
  kind: 'http' | 'network' | 'timeout' | 'shutdown';
  status?: number;
  retryAfterMillis?: number;
  /** For network failures: the error code (`ECONNREFUSED`, undici's `UND_ERR_*`). */
  code?: string;
}

/**
 * What becomes of a batch once no further attempt will be made:
 * - `hold`: SGP is unreachable or overloaded; the processor keeps the spans and sends them later.
 * - `split`: SGP refused the content; halve the batch to find the items at fault.
 * - `reject`: SGP refused the request itself (credentials, path); the spans are dropped as `rejected`.
 * - `fail`: a server error that outlasted the retries, possibly caused by the batch, or a redirect: `exportFailed`.
 * - `abandon`: the exporter was shut down mid-request: counted under `shutdown`.
 */
export type FinalAction = 'hold' | 'split' | 'reject' | 'fail' | 'abandon';

export interface FailureRule {
  /** Whether another attempt at the same request may succeed. */
  retry: boolean;
  /** What to do when no further attempt is made. */
  then: FinalAction;
}

/** undici's codes for a request it would not send: nothing to do with SGP being reachable. */
const LOCAL_REFUSALS: ReadonlySet<string> = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_URL']);
/** Statuses that say SGP is unavailable rather than the batch bad. */
const OUTAGE_STATUSES: ReadonlySet<number> = new Set([408, 429, 502, 503, 504]);
/** Statuses that describe the request's content (400 bad bytes, 409 parent cycle, 413 size, 422 schema). */
const CONTENT_STATUSES: ReadonlySet<number> = new Set([400, 409, 413, 422]);

export function classifyFailure(failure: AttemptFailure): FailureRule {
  switch (failure.kind) {
    case 'network':
      // undici refused to send the request at all (an invalid header, say): no outage, and no retry will help.
      if (failure.code !== undefined && LOCAL_REFUSALS.has(failure.code)) return { retry: false, then: 'fail' };
      return { retry: true, then: 'hold' };
    case 'timeout':
      return { retry: true, then: 'hold' };
    case 'shutdown':
      return { retry: false, then: 'abandon' };
    case 'http': {
      const status = failure.status ?? 0;
      if (OUTAGE_STATUSES.has(status)) return { retry: true, then: 'hold' };
      // A 500 may be caused by the batch itself: retried, then dropped rather than held forever.
      if (status >= 500) return { retry: true, then: 'fail' };
      if (CONTENT_STATUSES.has(status)) return { retry: false, then: 'split' };
      // A redirect is not followed (the key goes to SGP's endpoint only): nothing SGP said about
      // the spans, and no answer at all, so neither a refusal nor an outage.
      if (status >= 300 && status < 400) return { retry: false, then: 'fail' };
      return { retry: false, then: 'reject' };
    }
  }
}
