import type { DisabledReason } from '../config.js';
import type { SGPExportErrorKind } from '../errors.js';
import { SGPExportError } from '../errors.js';
import type { Logger } from '../log.js';
import { DropLog } from './drop-log.js';

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
  /** Retries ran out on a server error (a 500, say), or a custom exporter reported a failure. */
  exportFailed: number;
  /** The server refused the span (401, 403, 400, 409, 413, 422...): retrying cannot help. */
  rejected: number;
  /** The span could not be mapped to an SGP item. */
  unmappable: number;
  /** Still queued, in flight or waiting out an outage when `shutdown()` ran out of time. */
  shutdown: number;
}

/** The spool (`spoolDir`): where it is, how full, and what it lost. */
export interface SGPSpoolStats {
  path: string;
  /** False once a file system error turned spooling off (spans are then held in memory, up to maxQueueSize). */
  writable: boolean;
  /** Bytes of segment files in the directory, every process's, as last listed. */
  bytes: number;
  maxBytes: number;
  segments: number;
  /** ISO 8601 time the oldest segment was started: no spooled item is older. */
  oldestAt: string | undefined;
  /** Spooled items that will never be delivered, by reason (every process's items this process touched). */
  dropped: {
    total: number;
    /** Evicted with the oldest segment to stay within spoolMaxBytes. */
    spoolFull: number;
    /** Unreadable: a torn or corrupt record. A damaged stretch counts the records it held (estimated from the segment's whole records when its length fields are gone); the records around it are read. */
    corrupt: number;
    /** The segment file was deleted by something other than sgp-otel (the directory removed, say) before it was replayed. */
    deleted: number;
    /** Replayed, and refused by SGP for its content (the item at fault in a 400/409/413/422 batch). */
    rejected: number;
    /** Replayed, and a 500 outlasted the retries. */
    exportFailed: number;
  };
}

export interface SGPStats {
  enabled: boolean;
  disabledReason: DisabledReason | undefined;
  /** Sampled spans handed to `onEnd`. Always `exported + dropped.total + queued + spooled`. */
  received: number;
  /** Spans the server accepted. */
  exported: number;
  /** Spans not settled yet: waiting in the queue, in exports in flight, or held during an outage. */
  queued: number;
  /** Of `queued`, those in exports in flight. */
  inFlight: number;
  /** Spans handed to the spool while SGP was unreachable or at shutdown (they left `queued`); 0 without `spoolDir`. */
  spooled: number;
  /** Spooled items this process delivered, its own or left by another process or an earlier run. */
  replayed: number;
  /** Spans `shouldExportSpan` left out (not part of `received`). */
  filtered: number;
  dropped: SGPDropCounts;
  /** In-progress records (`exportOnStart` start records, spans unended at shutdown); not part of `received`. */
  inProgress: { sent: number; superseded: number; dropped: number };
  /** HTTP requests made, retries included (our own exporter), or `export()` calls (any other). */
  exportRequests: number;
  retries: number;
  /** True from the first batch held for an outage until SGP takes a batch again, whether the held spans are in flight or waiting. */
  outage: boolean;
  /** Spans started and not yet ended, tracked for in-progress records (0 when neither feature is on). */
  open: number;
  lastError: SGPLastError | undefined;
  /** Undefined without `spoolDir`. */
  spool: SGPSpoolStats | undefined;
}


export type DropReason = Exclude<keyof SGPDropCounts, 'total'>;

export const DROP_REASON_TEXT: Record<DropReason, string> = {
  queueFull: 'queue full',
  exportFailed: 'export failed',
  rejected: 'rejected by SGP',
  unmappable: 'unmappable',
  shutdown: 'undelivered at shutdown',
};

/**
 * The processor's books: every span received ends up exported or under one drop reason, and
 * every drop is reported (rate-limited) through the drop log.
 */
export class ProcessorStats {
  received = 0;
  exported = 0;
  /** Spans received and not settled yet. */
  pending = 0;
  filtered = 0;
  /** Spans handed to the spool; settled for this process's books. */
  spooled = 0;
  exportRequests = 0;
  retries = 0;
  readonly inProgress = { sent: 0, superseded: 0, dropped: 0 };
  readonly dropped: SGPDropCounts = { total: 0, queueFull: 0, exportFailed: 0, rejected: 0, unmappable: 0, shutdown: 0 };
  lastError: SGPLastError | undefined;
  private readonly dropLog: DropLog;

  constructor(
    reportIntervalMillis: number,
    private readonly now: () => number,
    log: Logger,
  ) {
    this.dropLog = new DropLog(reportIntervalMillis, now, log);
  }

  drop(reason: DropReason, count: number, detail: string): void {
    if (count <= 0) return;
    this.dropped[reason] += count;
    this.dropped.total += count;
    this.dropLog.record(DROP_REASON_TEXT[reason], count, detail);
  }

  /** A warning that is not a drop, rate-limited like one (a filter that threw). */
  note(what: string, detail: string): void {
    this.dropLog.record(what, 1, detail, true);
  }

  /** Items lost from the spool: reported like drops, counted in the spool's own books. */
  spoolLoss(what: string, count: number, detail: string): void {
    this.dropLog.record(what, count, detail);
  }

  recordError(error: Error): void {
    const details = error instanceof SGPExportError ? error : undefined;
    this.lastError = { message: error.message, kind: details?.kind, status: details?.status, at: new Date(this.now()).toISOString() };
  }

  /** Reports drops whose interval has passed (all of them with `force`). */
  flushLog(force = false): void {
    this.dropLog.flush(force);
  }
}
