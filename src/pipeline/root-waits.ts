/**
 * The waitUntil promises handed to a serverless runtime (Vercel's request context, or the
 * `waitUntil` option): one per local root span started inside a request, settled once that root's
 * trace is delivered, so the platform keeps the invocation alive exactly as long as needed.
 *
 * "Delivered" covers the spans of the trace that end after their root (a background task the
 * handler did not await): once the root has ended, the promise waits until the trace has no open
 * span in this process, then flushes. Every wait is bounded:
 * - after the root ends, children get at most half of `exportTimeoutMillis`, and the whole wait
 *   (children and flush) at most `exportTimeoutMillis`;
 * - a root that never ends is let go after {@link MAX_ROOT_OPEN_MILLIS} (no serverless invocation
 *   runs longer), so a leaked span cannot pin its promise and its entry for the life of a server;
 * - at most `maxEntries` roots are watched at once; beyond that a root gets no promise (reported).
 * Only traces with a watched root are tracked: with no waitUntil, this costs one size check per span.
 */
import type { Clock } from '../clock.js';

/** The longest a serverless invocation runs (AWS Lambda's limit, 15 min; Vercel's is 13 min 20 s). */
export const MAX_ROOT_OPEN_MILLIS = 15 * 60_000;

/** What the watch needs to know of a span. */
export interface WatchedSpan {
  readonly traceId: string;
  readonly spanId: string;
}

interface RootWait {
  readonly spanId: string;
  readonly traceId: string;
  readonly startedAt: number;
  /** Resolves the promise the runtime awaits; called once. */
  readonly settle: () => void;
  ended: boolean;
  cancelBound: (() => void) | undefined;
}

interface WatchedTrace {
  /** Spans of this trace started since its first watched root started, and not ended yet. */
  open: number;
  readonly roots: Set<RootWait>;
}

export interface RootWaitsOptions {
  clock: Clock;
  maxEntries: number;
  exportTimeoutMillis: number;
  /** Exports everything accepted so far; settles (never rejects) within `timeoutMillis`. */
  flush(timeoutMillis: number): Promise<void>;
  /** A root got no promise: `maxEntries` roots are watched already. */
  onFull(): void;
}

export class RootWaits {
  /** Watched roots by span id, in the order they started (oldest first). */
  private readonly roots = new Map<string, RootWait>();
  private readonly traces = new Map<string, WatchedTrace>();
  private cancelSweep: (() => void) | undefined;

  constructor(private readonly options: RootWaitsOptions) {}

  /** Whether any root is watched: when not, no span needs to be looked at. */
  get active(): boolean {
    return this.roots.size > 0;
  }

  /**
   * A local root started inside a request: returns the promise to hand to the runtime, or
   * undefined when too many roots are watched already.
   */
  watch(span: WatchedSpan): Promise<void> | undefined {
    this.letGoOfStale();
    if (this.roots.has(span.spanId)) return undefined;
    if (this.roots.size >= this.options.maxEntries) {
      this.options.onFull();
      return undefined;
    }
    let settle!: () => void;
    const promise = new Promise<void>((resolve) => (settle = resolve));
    const wait: RootWait = { spanId: span.spanId, traceId: span.traceId, startedAt: this.options.clock.now(), settle, ended: false, cancelBound: undefined };
    this.roots.set(span.spanId, wait);
    let trace = this.traces.get(span.traceId);
    if (trace === undefined) {
      trace = { open: 0, roots: new Set() };
      this.traces.set(span.traceId, trace);
    }
    trace.roots.add(wait);
    this.sweepLater();
    return promise;
  }

  /** The runtime refused the promise (its waitUntil threw): forget the root. */
  forget(span: WatchedSpan): void {
    const wait = this.roots.get(span.spanId);
    if (wait !== undefined) this.drop(wait);
  }

  /** Any span started (the watched roots included, after {@link watch}). */
  started(span: WatchedSpan): void {
    const trace = this.traces.get(span.traceId);
    if (trace !== undefined) trace.open += 1;
  }

  /** Any span ended. */
  ended(span: WatchedSpan): void {
    const trace = this.traces.get(span.traceId);
    if (trace === undefined) return;
    trace.open = Math.max(0, trace.open - 1);
    const wait = this.roots.get(span.spanId);
    if (wait !== undefined && !wait.ended) {
      wait.ended = true;
      if (trace.open > 0) {
        // Children still running: wait for them, but not for ever.
        wait.cancelBound = this.options.clock.schedule(() => this.release(wait, this.options.exportTimeoutMillis / 2), this.options.exportTimeoutMillis / 2);
      }
    }
    if (trace.open === 0) {
      for (const root of [...trace.roots]) if (root.ended) this.release(root, this.options.exportTimeoutMillis);
    }
  }

  /** Settles every promise now (shutdown: what could be delivered was). */
  settleAll(): void {
    this.cancelSweep?.();
    this.cancelSweep = undefined;
    for (const wait of [...this.roots.values()]) {
      this.drop(wait);
      wait.settle();
    }
  }

  /** The root's trace is done (or its time is up): flush, then settle its promise. */
  private release(wait: RootWait, timeoutMillis: number): void {
    this.drop(wait);
    this.options.flush(timeoutMillis).then(wait.settle, wait.settle);
  }

  /** Lets go of stale roots when the oldest one watched turns stale, even if no other root starts by then. */
  private sweepLater(): void {
    if (this.cancelSweep !== undefined) return;
    let oldest: RootWait | undefined;
    for (const wait of this.roots.values()) {
      if (wait.ended) continue;
      oldest = wait;
      break;
    }
    if (oldest === undefined) return;
    const due = oldest.startedAt + MAX_ROOT_OPEN_MILLIS - this.options.clock.now();
    this.cancelSweep = this.options.clock.schedule(() => {
      this.cancelSweep = undefined;
      this.letGoOfStale();
      this.sweepLater();
    }, Math.max(0, due) + 1);
  }

  /** Lets go of roots open longer than any invocation runs: their promises settle. */
  private letGoOfStale(): void {
    const oldest = this.options.clock.now() - MAX_ROOT_OPEN_MILLIS;
    for (const wait of this.roots.values()) {
      if (wait.startedAt > oldest) break;
      if (wait.ended) continue;
      this.drop(wait);
      wait.settle();
    }
  }

  private drop(wait: RootWait): void {
    wait.cancelBound?.();
    wait.cancelBound = undefined;
    this.roots.delete(wait.spanId);
    const trace = this.traces.get(wait.traceId);
    trace?.roots.delete(wait);
    if (trace !== undefined && trace.roots.size === 0) this.traces.delete(wait.traceId);
  }
}
