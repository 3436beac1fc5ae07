import { context } from '@opentelemetry/api';
import { ExportResultCode, suppressTracing } from '../otel-core.js';
import type { ExportResult } from '../otel-core.js';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Clock } from '../clock.js';
import type { ExportRecord, ExportReport, RecordOutcome, SGPSpanExporter } from '../delivery/exporter.js';
import type { SpanRecord } from '../delivery/encode.js';
import { isSGPSpanExporter } from '../delivery/exporter.js';

/**
 * Whatever exporter the processor was given, behind one interface: the processor never asks
 * which kind it has.
 */
export interface ExportSink {
  /** Exports the processor may run at once. */
  readonly maxConcurrentExports: number;
  /** Whether records of spans that have not ended (in-progress records) can be sent. */
  readonly sendsInProgress: boolean;
  /**
   * Exports `records` and says what became of each, by `deadline`. Never rejects. May let go of
   * records as it goes (their slots become undefined), reporting the bytes of those it did not
   * deliver but may yet (`retryLater`, `shutdown`).
   */
  export(records: (ExportRecord | undefined)[], deadline: number): Promise<ExportReport>;
  forceFlush(): Promise<void>;
  /** Ends exports in flight now; their records settle as `shutdown`. */
  abort(): Promise<void>;
  shutdown(): Promise<void>;
}

export function sinkFor(exporter: SpanExporter, options: { clock: Clock; maxConcurrentExports: number }): ExportSink {
  return isSGPSpanExporter(exporter) ? new SGPSink(exporter, options.maxConcurrentExports) : new SpanExporterSink(exporter, options.clock);
}

/** Our own exporter: concurrent exports, in-progress records, per-record outcomes, cancellable. */
class SGPSink implements ExportSink {
  readonly sendsInProgress = true;

  constructor(
    private readonly exporter: SGPSpanExporter,
    readonly maxConcurrentExports: number,
  ) {}

  export(records: (ExportRecord | undefined)[], deadline: number): Promise<ExportReport> {
    return this.exporter.exportRecords(records, deadline);
  }

  forceFlush(): Promise<void> {
    return this.exporter.forceFlush();
  }

  abort(): Promise<void> {
    return this.exporter.abort();
  }

  shutdown(): Promise<void> {
    return this.exporter.shutdown();
  }
}

/**
 * Any OpenTelemetry `SpanExporter`: one export at a time, finished spans only, success or failure
 * for the whole batch, bounded by the deadline (the exporter cannot be cancelled, only given up on).
 */
class SpanExporterSink implements ExportSink {
  readonly maxConcurrentExports = 1;
  readonly sendsInProgress = false;
  private readonly pending = new Set<(outcome: RecordOutcome, error: Error) => void>();

  constructor(
    private readonly exporter: SpanExporter,
    private readonly clock: Clock,
  ) {}

  export(records: (ExportRecord | undefined)[], deadline: number): Promise<ExportReport> {
    // Only our own exporter reports bytes back, so only spans ever come here.
    const spans = records.map((record) => (record as SpanRecord).span);
    const budget = Math.max(0, deadline - this.clock.now());
    return new Promise((resolve) => {
      const finish = (outcome: RecordOutcome, error: Error | undefined) => {
        if (!this.pending.delete(finish)) return;
        cancelTimeout();
        resolve({ outcomes: new Array<RecordOutcome>(spans.length).fill(outcome), requests: 1, retries: 0, error });
      };
      this.pending.add(finish);
      const cancelTimeout = this.clock.schedule(() => finish('exportFailed', new Error(`export did not finish within ${budget} ms`)), budget);
      const onResult = (result: ExportResult) =>
        result.code === ExportResultCode.SUCCESS
          ? finish('exported', undefined)
          : finish('exportFailed', result.error ?? new Error('the exporter reported a failure'));
      try {
        context.with(suppressTracing(context.active()), () => this.exporter.export(spans, onResult));
      } catch (error) {
        finish('exportFailed', error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  async forceFlush(): Promise<void> {
    await this.exporter.forceFlush?.();
  }

  async abort(): Promise<void> {
    for (const finish of [...this.pending]) finish('shutdown', new Error('the export was still running when shutdown() ran out of time'));
  }

  shutdown(): Promise<void> {
    return this.exporter.shutdown();
  }
}
