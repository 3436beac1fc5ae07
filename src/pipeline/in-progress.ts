import type { ReadableSpan, Span } from '@opentelemetry/sdk-trace-base';

/** A span sent as still running: a start record (`exportOnStart`) or a span unended at shutdown. */
export class InProgressRecord {
  /** Its final record was queued before this one was taken: sending this one is pointless. */
  superseded = false;
  /** An export has taken it from the queue. */
  taken = false;
  constructor(readonly span: ReadableSpan) {}
}

/**
 * The spans that started and have not ended, for in-progress records: a start record per span
 * with `exportOnStart`, and records of the spans still open at shutdown. Bounded: beyond
 * `maxOpen` open spans, the extra ones get no record.
 */
export class OpenSpans {
  /** Open span -> its start record while that may still be queued. */
  private readonly open = new Map<Span, InProgressRecord | undefined>();

  constructor(
    private readonly exportOnStart: boolean,
    private readonly maxOpen: number,
  ) {}

  get size(): number {
    return this.open.size;
  }

  /**
   * Remembers `span`; with `exportOnStart` returns its start record, which `queue` is asked to take
   * (false: the queue is full, and the span goes on without one).
   */
  started(span: Span, queue: (record: InProgressRecord) => boolean): 'start queued' | 'start dropped' | 'tracked' | 'untracked' {
    if (this.open.size >= this.maxOpen) return 'untracked';
    if (!this.exportOnStart) {
      this.open.set(span, undefined);
      return 'tracked';
    }
    const start = new InProgressRecord(span as unknown as ReadableSpan);
    const queued = queue(start);
    this.open.set(span, queued ? start : undefined);
    return queued ? 'start queued' : 'start dropped';
  }

  /** Forgets `span`; a start record of it still in the queue will not be sent. */
  ended(span: ReadableSpan): void {
    const start = this.open.get(span as Span);
    if (start && !start.taken) start.superseded = true;
    this.open.delete(span as Span);
  }

  /** Records for the spans still open, except those whose start record is still queued. Forgets them all. */
  takeUnended(): InProgressRecord[] {
    const records: InProgressRecord[] = [];
    for (const [span, start] of this.open) {
      if (start && !start.taken) continue;
      records.push(new InProgressRecord(span as unknown as ReadableSpan));
    }
    this.open.clear();
    return records;
  }
}
