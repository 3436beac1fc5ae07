/**
 * The processor's spool: spans SGP could not take are encoded once, as the SGP items they will be
 * sent as, and appended to segment files on disk; once SGP answers, the items are sent again,
 * oldest first, as those exact bytes (so `start_timestamp` is byte-identical). Re-sending is safe:
 * SGP upserts by (trace_id, id), so replay is at-least-once.
 *
 * Books: a span handed to the spool leaves the processor's `queued` and is counted `spooled`.
 * From there the spool follows it: `replayed` once delivered (by this process or any other that
 * shares the directory), or one of the spool's drop reasons.
 */
import type { Clock } from '../clock.js';
import type { ExporterConfig } from '../config.js';
import type { SpanRecord } from '../delivery/encode.js';
import { encodeRecords } from '../delivery/encode.js';
import type { SGPExportError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Claim, SpoolFs } from '../spool/directory.js';
import { SpoolDirectory } from '../spool/directory.js';
import { ReplaySender } from '../spool/replay-sender.js';
import type { SGPSpoolStats } from './stats.js';

export interface SpanSpoolOptions {
  dir: string;
  maxBytes: number;
  exporter: ExporterConfig;
  clock: Clock;
  log: Logger;
  /** Reports a loss from the spool (rate-limited by the caller, like drops). */
  onLoss(what: string, items: number, detail: string): void;
  segmentBytes?: number;
  fs?: SpoolFs;
}

/** A span for the spool: its record, or its item's bytes when an export already encoded them. */
export type SpoolItem = { record: SpanRecord; body?: undefined } | { body: Buffer; record?: undefined };

/** What became of each record handed to {@link SpanSpool.write}. `kept`: not spooled, the caller still has it. */
export type SpoolWriteOutcome = 'spooled' | 'unmappable' | 'kept';

export interface ReplayResult {
  /** Items delivered; settled for good. */
  exported: number;
  /** Items dropped for good (the item at fault of a refused batch, or a 500 that outlasted the retries). */
  dropped: number;
  /** Some items could not be sent now (SGP unreachable, or it refused the request itself): they stay spooled. */
  retryLater: boolean;
  /** The send was ended by {@link SpanSpool.abort} (shutdown), not by SGP: says nothing about an outage. */
  aborted: boolean;
  requests: number;
  retries: number;
  error: SGPExportError | undefined;
}

export class SpanSpool {
  readonly directory: SpoolDirectory;
  replayed = 0;
  readonly dropped: SGPSpoolStats['dropped'] = { total: 0, spoolFull: 0, corrupt: 0, deleted: 0, rejected: 0, exportFailed: 0 };
  private readonly sender: ReplaySender;
  private claim: Claim | undefined;

  constructor(private readonly options: SpanSpoolOptions) {
    this.directory = new SpoolDirectory({
      dir: options.dir,
      maxBytes: options.maxBytes,
      clock: options.clock,
      log: options.log,
      segmentBytes: options.segmentBytes,
      fs: options.fs,
      onLoss: (reason, items, detail) => this.lose(reason, items, detail),
    });
    this.sender = new ReplaySender(options.exporter, options.log);
  }

  get ready(): Promise<void> {
    return this.directory.ready;
  }

  get writable(): boolean {
    return this.directory.writable;
  }

  /**
   * Appends `items`: each one's `body` when an export already encoded it, else its record encoded
   * as the exporter would. Never rejects.
   */
  async write(items: readonly SpoolItem[]): Promise<SpoolWriteOutcome[]> {
    const outcomes = new Array<SpoolWriteOutcome>(items.length).fill('kept');
    if (!this.writable || items.length === 0) return outcomes;
    const { captureContent, mask, maxFieldBytes, resourceAttributes, exportTimeoutMillis } = this.options.exporter;
    const { clock } = this.options;
    try {
      const bodies = items.map((item) => item.body);
      const toEncode: SpanRecord[] = [];
      const positions: number[] = [];
      items.forEach((item, i) => {
        if (item.record === undefined) return;
        toEncode.push(item.record);
        positions.push(i);
      });
      if (toEncode.length > 0) {
        const maskDeadline = clock.now() + exportTimeoutMillis / 2;
        const { encoded, failed } = await encodeRecords(toEncode, { captureContent, mask, maxFieldBytes, clock, maskDeadline, resourceAttributes });
        for (const { index } of failed) outcomes[positions[index]!] = 'unmappable';
        for (const { index, body } of encoded) bodies[positions[index]!] = body;
      }
      const ready = bodies.flatMap((body, i) => (body === undefined ? [] : [i]));
      const appended = await this.directory.append(ready.map((i) => bodies[i]!));
      ready.forEach((i, k) => {
        if (appended[k] === 'written') outcomes[i] = 'spooled';
      });
    } catch {
      // Encoding never rejects and append catches its own errors; the records stay with the caller.
    }
    return outcomes;
  }

  /**
   * Sends up to `maxItems` spooled items, oldest first. Undefined when nothing is spooled. Items
   * that could not be sent stay spooled for the next call (or the next process). Never rejects.
   */
  async replayNext(maxItems: number, deadline: number, batchSize?: number): Promise<ReplayResult | undefined> {
    this.claim ??= await this.directory.claimNext();
    const claim = this.claim;
    if (claim === undefined) return undefined;
    const items = claim.records.slice(claim.next, claim.next + maxItems);
    const report = await this.sender.send(items, deadline, batchSize);
    const aborted = report.outcomes.includes('shutdown');
    const result: ReplayResult = { exported: 0, dropped: 0, retryLater: false, aborted, requests: report.requests, retries: report.retries, error: report.error };
    if (aborted || report.outcomes.includes('keep')) {
      // Not settled as a whole: all of it is sent again later (what went through is an upsert again).
      result.retryLater = true;
      return result;
    }
    report.outcomes.forEach((outcome, i) => {
      if (outcome === 'exported') result.exported += 1;
      else if (outcome === 'rejected' || outcome === 'exportFailed') {
        result.dropped += 1;
        this.lose(outcome, 1, (report.errors[i] ?? report.error)?.message ?? 'unknown error');
      }
    });
    this.replayed += result.exported;
    claim.next += items.length;
    if (claim.next >= claim.records.length) {
      this.claim = undefined;
      await this.directory.finish(claim);
    }
    return result;
  }

  /** Tells processes sharing the directory that this one is alive (see {@link SpoolDirectory.touch}). Never rejects. */
  touch(): Promise<void> {
    return this.directory.touch().catch(() => undefined);
  }

  /** Ends a replay request in flight now; its items stay spooled. */
  abort(): void {
    this.sender.abort();
  }

  /** Seals the open segment and gives back a segment claimed for replay. Never rejects. */
  async close(): Promise<void> {
    const claim = this.claim;
    this.claim = undefined;
    if (claim !== undefined) await this.directory.release(claim);
    await this.directory.close();
    await this.sender.close().catch(() => undefined);
  }

  stats(): SGPSpoolStats {
    const usage = this.directory.usage();
    return {
      path: this.directory.path,
      writable: this.directory.writable,
      bytes: usage.bytes,
      maxBytes: this.directory.maxBytes,
      segments: usage.segments,
      oldestAt: usage.oldestAt === undefined ? undefined : new Date(usage.oldestAt).toISOString(),
      dropped: { ...this.dropped },
    };
  }

  private lose(reason: keyof Omit<SGPSpoolStats['dropped'], 'total'>, items: number, detail: string): void {
    if (reason === 'corrupt') {
      this.dropped.corrupt += items;
      this.dropped.total += items;
      this.options.onLoss('corrupt spool record', items, detail);
      return;
    }
    if (items <= 0) return;
    this.dropped[reason] += items;
    this.dropped.total += items;
    this.options.onLoss(`spool ${reason}`, items, detail);
  }
}
