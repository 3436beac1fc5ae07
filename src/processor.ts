import { context, TraceFlags } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import type { DisabledReason, ProcessorConfig, SGPSpanProcessorOptions } from './config.js';
import { resolveExporterConfig, resolveProcessorConfig } from './config.js';
import { DropLog } from './drop-log.js';
import { SGPConfigError, SGPExportError, SGPFlushError } from './errors.js';
import type { ExportReport } from './exporter.js';
import { announceDisabled, isSGPSpanExporter, SGPSpanExporter } from './exporter.js';
import { BoundedQueue } from './queue.js';

export interface SGPDropCounts {
  total: number;
  /** The queue held `maxQueueSize` spans when the span ended. */
  queueFull: number;
  /** Every attempt failed (network, timeouts, 5xx/429 past the retries or the deadline). */
  exportFailed: number;
  /** The server refused the batch (401, 403, 400, 409, 413, 422...): retrying cannot help. */
  rejected: number;
  /** The span could not be mapped to an SGP item. */
  unmappable: number;
  /** Still queued when `shutdown()` ran out of time. */
  shutdown: number;
}

export interface SGPStats {
  enabled: boolean;
  disabledReason: DisabledReason | undefined;
  /** Sampled spans handed to `onEnd`. Always `exported + dropped.total + queued`. */
  received: number;
  /** Spans the server accepted. */
  exported: number;
  /** Spans not settled yet: waiting in the queue or in the export in flight. */
  queued: number;
  /** Of `queued`, those in the export in flight. */
  inFlight: number;
  dropped: SGPDropCounts;
  /** HTTP requests made, retries included (our own exporter), or `export()` calls (any other). */
  exportRequests: number;
  retries: number;
  lastError: { message: string; kind: string | undefined; status: number | undefined; at: string } | undefined;
}

type DropReason = Exclude<keyof SGPDropCounts, 'total'>;

interface FlushWaiter {
  /** The flush covers every span whose sequence number is below this. */
  mark: number;
  undelivered: number;
  reasons: Set<string>;
  settle(error?: Error): void;
}

const DROP_REASON_TEXT: Record<DropReason, string> = {
  queueFull: 'queue full',
  exportFailed: 'export failed',
  rejected: 'rejected by SGP',
  unmappable: 'unmappable',
  shutdown: 'undelivered at shutdown',
};

/**
 * Queues finished spans and exports them to SGP in batches: at once when a batch is full, else
 * when the schedule timer fires. One export at a time. `forceFlush()` waits for the export in
 * flight and everything queued before the call.
 */
export class SGPSpanProcessor implements SpanProcessor {
  private readonly config: ProcessorConfig;
  private readonly exporter: SpanExporter | undefined;
  private readonly clock: Clock;
  private readonly queue: BoundedQueue<ReadableSpan>;
  private readonly dropLog: DropLog;
  private readonly disabledReason: DisabledReason | undefined;
  private state: 'running' | 'shutting_down' | 'shut_down';
  private shutdownPromise: Promise<void> | undefined;

  // Spans are numbered in the order they enter the queue; these counters are positions in that order.
  private accepted = 0;
  private taken = 0;
  private settled = 0;
  /** Export partial batches until `taken` reaches this (set by the timer and by flushes). */
  private drainUntil = 0;
  private exportInFlight: Promise<void> | undefined;
  private exportKickPending = false;
  private cancelTimer: (() => void) | undefined;
  private waiters: FlushWaiter[] = [];

  private received = 0;
  private exported = 0;
  private inFlightCount = 0;
  private readonly dropped: SGPDropCounts = {
    total: 0,
    queueFull: 0,
    exportFailed: 0,
    rejected: 0,
    unmappable: 0,
    shutdown: 0,
  };
  private exportRequests = 0;
  private retries = 0;
  private lastError: SGPStats['lastError'];

  constructor(options: SGPSpanProcessorOptions = {}) {
    this.config = resolveProcessorConfig(options);
    this.clock = options.clock ?? systemClock;
    if (options.exporter !== undefined) {
      if (typeof options.exporter?.export !== 'function' || typeof options.exporter?.shutdown !== 'function') {
        throw new SGPConfigError('Invalid option exporter: expected a SpanExporter with export() and shutdown()');
      }
      this.exporter = options.exporter;
      this.disabledReason = isSGPSpanExporter(options.exporter) ? options.exporter.disabledReason : undefined;
    } else {
      const exporterConfig = resolveExporterConfig(options);
      this.disabledReason = exporterConfig.disabledReason;
      announceDisabled(exporterConfig, 'SGPSpanProcessor');
      if (this.disabledReason === undefined) this.exporter = new SGPSpanExporter(options, exporterConfig);
    }
    this.state = this.disabledReason === undefined ? 'running' : 'shut_down';
    this.queue = new BoundedQueue(this.disabledReason === undefined ? this.config.maxQueueSize : 0);
    this.dropLog = new DropLog(Math.max(1000, this.config.scheduledDelayMillis), () => this.clock.now());
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.state !== 'running') return;
    try {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    } catch {
      this.received += 1;
      this.drop('unmappable', 1, 'a span without a readable span context');
      return;
    }
    this.received += 1;
    if (!this.queue.push(span)) {
      this.drop('queueFull', 1, `the queue already holds maxQueueSize (${this.config.maxQueueSize}) spans`);
      return;
    }
    this.accepted += 1;
    if (this.queue.size >= this.config.maxExportBatchSize) this.kickSoon();
    else this.startTimer();
  }

  forceFlush(): Promise<void> {
    if (this.disabledReason !== undefined || this.state === 'shut_down') return Promise.resolve();
    if (this.state === 'shutting_down') return this.shutdownPromise!.then(noop, noop);
    const deadline = this.clock.now() + this.config.exportTimeoutMillis;
    return this.flushQueued('forceFlush').then(() => this.flushExporter(deadline));
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.runShutdown();
    return this.shutdownPromise;
  }

  getStats(): SGPStats {
    return {
      enabled: this.disabledReason === undefined,
      disabledReason: this.disabledReason,
      received: this.received,
      exported: this.exported,
      queued: this.queue.size + this.inFlightCount,
      inFlight: this.inFlightCount,
      dropped: { ...this.dropped },
      exportRequests: this.exportRequests,
      retries: this.retries,
      lastError: this.lastError ? { ...this.lastError } : undefined,
    };
  }

  private async runShutdown(): Promise<void> {
    if (this.disabledReason !== undefined) return;
    this.state = 'shutting_down';
    let failure: unknown;
    try {
      await this.flushQueued('shutdown');
    } catch (error) {
      failure = error;
    }
    // From here no new export starts; what is still queued is counted as undelivered below.
    this.state = 'shut_down';
    this.stopTimer();
    if (failure !== undefined && isSGPSpanExporter(this.exporter)) {
      // Out of time: end our own exporter's request in flight so its spans settle (as failed).
      await this.exporter.abort();
      await this.exportInFlight;
    }
    const left = this.queue.take(this.queue.size);
    if (left.length > 0) {
      this.taken += left.length;
      this.settled += left.length;
      this.drop('shutdown', left.length, 'shutdown() ran out of time before they were exported');
    }
    try {
      await this.exporter!.shutdown();
    } catch (error) {
      failure ??= error;
    }
    this.dropLog.flush(true);
    if (failure !== undefined) throw failure;
  }

  /**
   * Exports everything accepted so far, waiting for the export in flight first. Resolves when all
   * of it was delivered; rejects with {@link SGPFlushError} when some was dropped or time ran out.
   */
  private flushQueued(label: 'forceFlush' | 'shutdown'): Promise<void> {
    const mark = this.accepted;
    if (this.settled >= mark) return Promise.resolve();
    this.drainUntil = Math.max(this.drainUntil, mark);
    return new Promise<void>((resolve, reject) => {
      const timeoutMillis = this.config.exportTimeoutMillis;
      const waiter: FlushWaiter = {
        mark,
        undelivered: 0,
        reasons: new Set(),
        settle: (error) => {
          cancelTimeout();
          this.waiters = this.waiters.filter((w) => w !== waiter);
          if (error) reject(error);
          else if (waiter.undelivered > 0) {
            reject(
              new SGPFlushError(
                `sgp-otel ${label}: ${waiter.undelivered} span${waiter.undelivered === 1 ? ' was' : 's were'} not delivered (${[...waiter.reasons].join('; ')})`,
                waiter.undelivered,
                false,
              ),
            );
          } else resolve();
        },
      };
      const cancelTimeout = this.clock.schedule(() => {
        const pending = Math.max(0, mark - this.settled);
        const undelivered = pending + waiter.undelivered;
        waiter.settle(
          new SGPFlushError(
            `sgp-otel ${label} timed out after ${timeoutMillis} ms: ${undelivered} span${undelivered === 1 ? ' was' : 's were'} not delivered (${pending} still queued or in flight${waiter.reasons.size ? `; ${[...waiter.reasons].join('; ')}` : ''})`,
            undelivered,
            true,
          ),
        );
      }, timeoutMillis);
      this.waiters.push(waiter);
      this.pump();
    });
  }

  private async flushExporter(deadline: number): Promise<void> {
    const exporterFlush = this.exporter?.forceFlush?.();
    if (!exporterFlush) return;
    let cancel: () => void = noop;
    const timeout = new Promise<void>((resolve) => {
      cancel = this.clock.schedule(resolve, Math.max(0, deadline - this.clock.now()));
    });
    try {
      await Promise.race([exporterFlush, timeout]);
    } finally {
      cancel();
    }
  }

  /** Starts an export on a later turn of the event loop, so `span.end()` never pays for one. */
  private kickSoon(): void {
    if (this.exportKickPending || this.exportInFlight) return;
    this.exportKickPending = true;
    setImmediate(() => {
      this.exportKickPending = false;
      this.pump();
    });
  }

  /** Exports the next batch if one is due and no export is running. */
  private pump(): void {
    if (this.exportInFlight || this.state === 'shut_down') return;
    const due =
      this.queue.size >= this.config.maxExportBatchSize || (this.queue.size > 0 && this.drainUntil > this.taken);
    if (!due) {
      this.startTimer();
      return;
    }
    this.stopTimer();
    const batch = this.queue.take(this.config.maxExportBatchSize);
    const first = this.taken;
    this.taken += batch.length;
    this.inFlightCount = batch.length;
    this.exportInFlight = this.exportOne(batch).then((report) => {
      this.inFlightCount = 0;
      this.settled += batch.length;
      this.exportInFlight = undefined;
      this.account(report, first);
      this.settleWaiters();
      this.dropLog.flush();
      this.pump();
    });
  }

  /** Runs one export; never rejects. */
  private async exportOne(batch: ReadableSpan[]): Promise<ExportReport> {
    try {
      const exporter = this.exporter!;
      if (isSGPSpanExporter(exporter)) {
        return await exporter.exportBatch(batch, this.clock.now() + this.config.exportTimeoutMillis);
      }
      return await context.with(suppressTracing(context.active()), () => this.exportThroughCallback(exporter, batch));
    } catch (error) {
      return failedReport(batch.length, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Any `SpanExporter`: success or failure for the whole batch, bounded by `exportTimeoutMillis`. */
  private exportThroughCallback(exporter: SpanExporter, batch: ReadableSpan[]): Promise<ExportReport> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (report: ExportReport) => {
        if (done) return;
        done = true;
        cancel();
        resolve(report);
      };
      const cancel = this.clock.schedule(
        () => finish(failedReport(batch.length, new Error(`export did not finish within ${this.config.exportTimeoutMillis} ms`))),
        this.config.exportTimeoutMillis,
      );
      const onResult = (result: ExportResult) =>
        finish(
          result.code === ExportResultCode.SUCCESS
            ? { exported: batch.length, dropped: { rejected: 0, exportFailed: 0, unmappable: 0 }, requests: 1, retries: 0, error: undefined }
            : failedReport(batch.length, result.error ?? new Error('the exporter reported a failure')),
        );
      try {
        exporter.export(batch, onResult);
      } catch (error) {
        finish(failedReport(batch.length, error instanceof Error ? error : new Error(String(error))));
      }
    });
  }

  private account(report: ExportReport, firstSequence: number): void {
    this.exported += report.exported;
    this.exportRequests += report.requests;
    this.retries += report.retries;
    const detail = report.error?.message ?? 'unknown error';
    if (report.error) this.recordError(report.error);
    for (const reason of ['rejected', 'exportFailed', 'unmappable'] as const) {
      const count = report.dropped[reason];
      if (count === 0) continue;
      this.drop(reason, count, detail);
      for (const waiter of this.waiters) {
        if (firstSequence < waiter.mark) {
          waiter.undelivered += count;
          waiter.reasons.add(`${count} ${DROP_REASON_TEXT[reason]}: ${detail}`);
        }
      }
    }
  }

  private settleWaiters(): void {
    for (const waiter of [...this.waiters]) {
      if (this.settled >= waiter.mark) waiter.settle();
    }
  }

  private drop(reason: DropReason, count: number, detail: string): void {
    this.dropped[reason] += count;
    this.dropped.total += count;
    this.dropLog.record(DROP_REASON_TEXT[reason], count, detail);
  }

  private recordError(error: Error): void {
    const details = error instanceof SGPExportError ? error : undefined;
    this.lastError = {
      message: error.message,
      kind: details?.kind,
      status: details?.status,
      at: new Date(this.clock.now()).toISOString(),
    };
  }

  private startTimer(): void {
    if (this.cancelTimer || this.queue.size === 0 || this.state === 'shut_down') return;
    this.cancelTimer = this.clock.schedule(() => {
      this.cancelTimer = undefined;
      this.drainUntil = Math.max(this.drainUntil, this.accepted);
      this.dropLog.flush();
      this.pump();
    }, this.config.scheduledDelayMillis);
  }

  private stopTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}

function failedReport(spans: number, error: Error): ExportReport {
  return { exported: 0, dropped: { rejected: 0, exportFailed: spans, unmappable: 0 }, requests: 1, retries: 0, error };
}

function noop(): void {}
