/**
 * Sends spooled items, as the bytes they were spooled as, through the same retrying transport
 * the exporter uses. A batch SGP refuses for its content is halved down to the items at fault
 * (within the exporter's split budget); only those are dropped. A request SGP refuses for itself
 * (credentials, path) keeps the items: they stay spooled until it is fixed.
 *
 * It shares the exporter's transport, failure table and request chunking, and isolate.ts: the split
 * budget, the way of isolating the items at fault, and a single item's last chance after a 413.
 */
import type { ExporterConfig } from '../config.js';
import { classifyFailure } from '../delivery/classify.js';
import { requestBody, requestChunks } from '../delivery/encode.js';
import { isolateRefused, lastChance, splitBudget } from '../delivery/isolate.js';
import { RetryingTransport } from '../delivery/retrying-transport.js';
import { SGPTransport } from '../delivery/transport.js';
import type { SGPExportError } from '../errors.js';
import type { Logger } from '../log.js';

/** What became of one spooled item. `keep`: not delivered, stays spooled; `shutdown`: the send was ended, stays spooled. */
export type ReplayOutcome = 'exported' | 'rejected' | 'exportFailed' | 'keep' | 'shutdown';

export interface ReplayReport {
  outcomes: ReplayOutcome[];
  requests: number;
  retries: number;
  /** The last failure. */
  error: SGPExportError | undefined;
  /** By item, the failure behind its outcome, so each drop is reported with its own reason. */
  errors: (SGPExportError | undefined)[];
}

/** A spooled item's bytes and its place in the replay call. */
interface SpooledRecord {
  index: number;
  body: Buffer;
  /** Already cut short after a 413. */
  shrunk?: boolean;
}

export class ReplaySender {
  private readonly transport: RetryingTransport;

  constructor(
    private readonly config: ExporterConfig,
    log: Logger,
  ) {
    const transport = new SGPTransport({
      endpoint: config.endpoint,
      apiKey: config.apiKey!,
      accountId: config.accountId!,
      headers: config.headers,
      dispatcher: config.dispatcher,
      connections: 1,
      proxy: config.proxy,
      clock: config.clock,
      timeoutMillis: config.timeoutMillis,
    });
    this.transport = new RetryingTransport(transport, { policy: config.retry, requestTimeoutMillis: config.timeoutMillis, clock: config.clock, log });
  }

  /**
   * Sends `items` (each an item's JSON) by `deadline` and says what became of each. Never rejects.
   * A request SGP refuses for its content is sent again as batches of `batchSize`, each isolating
   * its bad items within its own split budget, as the same spans sent live would have been: a
   * replay loses no more batch-mates than a live export.
   */
  async send(items: readonly Buffer[], deadline: number, batchSize = items.length): Promise<ReplayReport> {
    const report: ReplayReport = { outcomes: new Array<ReplayOutcome>(items.length).fill('keep'), requests: 0, retries: 0, error: undefined, errors: [] };
    const records = items.map((body, index) => ({ index, body }));
    try {
      for (const chunk of requestChunks(records, this.config.maxBatchBytes)) await this.sendGroup(chunk, Math.max(1, batchSize), deadline, report);
    } catch (error) {
      // Nothing above should throw; if it does, the items stay spooled.
      report.error = error as SGPExportError;
    }
    return report;
  }

  abort(): void {
    this.transport.abort();
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  /** Sends `group` in one request; if SGP refuses its content, each batch of `batchSize` on its own. */
  private async sendGroup(group: SpooledRecord[], batchSize: number, deadline: number, report: ReplayReport): Promise<void> {
    const error = await this.sendOnce(group, deadline, report);
    if (error === undefined) return;
    if (group.length <= batchSize) return this.isolate(group, error, deadline, report);
    for (let at = 0; at < group.length; at += batchSize) {
      const batch = group.slice(at, at + batchSize);
      const refusal = await this.sendOnce(batch, deadline, report);
      if (refusal !== undefined) await this.isolate(batch, refusal, deadline, report);
    }
  }

  /** The items at fault in `batch`, found as the exporter finds them, within the split budget of a live export of it. */
  private isolate(batch: SpooledRecord[], error: SGPExportError, deadline: number, report: ReplayReport): Promise<void> {
    return isolateRefused(batch, error, { left: splitBudget(batch.length) }, {
      send: (part) => this.sendOnce(part, deadline, report),
      single: (record, refusal) => this.settleSingle(record, refusal, deadline, report),
      giveUp: (part, refusal) => this.settle(part, refusal, report),
      size: (record) => record.body.length,
      random: () => this.config.clock.random(),
    });
  }

  /** Sends `part` in one request (with retries). Returns the error when SGP refused its content; settles the part otherwise. */
  private async sendOnce(part: SpooledRecord[], deadline: number, report: ReplayReport): Promise<SGPExportError | undefined> {
    const attempted = await this.transport.send(requestBody(part), deadline);
    report.requests += attempted.attempts;
    report.retries += Math.max(0, attempted.attempts - 1);
    const error = attempted.error;
    if (error !== undefined && classifyFailure(error).then === 'split') return error;
    this.settle(part, error, report);
    return undefined;
  }

  /** A single item SGP refused: its last chance (isolate.ts), else dropped. */
  private async settleSingle(record: SpooledRecord, error: SGPExportError, deadline: number, report: ReplayReport): Promise<void> {
    const final = await lastChance(record.body, record.shrunk === true, error, (smaller) =>
      this.sendOnce([{ index: record.index, body: smaller, shrunk: true }], deadline, report),
    );
    if (final !== undefined) this.settle([record], final, report);
  }

  /** Books `part` as delivered (no error) or by what `error` means for it. */
  private settle(part: SpooledRecord[], error: SGPExportError | undefined, report: ReplayReport): void {
    if (error === undefined) {
      for (const { index } of part) report.outcomes[index] = 'exported';
      return;
    }
    report.error = error;
    const action = classifyFailure(error).then;
    const outcome: ReplayOutcome =
      action === 'split' ? 'rejected' : action === 'fail' ? 'exportFailed' : action === 'abandon' ? 'shutdown' : 'keep';
    for (const { index } of part) {
      report.outcomes[index] = outcome;
      report.errors[index] = error;
    }
  }
}
