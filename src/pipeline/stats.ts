import type { DisabledReason } from '../config.js';
import type { SGPExportErrorKind } from '../errors.js';

/** The most recent failure, for a status page or a log line. Never contains the API key. */
export interface SGPLastError {
  message: string;
  /** Undefined for a failure that was not an HTTP exchange with SGP (a custom exporter's error, an unmappable span). */
  kind: SGPExportErrorKind | undefined;
  status: number | undefined;
  /** ISO 8601 time of the failure. */
  at: string;
}

export interface SGPDropCounts {
  total: number;
  /** The queue held `maxQueueSize` spans when the span ended. */
  queueFull: number;
  /** Retries ran out on a server error, or the exporter shut down mid-request. */
  exportFailed: number;
  /** The server refused the span (401, 403, 400, 409, 413, 422...): retrying cannot help. */
  rejected: number;
  /** The span could not be mapped to an SGP item. */
  unmappable: number;
  /** Still queued (or waiting out an outage) when `shutdown()` ran out of time. */
  shutdown: number;
}

export interface SGPStats {
  enabled: boolean;
  disabledReason: DisabledReason | undefined;
  /** Sampled spans handed to `onEnd`. Always `exported + dropped.total + queued`. */
  received: number;
  /** Spans the server accepted. */
  exported: number;
  /** Spans not settled yet: waiting in the queue, in exports in flight, or held during an outage. */
  queued: number;
  /** Of `queued`, those in exports in flight. */
  inFlight: number;
  /** Spans `shouldExportSpan` left out (not part of `received`). */
  filtered: number;
  dropped: SGPDropCounts;
  /** In-progress records (`exportOnStart` start records, spans unended at shutdown); not part of `received`. */
  inProgress: { sent: number; superseded: number; dropped: number };
  /** HTTP requests made, retries included (our own exporter), or `export()` calls (any other). */
  exportRequests: number;
  retries: number;
  /** True while SGP is unreachable and batches wait for a retry (`retryLater` outcomes). */
  outage: boolean;
  /** Spans started and not yet ended, tracked for in-progress records (0 when neither feature is on). */
  open: number;
  lastError: SGPLastError | undefined;
}

