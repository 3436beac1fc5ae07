import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '../otel-core.js';
import type { ExportResult } from '../otel-core.js';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ExporterConfig, SGPExporterOptions } from '../config.js';
import { resolveExporterConfig } from '../config.js';
import { SGPExportError } from '../errors.js';
import { createLogger, logSoon } from '../log.js';
import type { FinalAction } from './classify.js';
import { BodyPool } from './body-pool.js';
import { classifyFailure } from './classify.js';
import { EncodeTurns } from './encode-turns.js';
import type { EncodedRecord, ExportRecord, RequestChunk } from './encode.js';
import { encodeRequests, requestBody } from './encode.js';
import { isolateRefused, lastChance, splitBudget } from './isolate.js';
import { RetryingTransport } from './retrying-transport.js';
import { SGPTransport } from './transport.js';

export type { ExportRecord } from './encode.js';

/** What became of one record. */
export type RecordOutcome = 'exported' | 'rejected' | 'exportFailed' | 'unmappable' | 'retryLater' | 'shutdown';

/** What became of one export call's records: `outcomes[i]` is the fate of record `i`. */
export interface ExportReport {
  outcomes: RecordOutcome[];
  /** HTTP requests made, retries and split batches included. */
  requests: number;
  retries: number;
  /** The last failure, for logs and stats; never contains the API key. */
  error: Error | undefined;
  /** The last failure behind each outcome, so a drop is reported with its own reason. */
  errors?: Partial<Record<RecordOutcome, Error>>;
  /**
   * By record index, the item's bytes as they were sent, for records that settled `retryLater` or
   * `shutdown`: the spool keeps them as they are, without mapping (and masking) the span again.
   */
  bodies?: (Buffer | undefined)[];
}

const OUTCOME_OF: Record<FinalAction, RecordOutcome> = {
  hold: 'retryLater',
  split: 'rejected',
  reject: 'rejected',
  fail: 'exportFailed',
  abandon: 'shutdown',
};

/** Marks our own exporter across module copies (an app may load both the ESM and the CJS build). */
export const SGP_EXPORTER_BRAND = Symbol.for('sgp-otel.SGPSpanExporter');
/** Carries an already resolved configuration from the processor, which has read (and announced) the options. */
const RESOLVED_CONFIG = Symbol('sgp-otel resolved exporter config');

/** The exporter the processor builds from its own, already resolved, options. */
export function exporterFromConfig(config: ExporterConfig): SGPSpanExporter {
  return new SGPSpanExporter({ [RESOLVED_CONFIG]: config } as SGPExporterOptions);
}

/**
 * Sends spans to SGP's `PUT /v5/spans/batch`. Safe to call concurrently; every call ends within
 * its deadline (`exportTimeoutMillis`), retries included.
 */
export class SGPSpanExporter implements SpanExporter {
  readonly [SGP_EXPORTER_BRAND] = true;
  /** Why this exporter sends nothing, or undefined when it is enabled. */
  readonly disabledReason: ExporterConfig['disabledReason'];
  private readonly config: ExporterConfig;
  private readonly transport: RetryingTransport | undefined;
  private readonly inFlight = new Set<Promise<ExportReport>>();
  private readonly bodies = new BodyPool();
  private readonly turns: EncodeTurns;
  private isShutdown = false;

  constructor(options: SGPExporterOptions = {}) {
    const resolved = (options as { [RESOLVED_CONFIG]?: ExporterConfig })[RESOLVED_CONFIG];
    this.config = resolved ?? resolveExporterConfig(options);
    this.disabledReason = this.config.disabledReason;
    this.turns = new EncodeTurns(this.config.clock);
    const log = createLogger(this.config.logLevel);
    if (resolved === undefined) logSoon(log, startupMessages(this.config.warnings, this.config, 'SGPSpanExporter'));
    if (this.config.disabledReason === undefined) {
      const transport = new SGPTransport({
        endpoint: this.config.endpoint,
        apiKey: this.config.apiKey!,
        accountId: this.config.accountId!,
        headers: this.config.headers,
        dispatcher: this.config.dispatcher,
        connections: this.config.connections,
        proxy: this.config.proxy,
        clock: this.config.clock,
        timeoutMillis: this.config.timeoutMillis,
      });
      this.transport = new RetryingTransport(transport, {
        policy: this.config.retry,
        requestTimeoutMillis: this.config.timeoutMillis,
        clock: this.config.clock,
        log,
      });
    }
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.disabledReason !== undefined) {
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    void this.exportRecords(spans.map((span) => ({ span, inProgress: false }))).then((report) => {
      const undelivered = report.outcomes.filter((outcome) => outcome !== 'exported').length;
      if (undelivered === 0) return resultCallback({ code: ExportResultCode.SUCCESS });
      const reason = report.error?.message ?? 'unknown error';
      const message = `${undelivered} of ${spans.length} spans not delivered to SGP: ${reason}`;
      const error = report.error instanceof SGPExportError ? report.error.withMessage(message) : new Error(message);
      resultCallback({ code: ExportResultCode.FAILED, error });
    });
  }

  /**
   * Exports `records` and says what became of each. Never rejects. A record that cannot be mapped
   * is dropped alone; a batch SGP refuses for its content is split to find the items at fault.
   * Takes `records`: each one encoded is let go (its slot becomes undefined), so that a span in
   * flight is held as its bytes only; a record that settles `retryLater` or `shutdown` after it
   * was encoded comes back as bytes in the report's `bodies`.
   * @internal
   */
  exportRecords(records: (ExportRecord | undefined)[], deadlineMillis?: number): Promise<ExportReport> {
    const deadline = deadlineMillis ?? this.config.clock.now() + this.config.exportTimeoutMillis;
    const running = context.with(suppressTracing(context.active()), () => this.deliver(records, deadline));
    this.inFlight.add(running);
    const forget = () => {
      this.inFlight.delete(running);
    };
    running.then(forget, forget);
    return running;
  }

  /** Resolves once every export in flight has settled. The exporter holds no buffer of its own. */
  async forceFlush(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  /** Lets exports in flight settle, then closes the connections this exporter opened. */
  async shutdown(): Promise<void> {
    this.isShutdown = true;
    await Promise.allSettled([...this.inFlight]);
    await this.transport?.close();
  }

  /**
   * Ends requests and backoff waits in flight now; their records settle as `shutdown`.
   * @internal
   */
  async abort(): Promise<void> {
    this.isShutdown = true;
    this.transport?.abort();
    await this.transport?.destroy();
  }

  private async deliver(records: (ExportRecord | undefined)[], deadline: number): Promise<ExportReport> {
    const report: ExportReport = { outcomes: new Array<RecordOutcome>(records.length), requests: 0, retries: 0, error: undefined, errors: {} };
    try {
      if (this.isShutdown || this.transport === undefined) {
        report.outcomes.fill(this.isShutdown ? 'shutdown' : 'exportFailed');
        report.error = new SGPExportError(this.isShutdown ? 'SGPSpanExporter is shut down' : 'SGPSpanExporter is disabled', {
          kind: 'shutdown',
          retryable: false,
        });
        return report;
      }
      const { captureContent, mask, maxFieldBytes, clock, maxBatchBytes, resourceAttributes } = this.config;
      const maskDeadline = clock.now() + Math.max(0, deadline - clock.now()) / 2;
      const bodies = this.transport.reusesBodies ? this.bodies : undefined;
      const stopped = () => this.isShutdown;
      const options = { captureContent, mask, maxFieldBytes, clock, maskDeadline, resourceAttributes, bodies, turns: this.turns, stopped };
      const encoding = await encodeRequests(records, options, maxBatchBytes);
      const { chunks, encoded, failed } = encoding;
      for (const { index, error } of failed) {
        report.outcomes[index] = 'unmappable';
        report.error = error;
        report.errors!.unmappable = error;
      }
      if (encoding.stopped.length > 0) {
        const error = new SGPExportError('SGPSpanExporter was shut down before these spans were encoded', { kind: 'shutdown', retryable: false });
        for (const index of encoding.stopped) report.outcomes[index] = 'shutdown';
        report.error = error;
        report.errors!.shutdown = error;
      }
      // One budget for the whole call, however many requests its records need.
      const budget = { left: splitBudget(encoded) };
      for (const chunk of chunks) await this.deliverChunk(chunk, deadline, report, budget);
    } catch (error) {
      // Nothing above should throw; if it does, the records still settle, as failed.
      report.error = error instanceof Error ? error : new Error(String(error));
    }
    for (let i = 0; i < report.outcomes.length; i += 1) report.outcomes[i] ??= 'exportFailed';
    return report;
  }

  /** Delivers one request's worth of records, then gives its body back to the pool when it came from there and nothing kept a view of it. */
  private async deliverChunk(chunk: RequestChunk, deadline: number, report: ExportReport, budget: { left: number }): Promise<void> {
    try {
      await this.deliverChunkOnce(chunk, deadline, report, budget);
    } finally {
      if (this.transport!.reusesBodies && !chunk.viewed) {
        const { body } = chunk;
        // Once undici and the socket are done with it, the next request may have it.
        void this.transport!.whenDone(body).then((reusable) => reusable && this.bodies.give(body));
      }
    }
  }

  /**
   * Sends one request's worth of records. When SGP refuses it for its content, finds the items at
   * fault within `budget` requests (isolate.ts).
   */
  private async deliverChunkOnce(chunk: RequestChunk, deadline: number, report: ExportReport, budget: { left: number }): Promise<void> {
    const first = await this.sendOnce(chunk.records, deadline, report, chunk.body);
    if (first === undefined) return;
    await isolateRefused(chunk.records, first, budget, {
      send: (part) => this.sendOnce(part, deadline, report),
      single: (record, error) => this.settleSingle(record, error, deadline, report),
      giveUp: (part, error) => this.settle(part, 'reject', error, report),
      size: (record) => record.body.length,
      random: () => this.config.clock.random(),
    });
  }

  /**
   * Sends `records` in one request (with retries). Returns the error when SGP refused the content,
   * for the caller to split; settles the records itself otherwise.
   */
  private async sendOnce(records: EncodedRecord[], deadline: number, report: ExportReport, body = requestBody(records)): Promise<SGPExportError | undefined> {
    const attempted = await this.transport!.send(body, deadline);
    report.requests += attempted.attempts;
    report.retries += Math.max(0, attempted.attempts - 1);
    const error = attempted.error;
    if (error === undefined) {
      for (const record of records) report.outcomes[record.index] = 'exported';
      return undefined;
    }
    const action = classifyFailure(error).then;
    if (action === 'split') return error;
    this.settle(records, action, error, report);
    return undefined;
  }

  /** A single item SGP refused: its last chance (isolate.ts), else rejected. */
  private async settleSingle(record: EncodedRecord, error: SGPExportError, deadline: number, report: ExportReport): Promise<void> {
    const final = await lastChance(record.body, record.shrunk, error, (smaller) =>
      this.sendOnce([{ index: record.index, body: smaller, bytes: () => smaller, shrunk: true }], deadline, report),
    );
    if (final !== undefined) this.settle([record], 'reject', final, report);
  }

  private settle(records: EncodedRecord[], action: FinalAction, error: SGPExportError, report: ExportReport): void {
    const outcome = OUTCOME_OF[action];
    for (const record of records) report.outcomes[record.index] = outcome;
    if (outcome === 'retryLater' || outcome === 'shutdown') {
      report.bodies ??= [];
      for (const record of records) report.bodies[record.index] = record.bytes();
    }
    report.error = error;
    report.errors![outcome] = error;
  }
}

export function isSGPSpanExporter(exporter: unknown): exporter is SGPSpanExporter {
  return typeof exporter === 'object' && exporter !== null && SGP_EXPORTER_BRAND in exporter;
}

/**
 * What an exporter or processor says once it is built: each malformed environment variable, and
 * why it is disabled (a bad variable that disabled it already says so).
 */
export function startupMessages(
  warnings: readonly string[],
  config: ExporterConfig,
  component: string,
): { level: 'warn' | 'info'; text: string }[] {
  const messages: { level: 'warn' | 'info'; text: string }[] = [...new Set(warnings)].map((warning) => ({
    level: 'warn',
    text: `sgp-otel: ${warning}`,
  }));
  const missing = config.missingCredentials;
  switch (config.disabledReason) {
    case 'missing_credentials':
      messages.push({
        level: 'warn',
        text: `sgp-otel: ${component} is disabled: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set (pass ${missing.map((name) => (name === 'SGP_API_KEY' ? 'apiKey' : 'accountId')).join('/')} or set the environment variable). No spans will be sent.`,
      });
      break;
    case 'DISABLE_SCALE_TRACING':
      messages.push({ level: 'info', text: `sgp-otel: ${component} is disabled because DISABLE_SCALE_TRACING is set. No spans will be sent.` });
      break;
    case 'disabled_by_option':
      messages.push({ level: 'info', text: `sgp-otel: ${component} is disabled by its "disabled" option. No spans will be sent.` });
      break;
    case 'invalid_credentials':
    case 'invalid_base_url':
    case undefined:
      break;
  }
  return messages;
}

