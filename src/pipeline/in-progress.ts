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
 *
 * `onEnd` of every span pays for this (it is on by default, for `exportUnendedOnShutdown`), so the
 * open spans live in arrays and each span carries its own position under {@link SLOT}: ending one
 * is a property read and a swap with the last, no hashing. A span whose slot another processor
 * already uses, or that cannot carry one (a frozen hand-made span), is looked up in a map instead.
 */
export class OpenSpans {
  private readonly spans: Span[] = [];
  /** Each open span's start record while that may still be queued. */
  private readonly starts: (InProgressRecord | undefined)[] = [];
  /** Each open span's start order: removal swaps positions, `takeUnended` restores the order. */
  private readonly order: number[] = [];
  private startCount = 0;
  /** Positions of the spans that could not carry {@link SLOT} for this instance. */
  private readonly unslotted = new Map<Span, number>();

  constructor(
    private readonly exportOnStart: boolean,
    private readonly maxOpen: number,
  ) {}

  get size(): number {
    return this.spans.length;
  }

  /**
   * Remembers `span`; with `exportOnStart` returns its start record, which `queue` is asked to take
   * (false: the queue is full, and the span goes on without one).
   */
  started(span: Span, queue: (record: InProgressRecord) => boolean): 'start queued' | 'start dropped' | 'tracked' | 'untracked' {
    if (this.spans.length >= this.maxOpen) return 'untracked';
    if (!this.exportOnStart) {
      this.add(span, undefined);
      return 'tracked';
    }
    const start = new InProgressRecord(span as unknown as ReadableSpan);
    const queued = queue(start);
    this.add(span, queued ? start : undefined);
    return queued ? 'start queued' : 'start dropped';
  }

  /** Forgets `span`; a start record of it still in the queue will not be sent. */
  ended(span: ReadableSpan): void {
    let at = this.unslotted.size === 0 ? undefined : this.unslotted.get(span as Span);
    if (at !== undefined) this.unslotted.delete(span as Span);
    else at = (span as unknown as Slotted)[SLOT];
    if (at === undefined) return;
    // A position left on a span from before takeUnended(), or another processor's, is not ours.
    if (this.spans[at] !== (span as unknown)) return;
    const start = this.starts[at];
    if (start && !start.taken) start.superseded = true;
    const last = this.spans.length - 1;
    if (at !== last) {
      const moved = this.spans[last]!;
      this.spans[at] = moved;
      this.starts[at] = this.starts[last];
      this.order[at] = this.order[last]!;
      this.place(moved, at);
    }
    this.spans.pop();
    this.starts.pop();
    this.order.pop();
  }

  /** Records for the spans still open, except those whose start record is still queued. Forgets them all. */
  takeUnended(): InProgressRecord[] {
    const positions = this.spans.map((_, at) => at).sort((a, b) => this.order[a]! - this.order[b]!);
    const records: InProgressRecord[] = [];
    for (const at of positions) {
      const start = this.starts[at];
      if (start && !start.taken) continue;
      records.push(new InProgressRecord(this.spans[at] as unknown as ReadableSpan));
    }
    this.spans.length = 0;
    this.starts.length = 0;
    this.order.length = 0;
    this.unslotted.clear();
    return records;
  }

  private add(span: Span, start: InProgressRecord | undefined): void {
    const at = this.spans.length;
    this.spans.push(span);
    this.starts.push(start);
    this.order.push(this.startCount);
    this.startCount += 1;
    // Another processor's slot: it keeps it, and this one uses the map.
    if ((span as unknown as Slotted)[SLOT] !== undefined) this.unslotted.set(span, at);
    else this.place(span, at);
  }

  private place(span: Span, at: number): void {
    if (this.unslotted.size > 0 && this.unslotted.has(span)) {
      this.unslotted.set(span, at);
      return;
    }
    try {
      (span as unknown as Slotted)[SLOT] = at;
    } catch {
      this.unslotted.set(span, at);
    }
  }
}

/**
 * One symbol for every instance (and every copy of this module): each processor with its own
 * gave spans a new hidden class per processor, so the SDK's and our span-reading functions were
 * deoptimized and compiled again for every processor made.
 */
const SLOT = Symbol.for('sgp-otel.openSpanSlot');

type Slotted = Record<symbol, number | undefined>;
