import { context, diag } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ExporterConfig, SGPExporterOptions } from './config.js';
import { resolveExporterConfig, SERVER_MAX_ITEMS_PER_REQUEST } from './config.js';
import { SGPExportError } from './errors.js';
import { toSGPSpanItem } from './mapping.js';
import { decideRetry } from './retry.js';
import { SGPTransport } from './transport.js';

/** Why spans handed to the exporter were not delivered. */
export interface ExportDrops {
  /** The server refused the request for its content or credentials (4xx other than 408/429). */
  rejected: number;
  /** Retries ran out, the deadline passed, or the exporter shut down mid-request. */
  exportFailed: number;
  /** The span could not be turned into an SGP item. */
  unmappable: number;
}

/** What became of one call's spans. `exported + rejected + exportFailed + unmappable` = spans given. */
export interface ExportReport {
  exported: number;
  dropped: ExportDrops;
  /** HTTP requests made, retries included. */
  requests: number;
  retries: number;
  /** The last failure, for logs and stats; never contains the API key. */
  error: Error | undefined;
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

  /**
   * Exports `spans` and says what became of each. Never rejects. A span that cannot be mapped is
   * dropped alone; the rest go out in requests of at most 1000 items.
   */
  exportBatch(spans: readonly ReadableSpan[], deadlineMillis?: number): Promise<ExportReport> {
    const deadline = deadlineMillis ?? this.config.clock.now() + this.config.exportTimeoutMillis;
    const running = context.with(suppressTracing(context.active()), () => this.deliver(spans, deadline));
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

  private async deliver(spans: readonly ReadableSpan[], deadline: number): Promise<ExportReport> {
    const report: ExportReport = {
      exported: 0,
      dropped: { rejected: 0, exportFailed: 0, unmappable: 0 },
      requests: 0,
      retries: 0,
      error: undefined,
    };
    if (this.isShutdown || this.transport === undefined) {
      report.dropped.exportFailed = spans.length;
      report.error = new SGPExportError(
        this.isShutdown ? 'SGPSpanExporter is shut down' : 'SGPSpanExporter is disabled',
        { kind: 'shutdown', retryable: false },
      );
      return report;
    }
    const encoded: string[] = [];
    for (const span of spans) {
      try {
        encoded.push(JSON.stringify(toSGPSpanItem(span)));
      } catch (error) {
        report.dropped.unmappable += 1;
        report.error = new Error(`span ${spanLabel(span)} could not be mapped to an SGP item: ${messageOf(error)}`);
      }
    }
    for (let start = 0; start < encoded.length; start += SERVER_MAX_ITEMS_PER_REQUEST) {
      const chunk = encoded.slice(start, start + SERVER_MAX_ITEMS_PER_REQUEST);
      const outcome = await this.sendWithRetry(`{"items":[${chunk.join(',')}]}`, deadline);
      report.requests += outcome.attempts;
      report.retries += Math.max(0, outcome.attempts - 1);
      if (outcome.error === undefined) {
        report.exported += chunk.length;
      } else {
        report.error = outcome.error;
        const permanent = outcome.error.kind === 'http' && !outcome.error.retryable;
        report.dropped[permanent ? 'rejected' : 'exportFailed'] += chunk.length;
      }
    }
    return report;
  }

  private async sendWithRetry(body: string, deadline: number): Promise<{ attempts: number; error?: SGPExportError }> {
    const { clock, retry, timeoutMillis } = this.config;
    const signal = this.abortController.signal;
    for (let attempts = 1; ; attempts += 1) {
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
      const decision = decideRetry(result.error, attempts, retry, {
        nowMillis: clock.now(),
        deadlineMillis: deadline,
        random: clock.random(),
      });
      if (!decision.retry) {
        const why = decision.reason === 'not_retryable' ? '' : ` (gave up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${decision.reason === 'deadline' ? 'export deadline' : 'attempts exhausted'})`;
        return { attempts, error: why ? withSuffix(result.error, why) : result.error };
      }
      diag.debug(`sgp-otel: ${result.error.message}; retrying in ${decision.delayMillis} ms (attempt ${attempts + 1} of ${retry.maxAttempts})`);
      await clock.sleep(decision.delayMillis, signal);
      if (signal.aborted) {
        return {
          attempts,
          error: new SGPExportError('SGP export aborted: the exporter is shutting down', { kind: 'shutdown', retryable: false }),
        };
      }
    }
  }
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

function withSuffix(error: SGPExportError, suffix: string): SGPExportError {
  return new SGPExportError(`${error.message}${suffix}`, {
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
