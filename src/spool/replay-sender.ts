/**
 * Sends spooled items, as the bytes they were spooled as, through the same retrying transport
 * the exporter uses. A batch SGP refuses for its content is halved down to the items at fault
 * (within the exporter's split budget); only those are dropped. A request SGP refuses for itself
 * (credentials, path) keeps the items: they stay spooled until it is fixed.
 *
 * It shares the exporter's transport, failure table, request chunking, split budget and 413 rule:
 * a single item refused as too large is sent once more with its strings cut short (read back from
 * its bytes, as the exporter does).
 */
import type { ExporterConfig } from '../config.js';
import { classifyFailure } from '../delivery/classify.js';
import { itemOf, requestBody, requestChunks, shrunkBody } from '../delivery/encode.js';
import { splitBudget } from '../delivery/exporter.js';
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
    if (group.length <= batchSize) return this.sendPart(group, deadline, report, { left: splitBudget(group.length) });
    const error = await this.attempt(group, deadline, report);
    if (error === undefined || classifyFailure(error).then !== 'split') return this.settle(group, error, report);
    for (let at = 0; at < group.length; at += batchSize) {
      const batch = group.slice(at, at + batchSize);
      await this.sendPart(batch, deadline, report, { left: splitBudget(batch.length) });
    }
  }

  /** Sends `part` in one request (with retries); undefined once SGP took it. */
  private async attempt(part: SpooledRecord[], deadline: number, report: ReplayReport): Promise<SGPExportError | undefined> {
    const attempted = await this.transport.send(requestBody(part), deadline);
    report.requests += attempted.attempts;
    report.retries += Math.max(0, attempted.attempts - 1);
    return attempted.error;
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

  private async sendPart(part: SpooledRecord[], deadline: number, report: ReplayReport, budget: { left: number }): Promise<void> {
    const error = await this.attempt(part, deadline, report);
    if (error === undefined || classifyFailure(error).then !== 'split') return this.settle(part, error, report);
    if (part.length > 1 && budget.left >= 2) {
      budget.left -= 2;
      const middle = Math.ceil(part.length / 2);
      await this.sendPart(part.slice(0, middle), deadline, report, budget);
      await this.sendPart(part.slice(middle), deadline, report, budget);
      return;
    }
    if (part.length === 1) {
      const single = part[0]!;
      const item = parsed(single.body);
      const smaller = error.status === 413 && !single.shrunk && item ? shrunkBody(item) : undefined;
      if (smaller) {
        await this.sendPart([{ index: single.index, body: smaller, shrunk: true }], deadline, report, budget);
        return;
      }
      if (item) return this.settle(part, error.withMessage(`SGP rejected span "${item.name}" (${item.id}): ${error.message}`), report);
    }
    this.settle(part, error, report);
  }
}

function parsed(body: Buffer): ReturnType<typeof itemOf> | undefined {
  try {
    return itemOf(body);
  } catch {
    return undefined;
  }
}
