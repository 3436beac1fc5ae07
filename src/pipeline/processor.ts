import { TraceFlags } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { DisabledReason, ExporterConfig, ProcessorConfig, SGPSpanProcessorOptions } from '../config.js';
import { checkCustomExporterOptions, resolveExporterConfig, resolveProcessorConfig, resolveSpoolConfig } from '../config.js';
import type { ExportRecord, ExportReport, RecordOutcome } from '../delivery/exporter.js';
import { EncodedItem } from '../delivery/encode.js';
import type { SpanRecord } from '../delivery/encode.js';
import { exporterFromConfig, isSGPSpanExporter, startupMessages } from '../delivery/exporter.js';
import { SGPConfigError, SGPExportError } from '../errors.js';
import type { Logger } from '../log.js';
import { createLogger, logSoon } from '../log.js';
import { registerExitFlush } from './exit-flush.js';
import { vercelWaitUntil } from './serverless-runtime.js';
import { FlushTracker } from './flush-tracker.js';
import { InProgressRecord, OpenSpans } from './in-progress.js';
import { BoundedQueue } from './queue.js';
import type { ExportSink } from './sink.js';
import { sinkFor } from './sink.js';
import { SpanFilter } from './span-filter.js';
import { RootWaits } from './root-waits.js';
import { SpanSpool } from './spool.js';
import type { SpoolItem } from './spool.js';
import type { DropReason, SGPStats } from './stats.js';
import { DROP_REASON_TEXT, ProcessorStats } from './stats.js';

export type { SGPDropCounts, SGPSpoolStats, SGPStats } from './stats.js';

/** A span queued or held: as it ended, as a running span's record, or (held after a failed export) as the bytes sent. */
type QueueEntry = ReadableSpan | InProgressRecord | EncodedItem;

/** The export outcomes that are drops, each counted under the drop reason of the same name. */
type DroppedOutcome = Exclude<RecordOutcome, 'exported' | 'retryLater'> & DropReason;

/** An export in flight, with the lowest sequence number it covers. */
interface Flight {
  first: number;
  entries: number;
  spans: number;
  done: Promise<void>;
}

/** Entries whose export failed for an outage, waiting to be sent again (first) after a pause. */
interface HeldBatch {
  first: number;
  entries: QueueEntry[];
}

/** What one export sends: `records[i]` and, for an in-progress record, its entry in `running[i]`. */
interface Sending {
  records: (ExportRecord | undefined)[];
  running: (InProgressRecord | undefined)[];
}

/** Entries being written to the spool, with the lowest sequence number they cover. */
interface Spill {
  first: number;
  entries: number;
  /** Entries not booked yet (the spool has not answered for them). */
  unbooked: QueueEntry[];
  /** Given up by shutdown: its entries were counted as dropped, and are not booked again. */
  abandoned: boolean;
}

/** The spool directory is listed again this often, for segments other processes left to replay. */
const SPOOL_RESCAN_MILLIS = 30_000;
/**
 * A replay sends this many batches' worth of items per turn (at most 1000, SGP's limit per
 * request): a large spool drains in minutes, while live exports still get every other turn.
 */
const REPLAY_BATCHES = 10;
const REPLAY_MAX_ITEMS = 1000;
/** Most queue entries written to the spool in one append. */
const SPILL_CHUNK = 1000;

/** Pause between export rounds while SGP is unreachable: 1 s, 2 s, 4 s ... up to 20 s. */
function outageCooldownMillis(rounds: number): number {
  return Math.min(20_000, 1000 * 2 ** Math.min(rounds - 1, 10));
}

/**
 * Queues finished spans and exports them to SGP in batches: at once when a batch is full, else
 * when the schedule timer fires. `forceFlush()` waits for the exports in flight and everything
 * queued before the call. While SGP is unreachable, batches are held and sent again, first, after
 * a pause; queued, in-flight and held spans together never exceed `maxQueueSize`. With a spool
 * (`spoolDir`), spans SGP cannot take go to disk instead, and come back once it answers.
 */
export class SGPSpanProcessor implements SpanProcessor {
  private readonly config: ProcessorConfig;
  private readonly clock: Clock;
  private readonly disabledReason: DisabledReason | undefined;
  private readonly sink: ExportSink | undefined;
  private readonly queue: BoundedQueue<QueueEntry>;
  private readonly stats: ProcessorStats;
  private readonly flushes: FlushTracker;
  private readonly filter: SpanFilter | undefined;
  private readonly openSpans: OpenSpans | undefined;
  private readonly unregisterExitFlush: () => void;
  private readonly log: Logger;
  /** SGP refused the credentials and no batch has been taken since: said once, not per batch. */
  private credentialsRefused = false;
  private state: 'running' | 'shutting_down' | 'shut_down';
  private shutdownPromise: Promise<void> | undefined;

  // Queue entries are numbered in the order they enter the queue; these count positions in that order.
  private accepted = 0;
  private taken = 0;
  /** Export partial batches until `taken` reaches this (set by the timer and by flushes). */
  private drainUntil = 0;
  /** Entries queued, in flight or held: never more than maxQueueSize. */
  private outstanding = 0;
  private readonly inFlight = new Map<number, Flight>();
  private nextExportId = 0;
  private held: HeldBatch[] = [];
  private pausedUntil = 0;
  /** Failed rounds since SGP last took a batch; above 0 means an outage, until no held span is left. */
  private outageRounds = 0;
  /** Exports in flight that carry held spans. */
  private heldInFlight = 0;
  private kickPending = false;
  /** Local root spans whose delivery a runtime's waitUntil is waiting for. Bounded by maxQueueSize. */
  private readonly rootWaits: RootWaits;
  private cancelTimer: (() => void) | undefined;
  private exitFlushMark = 0;
  /** Spans wait on disk instead of in memory while SGP is unreachable (`spoolDir`). */
  private readonly spool: SpanSpool | undefined;
  private readonly spills = new Map<number, Spill>();
  private nextSpillId = 0;
  /** Spool writes, one after the other, in the order entries were handed over. */
  private spillChain: Promise<void> = Promise.resolve();
  /** The spool may hold items to replay (cleared when a replay finds none; set by spills and rescans). */
  private spoolBacklog = false;
  private replaying = false;
  /** The last export started was a replay: a due batch of live spans goes next, so neither starves the other. */
  private replayedLast = false;
  /** During an outage with nothing replayable on disk: the next export is a live batch, not a spill. */
  private probeLive = false;
  private cancelRescan: (() => void) | undefined;

  constructor(options: SGPSpanProcessorOptions = {}) {
    this.config = resolveProcessorConfig(options);
    this.clock = options.clock ?? systemClock;
    this.log = createLogger(this.config.logLevel);
    this.stats = new ProcessorStats(Math.max(1000, this.config.scheduledDelayMillis), () => this.clock.now(), this.log);
    this.filter = SpanFilter.fromOption(options.shouldExportSpan, Math.max(10_000, this.config.maxQueueSize), (error) =>
      this.stats.note('shouldExportSpan threw; span kept', error instanceof Error ? error.message : String(error)),
    );
    let exporter: SpanExporter | undefined;
    let ownExporter: ExporterConfig | undefined;
    if (options.exporter !== undefined) {
      if (typeof options.exporter?.export !== 'function' || typeof options.exporter?.shutdown !== 'function') {
        throw new SGPConfigError('Invalid option exporter: expected a SpanExporter with export() and shutdown()');
      }
      exporter = options.exporter;
      const warnings = [...this.config.warnings, ...checkCustomExporterOptions(options, isSGPSpanExporter(exporter))];
      this.disabledReason = isSGPSpanExporter(exporter) ? exporter.disabledReason : undefined;
      logSoon(this.log, warnings.map((warning) => ({ level: 'warn', text: `sgp-otel: ${warning}` })));
    } else {
      const exporterConfig = resolveExporterConfig(options);
      this.disabledReason = exporterConfig.disabledReason;
      logSoon(this.log, startupMessages([...this.config.warnings, ...exporterConfig.warnings], exporterConfig, 'SGPSpanProcessor'));
      if (this.disabledReason === undefined) {
        exporter = exporterFromConfig({ ...exporterConfig, connections: this.exportSlots() });
        ownExporter = exporterConfig;
      }
    }
    const enabled = this.disabledReason === undefined;
    this.sink = enabled ? sinkFor(exporter!, { clock: this.clock, maxConcurrentExports: this.exportSlots() }) : undefined;
    this.state = enabled ? 'running' : 'shut_down';
    this.queue = new BoundedQueue(enabled ? this.config.maxQueueSize : 0);
    this.flushes = new FlushTracker(this.clock);
    this.rootWaits = new RootWaits({
      clock: this.clock,
      maxEntries: this.config.maxQueueSize,
      exportTimeoutMillis: this.config.exportTimeoutMillis,
      // Never rejects into the platform: what was not delivered is counted and logged as always.
      flush: (timeoutMillis) => this.flushQueued('waitUntil', { liftOutagePause: false, timeoutMillis }),
      onFull: () =>
        this.stats.note(
          'waitUntil not registered',
          `maxQueueSize (${this.config.maxQueueSize}) root spans are open and waited for already (spans that are never ended?); this root's spans are left to the schedule`,
        ),
    });
    const { exportOnStart, exportUnendedOnShutdown, maxQueueSize } = this.config;
    this.openSpans =
      this.sink?.sendsInProgress && (exportOnStart || exportUnendedOnShutdown) ? new OpenSpans(exportOnStart, maxQueueSize) : undefined;
    this.unregisterExitFlush =
      enabled && this.config.flushOnExit ? registerExitFlush(this, SGPSpanProcessor.flushAtExit) : () => undefined;
    this.spool = enabled ? this.openSpool(options, ownExporter) : undefined;
  }

  onStart(span: Span, _parentContext: Context): void {
    if (this.state !== 'running') return;
    try {
      if (isLocalRoot(span)) this.watchRoot(span);
      if (this.rootWaits.active) this.rootWaits.started(span.spanContext());
      if (this.openSpans === undefined && this.filter === undefined) return;
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
      if (this.filter !== undefined && !this.filter.decide(span)) return;
      const start = this.openSpans?.started(span, (record) => this.enqueue(record));
      if (start === 'start queued') this.afterEnqueue();
      else if (start === 'start dropped') this.stats.inProgress.dropped += 1;
    } catch {
      // A span we cannot read gets no start record; its final record is handled in onEnd.
    }
  }

  onEnd(span: ReadableSpan): void {
    if (this.state !== 'running') return;
    this.accept(span);
    try {
      if (this.rootWaits.active) this.rootWaits.ended(span.spanContext());
      if (this.config.exportOnRootEnd && isLocalRoot(span)) {
        // A request or agent turn ended: export what is queued now instead of waiting for the timer.
        this.drainUntil = Math.max(this.drainUntil, this.accepted);
        this.kickSoon();
      }
    } catch {
      // A span we cannot read was counted by accept(); it has no root of its own to wait for.
    }
  }

  private accept(span: ReadableSpan): void {
    if (this.filter?.isFilteredOut(span)) {
      this.stats.filtered += 1;
      return;
    }
    this.openSpans?.ended(span);
    try {
      if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    } catch {
      this.stats.received += 1;
      this.stats.drop('unmappable', 1, 'a span without a readable span context');
      return;
    }
    this.stats.received += 1;
    if (!this.enqueue(span)) {
      this.stats.drop('queueFull', 1, `maxQueueSize (${this.config.maxQueueSize}) spans are already queued, in flight or held`);
      return;
    }
    this.stats.pending += 1;
    this.afterEnqueue();
  }

  forceFlush(): Promise<void> {
    if (this.disabledReason !== undefined || this.state === 'shut_down') return Promise.resolve();
    // The shutdown under way covers the same spans, and says whether they were delivered.
    if (this.state === 'shutting_down') return this.shutdownPromise!;
    const deadline = this.clock.now() + this.config.exportTimeoutMillis;
    // A program that ends with `await forceFlush()` must not exit before it settles, exporter flush included.
    const release = this.clock.keepAlive();
    return this.flushQueued('forceFlush')
      .then(() => this.withinDeadline(this.sink!.forceFlush(), deadline))
      .finally(release);
  }

  shutdown(): Promise<void> {
    this.shutdownPromise ??= this.runShutdown();
    return this.shutdownPromise;
  }

  getStats(): SGPStats {
    const { stats } = this;
    let inFlight = 0;
    for (const flight of this.inFlight.values()) inFlight += flight.spans;
    return {
      enabled: this.disabledReason === undefined,
      disabledReason: this.disabledReason,
      received: stats.received,
      exported: stats.exported,
      queued: stats.pending,
      inFlight,
      filtered: stats.filtered,
      dropped: { ...stats.dropped },
      inProgress: { ...stats.inProgress },
      exportRequests: stats.exportRequests,
      retries: stats.retries,
      outage: this.outageRounds > 0,
      open: this.openSpans?.size ?? 0,
      lastError: stats.lastError ? { ...stats.lastError } : undefined,
      spooled: stats.spooled,
      replayed: this.spool?.replayed ?? 0,
      spool: this.spool?.stats(),
    };
  }

  /** The spool, when `spoolDir` is set: it replays what it holds as soon as it is listed. */
  private openSpool(options: SGPSpanProcessorOptions, exporterConfig: ExporterConfig | undefined): SpanSpool | undefined {
    const { dir: spoolDir, maxBytes: spoolMaxBytes, warnings } = resolveSpoolConfig(options);
    logSoon(this.log, warnings.map((warning) => ({ level: 'warn', text: `sgp-otel: ${warning}` })));
    if (spoolDir === undefined) return undefined;
    if (exporterConfig === undefined) {
      // The spool keeps SGP items, which only our own exporter makes.
      if (options.spoolDir !== undefined) throw new SGPConfigError('Invalid option spoolDir: it needs sgp-otel\'s own exporter, not a custom exporter');
      logSoon(this.log, [{ level: 'warn', text: 'sgp-otel: SGP_SPOOL_DIR is ignored with a custom exporter' }]);
      return undefined;
    }
    const spool = new SpanSpool({
      dir: spoolDir,
      maxBytes: spoolMaxBytes,
      exporter: exporterConfig,
      clock: this.clock,
      log: this.log,
      onLoss: (what, items, detail) => this.stats.spoolLoss(what, items, detail),
    });
    spool.ready.then(() => this.rescanSpool(), reportInternalError);
    return spool;
  }

  /** Looks for spooled items again now, and every SPOOL_RESCAN_MILLIS while running. */
  private rescanSpool(): void {
    this.cancelRescan?.();
    this.cancelRescan = undefined;
    if (this.state !== 'running') return;
    void this.spool?.touch();
    this.spoolBacklog = true;
    this.cancelRescan = this.clock.schedule(() => this.rescanSpool(), SPOOL_RESCAN_MILLIS);
    this.kickSoon();
  }

  /**
   * A request or agent turn begins: if the runtime can keep the invocation alive (Vercel's request
   * context, or the `waitUntil` option), hand it a promise that settles once this root's trace is
   * delivered.
   */
  private watchRoot(span: Span): void {
    let delivered: Promise<void> | undefined;
    const refused = (error: unknown) => {
      if (delivered !== undefined) this.rootWaits.forget(span.spanContext());
      // Reported like a drop: once, then counted per interval, not a line per request.
      this.stats.note('waitUntil threw; the root is not waited for', error instanceof Error ? error.message : String(error));
    };
    try {
      const register = this.config.waitUntil ?? vercelWaitUntil();
      if (register === undefined) return;
      delivered = this.rootWaits.watch(span.spanContext());
      if (delivered === undefined) return;
      // Typed to return nothing, but an async function returns a promise: its rejection is ours to catch.
      const returned: unknown = register(delivered);
      if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') (returned as PromiseLike<unknown>).then(undefined, refused);
    } catch (error) {
      refused(error);
    }
  }

  /** Exports at once: one with any other exporter, and with exportOnStart (a start record must never overtake its final record). */
  private exportSlots(): number {
    return this.config.exportOnStart ? 1 : this.config.maxConcurrentExports;
  }

  private enqueue(entry: QueueEntry): boolean {
    if (this.outstanding >= this.config.maxQueueSize || !this.queue.push(entry)) return false;
    this.outstanding += 1;
    this.accepted += 1;
    return true;
  }

  private afterEnqueue(): void {
    if (this.queue.size >= this.config.maxExportBatchSize) this.kickSoon();
    else this.startTimer(this.config.scheduledDelayMillis);
  }

  private async runShutdown(): Promise<void> {
    if (this.disabledReason !== undefined) return;
    // A program that ends with `await shutdown()` must not exit before it settles.
    const release = this.clock.keepAlive();
    const deadline = this.clock.now() + this.config.exportTimeoutMillis;
    try {
      this.state = 'shutting_down';
      this.unregisterExitFlush();
      if (this.config.exportUnendedOnShutdown && this.openSpans) {
        for (const record of this.openSpans.takeUnended()) {
          if (!this.enqueue(record)) this.stats.inProgress.dropped += 1;
        }
      }
      let failure: unknown;
      try {
        await this.flushQueued('shutdown');
      } catch (error) {
        failure = error;
      }
      // From here no new export starts; what is still in flight is ended, and spooled or counted under `shutdown`.
      this.state = 'shut_down';
      this.stopTimer();
      this.cancelRescan?.();
      // File-system work on the spool (a replay's read, a spill's write, closing) is bounded too: a
      // hung mount must not hold shutdown past its deadline.
      const spoolBound = Math.max(deadline, this.clock.now() + 1000);
      if (this.inFlight.size > 0) {
        this.spool?.abort();
        await this.sink!.abort();
        const flights = Promise.all([...this.inFlight.values()].map((flight) => flight.done));
        await (this.spool ? this.withinDeadline(flights.then(noop), spoolBound) : flights);
      }
      const first = this.taken;
      const left = this.queue.take(this.queue.size);
      this.taken += left.length;
      const rest = [...this.held.flatMap((batch) => batch.entries), ...left];
      this.held = [];
      if (this.spool?.writable && rest.length > 0) this.spill(rest, first);
      else this.discard(rest);
      // Spans the spool could not take after all are counted under `shutdown` as they come back.
      await this.withinDeadline(this.spillChain, spoolBound);
      this.abandonSpills();
      if (this.spool) await this.withinDeadline(this.spool.close(), spoolBound);
      try {
        await this.withinDeadline(this.sink!.shutdown(), Math.max(deadline, this.clock.now() + 1000));
      } catch (error) {
        failure ??= error;
      }
      this.stats.flushLog(true);
      this.rootWaits.settleAll();
      if (failure !== undefined) throw failure;
    } finally {
      release();
    }
  }

  /**
   * Spills the spool has not answered for by shutdown's deadline (a file system that hangs): their
   * entries are counted as dropped (shutdown), never left as queued, and not booked again should
   * the write end after all.
   */
  private abandonSpills(): void {
    for (const [id, spill] of this.spills) {
      spill.abandoned = true;
      this.spills.delete(id);
      this.discard(spill.unbooked);
    }
  }

  private discard(entries: QueueEntry[]): void {
    let spans = 0;
    for (const entry of entries) {
      if (entry instanceof InProgressRecord) this.stats.inProgress.dropped += 1;
      else spans += 1;
    }
    this.outstanding -= entries.length;
    this.stats.pending -= spans;
    this.stats.drop('shutdown', spans, 'shutdown() ran out of time before they were delivered');
  }

  /**
   * Flushes once when the process is about to exit without shutdown(), if spans arrived since the
   * last time. Static: a closure made in the constructor would share its context, which holds the
   * processor, and keep every processor ever made alive through the registry.
   */
  private static flushAtExit(processor: SGPSpanProcessor): void {
    processor.flushOnceAtExit();
  }

  private flushOnceAtExit(): void {
    if (this.state !== 'running' || this.accepted === this.exitFlushMark || this.lowestPending() >= this.accepted) return;
    this.exitFlushMark = this.accepted;
    this.forceFlush().catch((error: unknown) => {
      this.log.warn(`sgp-otel: flush at process exit incomplete: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /**
   * Exports everything accepted so far, including what is in flight or held. Resolves when all
   * of it was delivered; rejects with an SGPFlushError when some was dropped or time ran out.
   */
  private flushQueued(
    label: 'forceFlush' | 'shutdown' | 'waitUntil',
    { liftOutagePause = true, timeoutMillis = this.config.exportTimeoutMillis } = {},
  ): Promise<void> {
    const mark = this.accepted;
    if (this.lowestPending() >= mark) return Promise.resolve();
    this.drainUntil = Math.max(this.drainUntil, mark);
    // Try held spans once more right away; if that round fails too, the outage pause applies again.
    // Not for every request's waitUntil: that would probe a struggling SGP at the request rate.
    if (liftOutagePause) this.pausedUntil = Math.min(this.pausedUntil, this.clock.now());
    const flushed = this.flushes.track(mark, label, timeoutMillis, (m) => this.pendingBefore(m));
    this.pump();
    return flushed;
  }

  /** Waits for `work`, or until `deadline`, whichever comes first (an exporter's flush or shutdown may never settle). */
  private async withinDeadline(work: Promise<void>, deadline: number): Promise<void> {
    let cancel = noop;
    const timeout = new Promise<void>((resolve) => {
      cancel = this.clock.schedule(resolve, Math.max(0, deadline - this.clock.now()));
    });
    try {
      await Promise.race([work, timeout]);
    } finally {
      cancel();
    }
  }

  /** Starts an export on a later turn of the event loop, so `span.end()` never pays for one. */
  private kickSoon(): void {
    if (this.kickPending) return;
    // While spans go to the spool, a full batch is written there even when every export slot is taken.
    if (this.inFlight.size >= this.sink!.maxConcurrentExports && !this.spooling()) return;
    this.kickPending = true;
    void this.clock.yield().then(() => {
      this.kickPending = false;
      this.pump();
    }, reportInternalError);
  }

  /**
   * Starts exports while batches are due and export slots are free; during an outage, one at a
   * time, held spans first, then spooled ones. With a spool, an outage sends due batches to disk
   * instead, and the next export after each pause is a replay of the oldest spooled items.
   */
  private pump(): void {
    if (this.spooling()) this.spillDue();
    while (this.state !== 'shut_down' && this.inFlight.size < this.sink!.maxConcurrentExports) {
      if (this.outageRounds > 0 && this.inFlight.size > 0) return;
      let batch: QueueEntry[];
      let first: number;
      const carriesHeld = this.held.length > 0;
      const wait = this.pausedUntil - this.clock.now();
      if ((carriesHeld || this.spooling()) && wait > 0) {
        this.stopTimer();
        this.startTimer(wait);
        return;
      }
      const queueDue = this.queue.size >= this.config.maxExportBatchSize || (this.queue.size > 0 && this.drainUntil > this.taken);
      if (!carriesHeld && this.spoolBacklog && !this.probeLive && !this.replaying && this.state === 'running' && !(this.replayedLast && queueDue)) {
        this.stopTimer();
        this.launchReplay();
        continue;
      }
      if (carriesHeld) {
        first = this.held[0]!.first;
        batch = this.held.flatMap((held) => held.entries);
        this.held = [];
      } else {
        if (!queueDue) {
          this.startTimer(this.config.scheduledDelayMillis);
          return;
        }
        first = this.taken;
        batch = this.queue.take(this.config.maxExportBatchSize);
        this.taken += batch.length;
      }
      this.stopTimer();
      this.launch(batch, first, carriesHeld);
    }
  }

  private launch(batch: QueueEntry[], first: number, carriesHeld: boolean): void {
    this.replayedLast = false;
    this.probeLive = false;
    const id = this.nextExportId;
    this.nextExportId += 1;
    let spans = 0;
    for (const entry of batch) if (!(entry instanceof InProgressRecord)) spans += 1;
    const flight: Flight = { first, entries: batch.length, spans, done: Promise.resolve() };
    this.inFlight.set(id, flight);
    if (carriesHeld) this.heldInFlight += 1;
    flight.done = this.exportEntries(this.sending(batch), first, carriesHeld)
      .then(() => {
        this.inFlight.delete(id);
        if (carriesHeld) this.heldInFlight -= 1;
        this.flushes.settle(this.lowestPending());
        this.stats.flushLog();
        this.pump();
      })
      .catch(reportInternalError);
  }

  /** Sequence number of the oldest entry not settled yet: queued, in flight, held or being spooled. */
  private lowestPending(): number {
    let low = this.taken;
    for (const flight of this.inFlight.values()) low = Math.min(low, flight.first);
    for (const spill of this.spills.values()) low = Math.min(low, spill.first);
    return this.held.length > 0 ? Math.min(low, this.held[0]!.first) : low;
  }

  /** About how many entries numbered below `mark` are not settled yet (for messages). */
  private pendingBefore(mark: number): number {
    let count = Math.max(0, Math.min(mark, this.accepted) - this.taken);
    for (const flight of this.inFlight.values()) if (flight.first < mark) count += flight.entries;
    for (const held of this.held) if (held.first < mark) count += held.entries.length;
    for (const spill of this.spills.values()) if (spill.first < mark) count += spill.entries;
    return count;
  }

  /** Whether spans SGP cannot take go to the spool now: an outage, and a spool that can be written. */
  private spooling(): boolean {
    return this.outageRounds > 0 && this.spool?.writable === true && this.state !== 'shut_down';
  }

  /** During an outage, hands the batches that are due to the spool instead of exporting them. */
  private spillDue(): void {
    // With nothing on disk to probe SGP with, the newest batch stays queued to be the probe.
    const keep = this.probeLive ? this.config.maxExportBatchSize : 0;
    while (this.queue.size > keep && (this.queue.size >= this.config.maxExportBatchSize || this.drainUntil > this.taken)) {
      const first = this.taken;
      const entries = this.queue.take(Math.min(SPILL_CHUNK, this.queue.size - keep));
      this.taken += entries.length;
      this.spill(entries, first);
    }
  }

  /** Writes `entries` to the spool, after any write already under way; until then they count as queued. */
  private spill(entries: QueueEntry[], first: number): void {
    const id = this.nextSpillId;
    this.nextSpillId += 1;
    const spill: Spill = { first, entries: entries.length, unbooked: entries, abandoned: false };
    this.spills.set(id, spill);
    this.spillChain = this.spillChain
      .then(() => this.writeToSpool(spill))
      .catch(reportInternalError)
      .then(() => {
        this.spills.delete(id);
        this.flushes.settle(this.lowestPending());
        this.pump();
      });
  }

  /** Books each entry once the spool took it (or not: then it is held in memory, or at shutdown dropped). */
  private async writeToSpool(spill: Spill): Promise<void> {
    if (spill.abandoned) return;
    const { unbooked: entries, first } = spill;
    const items: SpoolItem[] = [];
    const spooling: QueueEntry[] = [];
    for (const entry of entries) {
      if (!(entry instanceof InProgressRecord)) {
        // Already encoded by the export that failed: spooled as sent, the mask not run again.
        items.push(entry instanceof EncodedItem ? { body: entry.bytes } : { record: this.spanRecord(entry, false) });
        spooling.push(entry);
        continue;
      }
      // Never spooled: its span's final record follows it, and a start record replayed later could overwrite it.
      entry.taken = true;
      this.outstanding -= 1;
      if (entry.superseded) this.stats.inProgress.superseded += 1;
      else this.stats.inProgress.dropped += 1;
    }
    spill.unbooked = spooling;
    if (items.length === 0) return;
    const outcomes = await this.spool!.write(items);
    // Given up by shutdown meanwhile: already counted (as dropped, though the spool may have them after all).
    if (spill.abandoned) return;
    spill.unbooked = [];
    const kept: QueueEntry[] = [];
    let spooled = 0;
    let unmappable = 0;
    spooling.forEach((entry, i) => {
      const outcome = outcomes[i];
      if (outcome === 'kept') {
        kept.push(entry);
        return;
      }
      this.outstanding -= 1;
      this.stats.pending -= 1;
      if (outcome === 'spooled') spooled += 1;
      else unmappable += 1;
    });
    this.stats.spooled += spooled;
    this.spoolBacklog ||= spooled > 0;
    if (spooled > 0) this.flushes.noteDropped(first, spooled, `spooled to ${this.spool!.directory.path}, to be sent once SGP answers`);
    if (unmappable > 0) {
      this.stats.drop('unmappable', unmappable, 'could not be mapped to an SGP item');
      this.flushes.noteDropped(first, unmappable, DROP_REASON_TEXT.unmappable);
    }
    if (kept.length === 0) return;
    if (this.state === 'shut_down') this.discard(kept);
    else this.hold({ first, entries: kept });
  }

  /** Sends the oldest spooled items, in an export slot of its own (one replay at a time). */
  private launchReplay(): void {
    const id = this.nextExportId;
    this.nextExportId += 1;
    // Carries no queue entry: it holds back no flush.
    const flight: Flight = { first: Number.MAX_SAFE_INTEGER, entries: 0, spans: 0, done: Promise.resolve() };
    this.inFlight.set(id, flight);
    this.replaying = true;
    this.replayedLast = true;
    flight.done = this.replayOnce()
      .catch(reportInternalError)
      .then(() => {
        this.inFlight.delete(id);
        this.replaying = false;
        this.flushes.settle(this.lowestPending());
        this.stats.flushLog();
        this.pump();
      });
  }

  private async replayOnce(): Promise<void> {
    const items = Math.min(REPLAY_MAX_ITEMS, REPLAY_BATCHES * this.config.maxExportBatchSize);
    const result = await this.spool!.replayNext(items, this.clock.now() + this.config.exportTimeoutMillis, this.config.maxExportBatchSize);
    if (result === undefined) {
      this.spoolBacklog = false;
      // Nothing on disk could be sent (none left, or none this process can claim or read): during
      // an outage a live batch must probe SGP instead, or the outage would never be seen to end.
      this.probeLive = this.outageRounds > 0;
      return;
    }
    this.stats.exportRequests += result.requests;
    this.stats.retries += result.retries;
    if (result.aborted) return;
    if (result.error) this.stats.recordError(result.error);
    if (result.retryLater) this.outageRound(result.error?.message ?? 'unknown error');
    // SGP answered (took items, or refused or failed them with an answer of its own).
    else if (this.outageRounds > 0 && result.exported + result.dropped > 0 && this.held.length === 0 && this.heldInFlight === 0) this.outageOver();
  }

  /** Another round failed for an outage: pause before the next, longer each time. */
  private outageRound(detail: string): void {
    this.outageRounds += 1;
    this.pausedUntil = this.clock.now() + outageCooldownMillis(this.outageRounds);
    if (this.outageRounds > 1) return;
    const what = this.spool?.writable
      ? `spooling spans to ${this.spool.directory.path} and retrying`
      : `holding spans and retrying, up to maxQueueSize (${this.config.maxQueueSize})`;
    this.log.warn(`sgp-otel: SGP is unreachable (${detail}); ${what}`);
  }

  private outageOver(): void {
    this.probeLive = false;
    this.log.info(`sgp-otel: SGP is reachable again after ${this.outageRounds} failed round${this.outageRounds === 1 ? '' : 's'}`);
    this.outageRounds = 0;
  }

  /**
   * What an export of `batch` sends: a record per entry, and the entries it must account for.
   * Ended spans are not among those entries: the exporter lets a record go once its bytes are
   * written, so a span in flight is held only as bytes, and one that must be held or spooled
   * afterwards comes back as those bytes (or, never encoded, as its record).
   */
  private sending(batch: QueueEntry[]): Sending {
    const running: (InProgressRecord | undefined)[] = [];
    const records: (ExportRecord | undefined)[] = [];
    for (const entry of batch) {
      if (entry instanceof InProgressRecord) {
        entry.taken = true;
        if (entry.superseded) {
          this.stats.inProgress.superseded += 1;
          this.outstanding -= 1;
          continue;
        }
        records.push(this.spanRecord(entry.span, true));
        running.push(entry);
      } else {
        records.push(entry instanceof EncodedItem ? entry : this.spanRecord(entry, false));
        running.push(undefined);
      }
    }
    return { records, running };
  }

  /** Exports one batch and accounts for every entry in it. Never rejects. */
  private async exportEntries(sending: Sending, first: number, carriesHeld: boolean): Promise<void> {
    const { records } = sending;
    if (records.length === 0) return;
    let report: ExportReport;
    try {
      report = await this.sink!.export(records, this.clock.now() + this.config.exportTimeoutMillis);
    } catch (error) {
      // Sinks never reject; should one do so anyway, its records still settle.
      const failure = error instanceof Error ? error : new Error(String(error));
      report = { outcomes: records.map(() => 'exportFailed' as const), requests: 0, retries: 0, error: failure };
    }
    this.account(sending, report, first, carriesHeld);
  }

  private spanRecord(span: ReadableSpan, inProgress: boolean): SpanRecord {
    const parentId = this.filter?.parentOverride(span);
    return parentId === undefined ? { span, inProgress } : { span, inProgress, parentId };
  }

  /** Books each entry's outcome; entries to retry later are held and the outage pause starts. */
  private account(sending: Sending, report: ExportReport, first: number, carriesHeld: boolean): void {
    const { stats } = this;
    stats.exportRequests += report.requests;
    stats.retries += report.retries;
    if (report.error) stats.recordError(report.error);
    this.noteCredentials(report);
    const detail = (outcome: RecordOutcome) => (report.errors?.[outcome] ?? report.error)?.message ?? 'unknown error';
    const drops: Partial<Record<DroppedOutcome, number>> = {};
    const held: QueueEntry[] = [];
    // Ended by shutdown's deadline: spooled rather than dropped, when there is a spool.
    const cut: QueueEntry[] = [];
    sending.running.forEach((running, i) => {
      let outcome = report.outcomes[i] ?? 'exportFailed';
      if (outcome === 'retryLater' || (outcome === 'shutdown' && this.spool?.writable && running === undefined)) {
        const entry = running ?? entryBack(sending.records[i], report.bodies?.[i]);
        if (entry !== undefined) {
          (outcome === 'retryLater' ? held : cut).push(entry);
          return;
        }
        // Neither bytes nor record came back (a sink breaking its contract): counted, not lost.
        outcome = 'exportFailed';
      }
      this.outstanding -= 1;
      if (running !== undefined) {
        if (outcome === 'exported') stats.inProgress.sent += 1;
        else stats.inProgress.dropped += 1;
        return;
      }
      stats.pending -= 1;
      if (outcome === 'exported') stats.exported += 1;
      else drops[outcome] = (drops[outcome] ?? 0) + 1;
    });
    for (const [reason, count] of Object.entries(drops) as [DroppedOutcome, number][]) {
      stats.drop(reason, count, detail(reason));
      this.flushes.noteDropped(first, count, `${DROP_REASON_TEXT[reason]}: ${detail(reason)}`);
    }
    if (cut.length > 0) this.spill(cut, first);
    if (held.length > 0) {
      if (this.spool?.writable) this.spill(held, first);
      else this.hold({ first, entries: held });
      this.outageRound(detail('retryLater'));
    } else if (this.outageRounds > 0 && answered(report) && this.held.length === 0 && this.heldInFlight === (carriesHeld ? 1 : 0)) {
      // The outage ends when SGP answered and no held span is left, waiting or in flight (a
      // shutdown that aborted the requests is no answer).
      this.outageOver();
    }
  }

  /** Says once that SGP refused the key or account (401/403), until SGP takes a batch again. */
  private noteCredentials(report: ExportReport): void {
    const { error } = report;
    if (error instanceof SGPExportError && error.kind === 'http' && (error.status === 401 || error.status === 403)) {
      if (this.credentialsRefused) return;
      this.credentialsRefused = true;
      const check = error.status === 401 ? 'check SGP_API_KEY (apiKey): the key is wrong or revoked' : 'check SGP_ACCOUNT_ID (accountId): the key has no access to it';
      this.log.warn(`sgp-otel: SGP refused the credentials (HTTP ${error.status}): ${check}. Spans are dropped until this is fixed.`);
    } else if (report.outcomes.includes('exported')) {
      this.credentialsRefused = false;
    }
  }

  /** Keeps held batches in sequence order, so the oldest spans go out first. */
  private hold(batch: HeldBatch): void {
    const at = this.held.findIndex((other) => other.first > batch.first);
    if (at < 0) this.held.push(batch);
    else this.held.splice(at, 0, batch);
  }

  private startTimer(delayMillis: number): void {
    const idle = this.queue.size === 0 && this.held.length === 0 && !this.spoolBacklog;
    if (this.cancelTimer || idle || this.state === 'shut_down') return;
    this.cancelTimer = this.clock.schedule(() => {
      this.cancelTimer = undefined;
      this.drainUntil = Math.max(this.drainUntil, this.accepted);
      this.stats.flushLog();
      this.pump();
    }, delayMillis);
  }

  private stopTimer(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}

/** A span with no parent in this process: a request, a job, an agent turn. */
function isLocalRoot(span: ReadableSpan | Span): boolean {
  const readable = span as ReadableSpan & { parentSpanId?: string };
  const parent = readable.parentSpanContext;
  return parent === undefined ? readable.parentSpanId === undefined : parent.isRemote === true;
}

/** The last line of defence: a bug of ours is logged, never an unhandled rejection in the host. */
function reportInternalError(error: unknown): void {
  createLogger('error').error(`sgp-otel: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
}

function noop(): void {}

/** Whether SGP answered any of the report's requests: a span taken or refused (not only aborted or failed locally). */
/**
 * An ended span's entry again after an export that did not deliver it: the bytes it was sent as,
 * or its record when it was never encoded (the exporter reports the bytes of every record it let go).
 */
function entryBack(record: ExportRecord | undefined, bytes: Buffer | undefined): QueueEntry | undefined {
  if (bytes !== undefined) return new EncodedItem(bytes);
  if (record instanceof EncodedItem) return record;
  return record?.span;
}

/** Whether SGP answered the export (took or refused something, or answered with an error of its own): SGP is reachable. */
function answered(report: ExportReport): boolean {
  return (
    report.outcomes.some((outcome) => outcome === 'exported' || outcome === 'rejected') ||
    (report.error instanceof SGPExportError && report.error.kind === 'http' && report.outcomes.includes('exportFailed'))
  );
}
