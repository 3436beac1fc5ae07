import { context, diag, TraceFlags } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { ProcessorConfig, SGPSpanProcessorOptions, DisabledReason } from '../config.js';
import { resolveExporterConfig, resolveProcessorConfig } from '../config.js';
import { DropLog } from './drop-log.js';
import { SGPConfigError, SGPExportError, SGPFlushError } from '../errors.js';
import type { ExportRecord, ExportReport, RecordOutcome } from '../delivery/exporter.js';
import { announceDisabled, isSGPSpanExporter, SGPSpanExporter } from '../delivery/exporter.js';
import { registerExitFlush } from './exit-flush.js';
import { isGenAISpan } from '../mapping/conventions.js';
import { BoundedQueue } from './queue.js';
import type { SGPDropCounts, SGPStats } from './stats.js';
export type { SGPDropCounts, SGPStats } from './stats.js';

type DropReason = Exclude<keyof SGPDropCounts, 'total'>;

/** A span sent as still running: a start record (`exportOnStart`) or a span unended at shutdown. */
class InProgressRecord {
  /** Its final record was queued before this one was taken: sending this one is pointless. */
  superseded = false;
  taken = false;
  constructor(readonly span: ReadableSpan) {}
}

type QueueEntry = ReadableSpan | InProgressRecord;

interface FlushWaiter {
  /** The flush covers every queue entry whose sequence number is below this. */
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

/** Pause between export rounds while SGP is unreachable: 1 s, 2 s, 4 s ... up to 20 s. */
function outageCooldownMillis(rounds: number): number {
  return Math.min(20_000, 1000 * 2 ** Math.min(rounds - 1, 10));
}

/**
 * Queues finished spans and exports them to SGP in batches: at once when a batch is full, else
 * when the schedule timer fires. Up to `maxConcurrentExports` exports at once with our own
 * exporter (one with any other). `forceFlush()` waits for the exports in flight and everything
 * queued before the call. While SGP is unreachable, batches are held and
 * retried after a pause instead of dropped; only a full queue drops spans.
 */
export class SGPSpanProcessor implements SpanProcessor {
  private readonly config: ProcessorConfig;
  private readonly exporter: SpanExporter | undefined;
  private readonly clock: Clock;
  private readonly queue: BoundedQueue<QueueEntry>;
  private readonly dropLog: DropLog;
  private readonly disabledReason: DisabledReason | undefined;
  /** Started spans not yet ended (for in-progress records); the value is the span's queued start record. */
  private readonly openSpans = new Map<Span, InProgressRecord | undefined>();
  private readonly trackOpenSpans: boolean;
  private readonly unregisterExitFlush: () => void;
  private state: 'running' | 'shutting_down' | 'shut_down';
  private shutdownPromise: Promise<void> | undefined;
  private readonly filter: ((span: ReadableSpan) => boolean) | undefined;
  /** Spans the filter left out. */
  private readonly filteredOut = new WeakSet<object>();
  /** Span id of a left-out span -> its nearest kept ancestor (null: none), for its descendants. Bounded. */
  private readonly keptAncestor = new Map<string, string | null>();
  /** Kept spans whose parent was left out: the parent id to send instead. */
  private readonly parentOverrides = new WeakMap<object, string | null>();
  private filtered = 0;

  // Queue entries are numbered in the order they enter the queue; these count positions in that order.
  private accepted = 0;
  private taken = 0;
  /** Export partial batches until `taken` reaches this (set by the timer and by flushes). */
  private drainUntil = 0;
  /** Exports in flight, each with the lowest sequence number it covers. */
  private readonly inFlight = new Map<number, { first: number; entries: number; spans: number; done: Promise<void> }>();
  private nextExportId = 0;
  private readonly maxConcurrentExports: number;
  private exportKickPending = false;
  private cancelTimer: (() => void) | undefined;
  private waiters: FlushWaiter[] = [];
  /** Entries whose export failed for an outage; sent again, first, once `pausedUntil` has passed. */
  private held: QueueEntry[] = [];
  /** Lowest sequence number among held entries. */
  private heldFirst = 0;
  private pausedUntil = 0;
  private outageRounds = 0;
  private exitFlushMark = 0;

  private received = 0;
  private exported = 0;
  private pendingSpans = 0;
  private readonly dropped: SGPDropCounts = {
    total: 0,
    queueFull: 0,
    exportFailed: 0,
    rejected: 0,
    unmappable: 0,
    shutdown: 0,
  };
  private readonly inProgress = { sent: 0, superseded: 0, dropped: 0 };
  private exportRequests = 0;
  private retries = 0;
  private lastError: SGPStats['lastError'];

  constructor(options: SGPSpanProcessorOptions = {}) {
    this.config = resolveProcessorConfig(options);
    this.clock = options.clock ?? systemClock;
    this.filter = filterOption(options.shouldExportSpan);
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
      const connections = this.config.exportOnStart ? 1 : this.config.maxConcurrentExports;
      if (this.disabledReason === undefined) this.exporter = new SGPSpanExporter(options, { ...exporterConfig, connections });
    }
    const enabled = this.disabledReason === undefined;
    this.state = enabled ? 'running' : 'shut_down';
    this.queue = new BoundedQueue(enabled ? this.config.maxQueueSize : 0);
    this.dropLog = new DropLog(Math.max(1000, this.config.scheduledDelayMillis), () => this.clock.now());
    // In-progress records need our own exporter: a generic one would get spans that have not ended.
    this.trackOpenSpans =
      enabled && isSGPSpanExporter(this.exporter) && (this.config.exportOnStart || this.config.exportUnendedOnShutdown);
    // Several exports at once only with our own exporter, which is built for it, and never with
    // exportOnStart, so a span's start record cannot overtake its final record.
    this.maxConcurrentExports =
      isSGPSpanExporter(this.exporter) && !this.config.exportOnStart ? this.config.maxConcurrentExports : 1;
    this.unregisterExitFlush = enabled && this.config.flushOnExit ? registerExitFlush(() => this.flushAtExit()) : () => undefined;
  }

  onStart(span: Span, _parentContext: Context): void {
    if (this.state !== 'running' || (!this.trackOpenSpans && this.filter === undefined)) return;
    try {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
      if (this.filter !== undefined && !this.decideFilter(span)) return;
      if (!this.trackOpenSpans) return;
      // Bounded: beyond maxQueueSize open spans, the extra ones get no in-progress record.
      if (this.openSpans.size >= this.config.maxQueueSize) return;
      let start: InProgressRecord | undefined;
      if (this.config.exportOnStart) {
        start = new InProgressRecord(span);
        if (this.enqueue(start)) this.afterEnqueue();
        else {
          this.inProgress.dropped += 1;
          start = undefined;
        }
      }
      this.openSpans.set(span, start);
    } catch {
      // A span we cannot read gets no start record; its final record is handled in onEnd.
    }
  }

  onEnd(span: ReadableSpan): void {
    if (this.state !== 'running') return;
    if (this.filter !== undefined && this.filteredOut.has(span)) {
      this.filtered += 1;
      return;
    }
    if (this.trackOpenSpans) {
      if (this.config.exportOnStart) {
        const start = this.openSpans.get(span as Span);
        if (start && !start.taken) start.superseded = true;
      }
      this.openSpans.delete(span as Span);
    }
    try {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    } catch {
      this.received += 1;
      this.drop('unmappable', 1, 'a span without a readable span context');
      return;
    }
    this.received += 1;
    if (!this.enqueue(span)) {
      this.drop('queueFull', 1, `the queue already holds maxQueueSize (${this.config.maxQueueSize}) spans`);
      return;
    }
    this.pendingSpans += 1;
    this.afterEnqueue();
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
      queued: this.pendingSpans,
      inFlight: [...this.inFlight.values()].reduce((sum, flight) => sum + flight.spans, 0),
      filtered: this.filtered,
      dropped: { ...this.dropped },
      inProgress: { ...this.inProgress },
      exportRequests: this.exportRequests,
      retries: this.retries,
      outage: this.held.length > 0,
      open: this.openSpans.size,
      lastError: this.lastError ? { ...this.lastError } : undefined,
    };
  }

  /**
   * Applies shouldExportSpan at start, so that children, which usually end before their parents,
   * already know their nearest kept ancestor when they are sent. Returns whether the span is kept.
   */
  private decideFilter(span: Span): boolean {
    let keep = true;
    try {
      keep = this.filter!(span as unknown as ReadableSpan) !== false;
    } catch (error) {
      this.dropLog.record('shouldExportSpan threw; span kept', 1, error instanceof Error ? error.message : String(error));
    }
    const readable = span as unknown as ReadableSpan & { parentSpanId?: string };
    const parentId = readable.parentSpanContext?.spanId ?? readable.parentSpanId;
    const ancestor = parentId === undefined ? null : this.keptAncestor.has(parentId) ? this.keptAncestor.get(parentId)! : parentId;
    if (keep) {
      if (parentId !== undefined && ancestor !== parentId) this.parentOverrides.set(span, ancestor);
      return true;
    }
    this.filteredOut.add(span);
    this.keptAncestor.set(span.spanContext().spanId, ancestor);
    // Bounded: forget the oldest decisions first (their descendants have long started).
    if (this.keptAncestor.size > Math.max(10_000, this.config.maxQueueSize)) {
      this.keptAncestor.delete(this.keptAncestor.keys().next().value!);
    }
    return false;
  }

  private enqueue(entry: QueueEntry): boolean {
    if (!this.queue.push(entry)) return false;
    this.accepted += 1;
    return true;
  }

  private afterEnqueue(): void {
    if (this.queue.size >= this.config.maxExportBatchSize) this.kickSoon();
    else this.startTimer(this.config.scheduledDelayMillis);
  }

  private async runShutdown(): Promise<void> {
    if (this.disabledReason !== undefined) return;
    this.state = 'shutting_down';
    this.unregisterExitFlush();
    if (this.config.exportUnendedOnShutdown) this.queueUnendedSpans();
    let failure: unknown;
    try {
      await this.flushQueued('shutdown');
    } catch (error) {
      failure = error;
    }
    // From here no new export starts; what is still queued or held is counted as undelivered below.
    this.state = 'shut_down';
    this.stopTimer();
    if (failure !== undefined && isSGPSpanExporter(this.exporter)) {
      // Out of time: end our own exporter's request in flight so its spans settle (as failed).
      await this.exporter.abort();
      await Promise.all([...this.inFlight.values()].map((flight) => flight.done));
    }
    const left = this.queue.take(this.queue.size);
    this.taken += left.length;
    this.discard([...this.held, ...left]);
    this.held = [];
    try {
      await this.exporter!.shutdown();
    } catch (error) {
      failure ??= error;
    }
    this.dropLog.flush(true);
    if (failure !== undefined) throw failure;
  }

  /** Spans that started but never ended: queued as in-progress records, unless their start record still is. */
  private queueUnendedSpans(): void {
    if (!this.trackOpenSpans) return;
    for (const [span, start] of this.openSpans) {
      if (start && !start.taken) continue;
      if (this.enqueue(new InProgressRecord(span))) continue;
      this.inProgress.dropped += 1;
    }
    this.openSpans.clear();
  }

  private discard(entries: QueueEntry[]): void {
    let spans = 0;
    for (const entry of entries) {
      if (entry instanceof InProgressRecord) this.inProgress.dropped += 1;
      else spans += 1;
    }
    this.pendingSpans -= spans;
    if (spans > 0) this.drop('shutdown', spans, 'shutdown() ran out of time before they were delivered');
  }

  /** Flushes once when the process is about to exit without shutdown(), if spans arrived since the last time. */
  private flushAtExit(): void {
    if (this.state !== 'running' || this.accepted === this.exitFlushMark || this.lowestPending() >= this.accepted) return;
    this.exitFlushMark = this.accepted;
    this.forceFlush().catch((error: unknown) => {
      diag.warn(`sgp-otel: flush at process exit incomplete: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /**
   * Exports everything accepted so far, including what is in flight or held. Resolves when all
   * of it was delivered; rejects with {@link SGPFlushError} when some was dropped or time ran out.
   */
  private flushQueued(label: 'forceFlush' | 'shutdown'): Promise<void> {
    const mark = this.accepted;
    if (this.lowestPending() >= mark) return Promise.resolve();
    this.drainUntil = Math.max(this.drainUntil, mark);
    // Try held spans once more right away; if that round fails too, the outage pause applies again.
    this.pausedUntil = Math.min(this.pausedUntil, this.clock.now());
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
                `sgp-otel ${label}: ${plural(waiter.undelivered, 'span was', 'spans were')} not delivered (${[...waiter.reasons].join('; ')})`,
                waiter.undelivered,
                false,
              ),
            );
          } else resolve();
        },
      };
      const cancelTimeout = this.clock.schedule(() => {
        const pending = this.pendingBefore(mark);
        const undelivered = pending + waiter.undelivered;
        const why = [`${pending} still queued, in flight or waiting for SGP to come back`, ...waiter.reasons];
        waiter.settle(
          new SGPFlushError(
            `sgp-otel ${label} timed out after ${timeoutMillis} ms: ${plural(undelivered, 'span was', 'spans were')} not delivered (${why.join('; ')})`,
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
    if (this.exportKickPending || this.inFlight.size >= this.maxConcurrentExports) return;
    this.exportKickPending = true;
    setImmediate(() => {
      this.exportKickPending = false;
      this.pump();
    });
  }

  /** Starts exports while batches are due and export slots are free. */
  private pump(): void {
    while (this.state !== 'shut_down' && this.inFlight.size < this.maxConcurrentExports) {
      let batch: QueueEntry[];
      let first: number;
      if (this.held.length > 0) {
        // During an outage, one export at a time: the held entries go first, after the pause
        // (a flush lifts the pause once: see flushQueued).
        if (this.inFlight.size > 0) return;
        const wait = this.pausedUntil - this.clock.now();
        if (wait > 0) {
          this.stopTimer();
          this.startTimer(wait);
          return;
        }
        batch = this.held;
        first = this.heldFirst;
        this.held = [];
      } else {
        const due =
          this.queue.size >= this.config.maxExportBatchSize || (this.queue.size > 0 && this.drainUntil > this.taken);
        if (!due) {
          this.startTimer(this.config.scheduledDelayMillis);
          return;
        }
        first = this.taken;
        batch = this.queue.take(this.config.maxExportBatchSize);
        this.taken += batch.length;
      }
      this.stopTimer();
      this.launch(batch, first);
    }
  }

  private launch(batch: QueueEntry[], first: number): void {
    const id = this.nextExportId;
    this.nextExportId += 1;
    const flight = { first, entries: batch.length, spans: 0, done: Promise.resolve() };
    this.inFlight.set(id, flight);
    flight.done = this.exportEntries(batch, flight).then(() => {
      this.inFlight.delete(id);
      this.settleWaiters();
      this.dropLog.flush();
      this.pump();
    });
  }

  /** Sequence number of the oldest entry not settled yet: queued, in flight or held. */
  private lowestPending(): number {
    let low = this.taken;
    for (const flight of this.inFlight.values()) low = Math.min(low, flight.first);
    return this.held.length > 0 ? Math.min(low, this.heldFirst) : low;
  }

  /** About how many entries numbered below `mark` are not settled yet (for messages). */
  private pendingBefore(mark: number): number {
    let count = Math.max(0, Math.min(mark, this.accepted) - this.taken);
    for (const flight of this.inFlight.values()) if (flight.first < mark) count += flight.entries;
    if (this.held.length > 0 && this.heldFirst < mark) count += this.held.length;
    return count;
  }

  /** Exports one batch and accounts for every entry in it. Never rejects. */
  private async exportEntries(batch: QueueEntry[], flight: { first: number; spans: number }): Promise<void> {
    const sent: QueueEntry[] = [];
    const records: ExportRecord[] = [];
    for (const entry of batch) {
      if (entry instanceof InProgressRecord) {
        entry.taken = true;
        if (entry.superseded) {
          this.inProgress.superseded += 1;
          continue;
        }
        records.push(this.exportRecord(entry.span, true));
      } else {
        records.push(this.exportRecord(entry, false));
      }
      sent.push(entry);
    }
    if (sent.length === 0) return;
    flight.spans = records.filter((r) => !r.inProgress).length;
    const report = await this.exportOne(records);
    flight.spans = 0;
    this.account(sent, report, flight.first);
  }

  private exportRecord(span: ReadableSpan, inProgress: boolean): ExportRecord {
    return this.parentOverrides.has(span) ? { span, inProgress, parentId: this.parentOverrides.get(span)! } : { span, inProgress };
  }

  private async exportOne(records: ExportRecord[]): Promise<ExportReport> {
    try {
      const exporter = this.exporter!;
      if (isSGPSpanExporter(exporter)) {
        return await exporter.exportRecords(records, this.clock.now() + this.config.exportTimeoutMillis);
      }
      const spans = records.map((r) => r.span);
      return await context.with(suppressTracing(context.active()), () => this.exportThroughCallback(exporter, spans));
    } catch (error) {
      return uniformReport(records.length, 'exportFailed', error instanceof Error ? error : new Error(String(error)));
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
        () =>
          finish(uniformReport(batch.length, 'exportFailed', new Error(`export did not finish within ${this.config.exportTimeoutMillis} ms`))),
        this.config.exportTimeoutMillis,
      );
      const onResult = (result: ExportResult) =>
        finish(
          result.code === ExportResultCode.SUCCESS
            ? uniformReport(batch.length, 'exported', undefined)
            : uniformReport(batch.length, 'exportFailed', result.error ?? new Error('the exporter reported a failure')),
        );
      try {
        exporter.export(batch, onResult);
      } catch (error) {
        finish(uniformReport(batch.length, 'exportFailed', error instanceof Error ? error : new Error(String(error))));
      }
    });
  }

  /** Books each entry's outcome; entries to retry later are held and the outage pause starts. */
  private account(sent: QueueEntry[], report: ExportReport, first: number): void {
    this.exportRequests += report.requests;
    this.retries += report.retries;
    if (report.error) this.recordError(report.error);
    const detail = report.error?.message ?? 'unknown error';
    const drops: Partial<Record<DropReason, number>> = {};
    const held: QueueEntry[] = [];
    let settledSpans = 0;
    sent.forEach((entry, i) => {
      const outcome: RecordOutcome = report.outcomes[i] ?? 'exportFailed';
      if (outcome === 'retryLater') {
        held.push(entry);
        return;
      }
      if (entry instanceof InProgressRecord) {
        if (outcome === 'exported') this.inProgress.sent += 1;
        else this.inProgress.dropped += 1;
        return;
      }
      settledSpans += 1;
      if (outcome === 'exported') this.exported += 1;
      else drops[outcome] = (drops[outcome] ?? 0) + 1;
    });
    this.pendingSpans -= settledSpans;
    for (const [reason, count] of Object.entries(drops) as [DropReason, number][]) {
      this.drop(reason, count, detail);
      for (const waiter of this.waiters) {
        waiter.undelivered += count;
        waiter.reasons.add(`${count} ${DROP_REASON_TEXT[reason]}: ${detail}`);
      }
    }
    if (held.length > 0) {
      this.heldFirst = this.held.length === 0 ? first : Math.min(this.heldFirst, first);
      this.held.push(...held);
      this.outageRounds += 1;
      this.pausedUntil = this.clock.now() + outageCooldownMillis(this.outageRounds);
      if (this.outageRounds === 1) {
        diag.warn(`sgp-otel: SGP is unreachable (${detail}); holding spans and retrying, up to maxQueueSize (${this.config.maxQueueSize})`);
      }
    } else if (this.outageRounds > 0 && report.exported > 0) {
      diag.info(`sgp-otel: SGP is reachable again after ${this.outageRounds} failed round${this.outageRounds === 1 ? '' : 's'}`);
      this.outageRounds = 0;
    }
  }

  private settleWaiters(): void {
    const low = this.lowestPending();
    for (const waiter of [...this.waiters]) {
      if (low >= waiter.mark) waiter.settle();
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

  private startTimer(delayMillis: number): void {
    if (this.cancelTimer || (this.queue.size === 0 && this.held.length === 0) || this.state === 'shut_down') return;
    this.cancelTimer = this.clock.schedule(() => {
      this.cancelTimer = undefined;
      this.drainUntil = Math.max(this.drainUntil, this.accepted);
      this.dropLog.flush();
      this.pump();
    }, delayMillis);
  }

  private stopTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}

function filterOption(option: SGPSpanProcessorOptions['shouldExportSpan']): ((span: ReadableSpan) => boolean) | undefined {
  if (option === undefined) return undefined;
  if (option === 'genai') return isGenAISpan;
  if (typeof option === 'function') return option;
  throw new SGPConfigError(`Invalid option shouldExportSpan: expected a function or 'genai', got ${JSON.stringify(option)}`);
}

function uniformReport(count: number, outcome: RecordOutcome, error: Error | undefined): ExportReport {
  const exported = outcome === 'exported' ? count : 0;
  return {
    exported,
    dropped: { rejected: 0, exportFailed: outcome === 'exportFailed' ? count : 0, unmappable: 0 },
    retryLater: 0,
    outcomes: new Array<RecordOutcome>(count).fill(outcome),
    requests: 1,
    retries: 0,
    error,
  };
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

function noop(): void {}
