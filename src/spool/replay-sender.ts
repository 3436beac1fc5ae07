/**
 * Sends spooled items, as the bytes they were spooled as, through the same retrying transport
 * the exporter uses. A batch SGP refuses for its content is halved down to the items at fault
 * (within the exporter's split budget); only those are dropped. A request SGP refuses for itself
 * (credentials, path) keeps the items: they stay spooled until it is fixed.
 *
 * The exporter's own split loop works on live spans only; see the report on `exportEncoded` for
 * the change in src/delivery/ that would let the spool hand it these bytes instead.
 */
import type { ExporterConfig } from '../config.js';
import { SERVER_MAX_ITEMS_PER_REQUEST } from '../config.js';
import { classifyFailure } from '../delivery/classify.js';
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
  error: SGPExportError | undefined;
}

const OPEN = Buffer.from('{"items":[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');

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
    });
    this.transport = new RetryingTransport(transport, { policy: config.retry, requestTimeoutMillis: config.timeoutMillis, clock: config.clock, log });
  }

  /** Sends `items` (each an item's JSON) by `deadline` and says what became of each. Never rejects. */
  async send(items: readonly Buffer[], deadline: number): Promise<ReplayReport> {
    const report: ReplayReport = { outcomes: new Array<ReplayOutcome>(items.length).fill('keep'), requests: 0, retries: 0, error: undefined };
    const budget = { left: splitBudget(items.length) };
    try {
      for (const chunk of this.chunks(items)) await this.sendPart(chunk, items, deadline, report, budget);
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

  /** Index lists of at most 1000 items and maxBatchBytes each. */
  private chunks(items: readonly Buffer[]): number[][] {
    const chunks: number[][] = [];
    let current: number[] = [];
    let bytes = 0;
    items.forEach((item, index) => {
      if (current.length > 0 && (current.length >= SERVER_MAX_ITEMS_PER_REQUEST || bytes + item.length + 1 > this.config.maxBatchBytes)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(index);
      bytes += item.length + 1;
    });
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  private async sendPart(part: number[], items: readonly Buffer[], deadline: number, report: ReplayReport, budget: { left: number }): Promise<void> {
    const parts: Buffer[] = [OPEN];
    part.forEach((index, i) => parts.push(...(i > 0 ? [COMMA] : []), items[index]!));
    parts.push(CLOSE);
    const attempted = await this.transport.send(Buffer.concat(parts), deadline);
    report.requests += attempted.attempts;
    report.retries += Math.max(0, attempted.attempts - 1);
    const error = attempted.error;
    if (error === undefined) {
      for (const index of part) report.outcomes[index] = 'exported';
      return;
    }
    report.error = error;
    const action = classifyFailure(error).then;
    if (action === 'split' && part.length > 1 && budget.left >= 2) {
      budget.left -= 2;
      const middle = Math.ceil(part.length / 2);
      await this.sendPart(part.slice(0, middle), items, deadline, report, budget);
      await this.sendPart(part.slice(middle), items, deadline, report, budget);
      return;
    }
    const outcome: ReplayOutcome =
      action === 'split' ? 'rejected' : action === 'fail' ? 'exportFailed' : action === 'abandon' ? 'shutdown' : 'keep';
    for (const index of part) report.outcomes[index] = outcome;
  }
}
