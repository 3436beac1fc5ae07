import { context, diag } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ExporterConfig, SGPExporterOptions } from '../config.js';
import { resolveExporterConfig, SERVER_MAX_ITEMS_PER_REQUEST } from '../config.js';
import { SGPExportError } from '../errors.js';
import type { JsonObject, SGPSpanItem } from '../mapping/item.js';
import { toSGPSpanItem } from '../mapping/span-to-item.js';
import { markTruncated, prepareItem } from '../mapping/prepare.js';
import { decideRetry, MAX_RETRY_AFTER_MILLIS } from './retry.js';
import { SGPTransport } from './transport.js';
import type { Cut } from '../mapping/truncate.js';
import { truncateStrings } from '../mapping/truncate.js';

/** Why spans handed to the exporter were not delivered. */
export interface ExportDrops {
  /** The server refused the span for its content or credentials (4xx other than 408/429). */
  rejected: number;
  /** Retries ran out on a server error, or the exporter shut down mid-request. */
  exportFailed: number;
  /** The span could not be turned into an SGP item. */
  unmappable: number;
}

/** What became of one record. */
export type RecordOutcome = 'exported' | 'rejected' | 'exportFailed' | 'unmappable' | 'retryLater';

/** One thing to send: a span, as finished or (`inProgress`) as still running. */
export interface ExportRecord {
  span: ReadableSpan;
  inProgress: boolean;
  /** Send this parent id instead of the span's own (null: none), when a filter dropped its parent. */
  parentId?: string | null;
}

/**
 * What became of one call's records: `outcomes[i]` is the fate of record `i`, and
 * `exported + rejected + exportFailed + unmappable + retryLater` = records given.
 */
export interface ExportReport {
  exported: number;
  dropped: ExportDrops;
  /**
   * Records that were not delivered because SGP was unreachable, overloaded or too slow (network
   * errors, timeouts, 408, 429, 502, 503, 504, even after the retries): sending them later may work.
   */
  retryLater: number;
  outcomes: RecordOutcome[];
  /** HTTP requests made, retries and split batches included. */
  requests: number;
  retries: number;
  /** The last failure, for logs and stats; never contains the API key. */
  error: Error | undefined;
}

/** Statuses that describe the request's content: the batch is split to find the items at fault. */
const CONTENT_REJECTIONS = new Set([400, 409, 413, 422]);
/** Statuses (besides network errors and timeouts) that say SGP is unavailable rather than the batch bad. */
const OUTAGE_STATUSES = new Set([408, 429, 502, 503, 504]);
/** Bytes serialized between two yields to the event loop (about 1 ms of JSON.stringify). */
const YIELD_AFTER_BYTES = 64 * 1024;
/** A single item refused as too large is sent once more with its strings cut to this many bytes. */
export const SHRUNK_STRING_BYTES = 2048;

function isOutage(error: SGPExportError): boolean {
  return error.kind === 'network' || error.kind === 'timeout' || (error.kind === 'http' && OUTAGE_STATUSES.has(error.status ?? 0));
}

interface EncodedRecord {
  index: number;
  item: SGPSpanItem;
  /** The item's JSON as UTF-8, made during the (sliced) encode loop, so requests are only concatenated. */
  body: Buffer;
  shrunk: boolean;
}

const BODY_OPEN = Buffer.from('{"items":[');
const BODY_COMMA = Buffer.from(',');
const BODY_CLOSE = Buffer.from(']}');

function requestBody(records: EncodedRecord[]): Buffer {
  const parts: Buffer[] = [BODY_OPEN];
  records.forEach((record, i) => {
    if (i > 0) parts.push(BODY_COMMA);
    parts.push(record.body);
  });
  parts.push(BODY_CLOSE);
  return Buffer.concat(parts);
}

/** Marks our own exporter across module copies (an app may load both the ESM and the CJS build). */
export const SGP_EXPORTER_BRAND = Symbol.for('sgp-otel.SGPSpanExporter');

/**
 * Sends spans to SGP's `PUT /v5/spans/batch`. Safe to call concurrently; every call ends within
 * its deadline (`exportTimeoutMillis`), retries included.
 */
export class SGPSpanExporter implements SpanExporter {
  readonly [SGP_EXPORTER_BRAND] = true;
  /** Why this exporter sends nothing, or undefined when it is enabled. */
  readonly disabledReason: ExporterConfig['disabledReason'];
  private readonly config: ExporterConfig;
  private readonly transport: SGPTransport | undefined;
  private readonly abortController = new AbortController();
  private readonly inFlight = new Set<Promise<ExportReport>>();
  private isShutdown = false;
  /** No request starts before this time: a server's Retry-After slows every batch, not just its own. */
  private pausedUntil = 0;

  /** `resolved` is for the processor, which has already read (and announced) the same options. */
  constructor(options: SGPExporterOptions = {}, resolved?: ExporterConfig) {
    this.config = resolved ?? resolveExporterConfig(options);
    this.disabledReason = this.config.disabledReason;
    if (resolved === undefined) announceDisabled(this.config, 'SGPSpanExporter');
    if (this.config.disabledReason === undefined) {
      this.transport = new SGPTransport({
        endpoint: this.config.endpoint,
        apiKey: this.config.apiKey!,
        accountId: this.config.accountId!,
        headers: this.config.headers,
        dispatcher: this.config.dispatcher,
        connections: this.config.connections,
      });
    }
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    if (this.disabledReason !== undefined) {
      resultCallback({ code: ExportResultCode.SUCCESS });
      return;
    }
    void this.exportBatch(spans).then((report) => {
      const undelivered = spans.length - report.exported;
      if (undelivered === 0) return resultCallback({ code: ExportResultCode.SUCCESS });
      const reason = report.error?.message ?? 'unknown error';
      resultCallback({
        code: ExportResultCode.FAILED,
        error: new SGPExportErrorSummary(`${undelivered} of ${spans.length} spans not delivered to SGP: ${reason}`, report),
      });
    });
  }

  /** Exports `spans` as finished spans and says what became of each. Never rejects. */
  exportBatch(spans: readonly ReadableSpan[], deadlineMillis?: number): Promise<ExportReport> {
    return this.exportRecords(
      spans.map((span) => ({ span, inProgress: false })),
      deadlineMillis,
    );
  }

  /**
   * Exports `records` and says what became of each. Never rejects. A record that cannot be mapped
   * is dropped alone; a batch SGP refuses for its content is split until the items at fault are
   * found, and only those are dropped.
   */
  exportRecords(records: readonly ExportRecord[], deadlineMillis?: number): Promise<ExportReport> {
    const deadline = deadlineMillis ?? this.config.clock.now() + this.config.exportTimeoutMillis;
    const running = context.with(suppressTracing(context.active()), () => this.deliver(records, deadline));
    this.inFlight.add(running);
    void running.finally(() => this.inFlight.delete(running));
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

  /** Ends requests and backoff waits in flight now; they settle as failed. For a shutdown out of time. */
  async abort(): Promise<void> {
    this.isShutdown = true;
    this.abortController.abort();
    await this.transport?.destroy();
  }

  private async deliver(records: readonly ExportRecord[], deadline: number): Promise<ExportReport> {
    const outcomes = new Array<RecordOutcome>(records.length);
    const report: ExportReport = {
      exported: 0,
      dropped: { rejected: 0, exportFailed: 0, unmappable: 0 },
      retryLater: 0,
      outcomes,
      requests: 0,
      retries: 0,
      error: undefined,
    };
    if (this.isShutdown || this.transport === undefined) {
      outcomes.fill('exportFailed');
      report.error = new SGPExportError(this.isShutdown ? 'SGPSpanExporter is shut down' : 'SGPSpanExporter is disabled', {
        kind: 'shutdown',
        retryable: false,
      });
    } else {
      const encoded: EncodedRecord[] = [];
      let sinceYield = 0;
      for (let index = 0; index < records.length; index += 1) {
        const record = records[index]!;
        // Serializing big LLM spans back to back would hold the event loop: let it breathe.
        if (sinceYield >= YIELD_AFTER_BYTES) {
          sinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        try {
          const encoding = this.encode(record, index, deadline);
          // Only items that need preparing (mask, content capture, size budget) are awaited.
          const next = encoding instanceof Promise ? await encoding : encoding;
          sinceYield += next.body.length;
          encoded.push(next);
        } catch (error) {
          outcomes[index] = 'unmappable';
          report.error = new Error(`span ${spanLabel(record.span)} could not be mapped to an SGP item: ${messageOf(error)}`);
        }
      }
      for (const chunk of this.requestChunks(encoded)) await this.send(chunk, deadline, report);
    }
    for (const outcome of outcomes) {
      if (outcome === 'exported') report.exported += 1;
      else if (outcome === 'retryLater') report.retryLater += 1;
      else report.dropped[outcome] += 1;
    }
    return report;
  }

  /**
   * The item as it will be sent: mapped, then (only when needed) stripped of content, masked and
   * cut to maxFieldBytes. Throws if any of it fails: the span is then dropped, never sent unmasked.
   */
  private encode(record: ExportRecord, index: number, deadline: number): EncodedRecord | Promise<EncodedRecord> {
    const { captureContent, mask, maxFieldBytes, clock } = this.config;
    const item = toSGPSpanItem(record.span, { inProgress: record.inProgress, parentId: record.parentId });
    const body = Buffer.from(JSON.stringify(item));
    if (captureContent && mask === undefined && body.length <= maxFieldBytes) return { index, item, body, shrunk: false };
    const maskTimeoutMillis = Math.max(0, deadline - clock.now());
    return prepareItem(item, record.span, { captureContent, mask, maxFieldBytes, maskTimeoutMillis, clock }).then((prepared) => ({
      index,
      item: prepared,
      body: Buffer.from(JSON.stringify(prepared)),
      shrunk: false,
    }));
  }

  /** Requests of at most 1000 items and (unless one item alone is larger) maxBatchBytes of body. */
  private requestChunks(encoded: EncodedRecord[]): EncodedRecord[][] {
    const chunks: EncodedRecord[][] = [];
    let current: EncodedRecord[] = [];
    let size = 0;
    for (const record of encoded) {
      const full = current.length >= SERVER_MAX_ITEMS_PER_REQUEST || size + record.body.length + 1 > this.config.maxBatchBytes;
      if (current.length > 0 && full) {
        chunks.push(current);
        current = [];
        size = 0;
      }
      current.push(record);
      size += record.body.length + 1;
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  /** Sends `records` in one request; on a content rejection, halves and tries again to isolate the culprits. */
  private async send(records: EncodedRecord[], deadline: number, report: ExportReport): Promise<void> {
    const outcome = await this.sendWithRetry(requestBody(records), deadline);
    report.requests += outcome.attempts;
    report.retries += Math.max(0, outcome.attempts - 1);
    const error = outcome.error;
    if (error === undefined) {
      for (const record of records) report.outcomes[record.index] = 'exported';
      return;
    }
    if (error.kind === 'http' && CONTENT_REJECTIONS.has(error.status ?? 0)) {
      if (records.length > 1) {
        const middle = Math.ceil(records.length / 2);
        await this.send(records.slice(0, middle), deadline, report);
        await this.send(records.slice(middle), deadline, report);
        return;
      }
      const [record] = records as [EncodedRecord];
      const smaller = error.status === 413 && !record.shrunk ? shrink(record) : undefined;
      if (smaller) return this.send([smaller], deadline, report);
      report.outcomes[record.index] = 'rejected';
      report.error = withMessage(error, `SGP rejected span "${record.item.name}" (${record.item.id}): ${error.message}`);
      return;
    }
    report.error = error;
    const fate: RecordOutcome = isOutage(error) ? 'retryLater' : error.kind === 'http' && !error.retryable ? 'rejected' : 'exportFailed';
    for (const record of records) report.outcomes[record.index] = fate;
  }

  private async sendWithRetry(body: Buffer, deadline: number): Promise<{ attempts: number; error?: SGPExportError }> {
    const { clock, retry, timeoutMillis } = this.config;
    const signal = this.abortController.signal;
    const aborted = () => ({
      attempts: 0,
      error: new SGPExportError('SGP export aborted: the exporter is shutting down', { kind: 'shutdown', retryable: false }),
    });
    for (let attempts = 1; ; attempts += 1) {
      const pause = this.pausedUntil - clock.now();
      if (pause > 0) {
        if (clock.now() + pause >= deadline) {
          const error = new SGPExportError(`SGP asked to wait ${pause} ms (Retry-After), past the export deadline`, {
            kind: 'timeout',
            retryable: true,
          });
          return { attempts: attempts - 1, error };
        }
        await clock.sleep(pause, signal);
        if (signal.aborted) return { ...aborted(), attempts: attempts - 1 };
      }
      const remaining = deadline - clock.now();
      if (remaining <= 0) {
        const error = new SGPExportError(
          `export deadline of ${this.config.exportTimeoutMillis} ms passed before attempt ${attempts}`,
          { kind: 'timeout', retryable: true },
        );
        return { attempts: attempts - 1, error };
      }
      const result = await this.transport!.send(body, Math.min(timeoutMillis, remaining), signal, clock.now);
      if (result.ok) return { attempts };
      const requested = result.error.retryAfterMillis;
      if (requested !== undefined && requested > 0) {
        this.pausedUntil = Math.max(this.pausedUntil, clock.now() + Math.min(requested, MAX_RETRY_AFTER_MILLIS));
      }
      const decision = decideRetry(result.error, attempts, retry, {
        nowMillis: clock.now(),
        deadlineMillis: deadline,
        random: clock.random(),
      });
      if (!decision.retry) {
        if (decision.reason === 'not_retryable') return { attempts, error: result.error };
        const why = decision.reason === 'deadline' ? 'export deadline' : 'attempts exhausted';
        const suffix = ` (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${why})`;
        return { attempts, error: withMessage(result.error, `${result.error.message}${suffix}`) };
      }
      diag.debug(`sgp-otel: ${result.error.message}; retrying in ${decision.delayMillis} ms (attempt ${attempts + 1} of ${retry.maxAttempts})`);
      await clock.sleep(decision.delayMillis, signal);
      if (signal.aborted) return { ...aborted(), attempts };
    }
  }
}

/** `record` with every string in its input, output and metadata cut short, marked; undefined if nothing was long. */
function shrink(record: EncodedRecord): EncodedRecord | undefined {
  const cuts: Cut[] = [];
  const { input, output, metadata } = record.item;
  const item: SGPSpanItem = {
    ...record.item,
    input: truncateStrings(input, SHRUNK_STRING_BYTES, 'input', cuts) as JsonObject,
    output: truncateStrings(output, SHRUNK_STRING_BYTES, 'output', cuts) as JsonObject,
    metadata: truncateStrings(metadata, SHRUNK_STRING_BYTES, 'metadata', cuts) as JsonObject,
  };
  if (cuts.length === 0) return undefined;
  markTruncated(item.metadata, cuts, { truncated_after: 'HTTP 413' });
  return { index: record.index, item, body: Buffer.from(JSON.stringify(item)), shrunk: true };
}

/** The error an `export()` callback receives; carries the full report for callers that want it. */
export class SGPExportErrorSummary extends Error {
  override readonly name = 'SGPExportError';
  constructor(
    message: string,
    readonly report: ExportReport,
  ) {
    super(message);
  }
}

export function isSGPSpanExporter(exporter: unknown): exporter is SGPSpanExporter {
  return typeof exporter === 'object' && exporter !== null && SGP_EXPORTER_BRAND in exporter;
}

/** The one message a disabled exporter or processor logs at construction. */
export function announceDisabled(config: ExporterConfig, component: string): void {
  switch (config.disabledReason) {
    case 'missing_credentials':
      diag.warn(
        `sgp-otel: ${component} is disabled: ${config.missingCredentials.join(' and ')} ${config.missingCredentials.length > 1 ? 'are' : 'is'} not set (pass ${config.missingCredentials.map((name) => (name === 'SGP_API_KEY' ? 'apiKey' : 'accountId')).join('/')} or set the environment variable). No spans will be sent.`,
      );
      break;
    case 'DISABLE_SCALE_TRACING':
      diag.info(`sgp-otel: ${component} is disabled because DISABLE_SCALE_TRACING is set. No spans will be sent.`);
      break;
    case 'disabled_by_option':
      diag.info(`sgp-otel: ${component} is disabled by its "disabled" option. No spans will be sent.`);
      break;
    case undefined:
      break;
  }
}

function withMessage(error: SGPExportError, message: string): SGPExportError {
  return new SGPExportError(message, {
    kind: error.kind,
    retryable: error.retryable,
    status: error.status,
    retryAfterMillis: error.retryAfterMillis,
    code: error.code,
  });
}

function spanLabel(span: ReadableSpan): string {
  try {
    return `"${span.name}" (${span.spanContext().spanId})`;
  } catch {
    return '(unidentifiable)';
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
