/** Invalid configuration: thrown at construction, names the option or variable and the bad value. */
export class SGPConfigError extends Error {
  override readonly name = 'SGPConfigError';
}

/** What went wrong with one request to SGP. */
export type SGPExportErrorKind =
  /** The server answered with a non-2xx status. */
  | 'http'
  /** The connection failed (refused, reset, DNS, TLS). */
  | 'network'
  /** The request did not complete within `timeoutMillis` or the export deadline. */
  | 'timeout'
  /** The exporter was shut down while the request was in flight. */
  | 'shutdown';

/**
 * A failed export, as a value a caller can act on. The message never contains the API key and
 * carries at most a short excerpt of the server's answer.
 */
export class SGPExportError extends Error {
  override readonly name = 'SGPExportError';
  readonly kind: SGPExportErrorKind;
  readonly status: number | undefined;
  readonly retryable: boolean;
  /** The server's requested wait (`Retry-After` / `retry-after-ms`), when it sent one. */
  readonly retryAfterMillis: number | undefined;
  /** The system error code for network failures, e.g. `ECONNREFUSED`. */
  readonly code: string | undefined;

  constructor(
    message: string,
    details: {
      kind: SGPExportErrorKind;
      retryable: boolean;
      status?: number;
      retryAfterMillis?: number;
      code?: string;
    },
  ) {
    super(message);
    this.kind = details.kind;
    this.retryable = details.retryable;
    this.status = details.status;
    this.retryAfterMillis = details.retryAfterMillis;
    this.code = details.code;
  }

  /** The same failure with another message. */
  withMessage(message: string): SGPExportError {
    return new SGPExportError(message, {
      kind: this.kind,
      retryable: this.retryable,
      status: this.status,
      retryAfterMillis: this.retryAfterMillis,
      code: this.code,
    });
  }
}

/** `forceFlush()` or `shutdown()` finished without delivering every span it covered. */
export class SGPFlushError extends Error {
  override readonly name = 'SGPFlushError';
  /** How many of the spans the call covered were not delivered (dropped, or still pending). */
  readonly undelivered: number;
  /** True when the call gave up at its timeout rather than after every export settled. */
  readonly timedOut: boolean;

  constructor(message: string, undelivered: number, timedOut: boolean) {
    super(message);
    this.undelivered = undelivered;
    this.timedOut = timedOut;
  }
}
