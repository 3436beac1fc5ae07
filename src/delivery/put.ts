/**
 * One HTTP PUT through an undici dispatcher's own handler interface (`dispatch`). undici's
 * `request()` would wrap each call in an async resource, an abort listener and a response stream
 * only to be read and thrown away: per batch, that was about half of the request's JavaScript time.
 *
 * undici has two handler interfaces: the callback one (`onConnect`, `onHeaders`, ...), the only one
 * undici 5 and 6 (Node's built-in fetch included) know, and the controller one (`onRequestStart`,
 * `onResponseStart`, ...), the only one undici 8 knows; undici 7 takes either. Our own agent gets
 * the callback handler, which undici 7 runs without an adapter; a user's dispatcher, whatever its
 * version, gets a handler with both.
 */
import type { Dispatcher } from 'undici';

export interface PutResponse {
  status: number;
  /** The `retry-after-ms` and `retry-after` headers, the only ones the exporter reads. */
  retryAfterMs: string | undefined;
  retryAfter: string | undefined;
  /** The body, up to `maxBodyBytes` (the rest is not read: the connection is closed instead). Empty on a 2xx. */
  text: string;
  /** The body went on past `maxBodyBytes`: {@link text} is cut, maybe through a word (or a secret). */
  cut: boolean;
}

export interface PutOptions {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | string;
  signal: AbortSignal;
  /** Bytes of an error response's body to keep. */
  maxBodyBytes: number;
  /** The dispatcher may be of any undici version: answer both handler interfaces. */
  anyVersion: boolean;
  /** Called once undici is done with the request (which may be after the promise settled: a 2xx is the answer at once). */
  onEnd?: () => void;
}

/** Resolves with the response (any status); rejects with the network error or the signal's reason. */
export function put(dispatcher: Dispatcher, options: PutOptions): Promise<PutResponse> {
  return new Promise((resolve, reject) => {
    const handler = options.anyVersion ? new AnyVersionPutHandler(options, resolve, reject) : new PutHandler(options, resolve, reject);
    if (options.signal.aborted) {
      reject(options.signal.reason);
      options.onEnd?.();
      return;
    }
    options.signal.addEventListener('abort', handler, { once: true });
    try {
      dispatcher.dispatch({ origin: options.origin, path: options.path, method: 'PUT', headers: options.headers, body: options.body }, handler);
    } catch (error) {
      handler.onError(error as Error);
    }
  });
}

/**
 * undici's callback dispatch handler; also the abort listener of its request's signal. A 2xx status
 * is the answer at once (SGP has taken the batch; the rest of the body is read and ignored), so a
 * deadline or shutdown that comes while the body is still arriving cannot count it as undelivered.
 */
class PutHandler {
  private status = 0;
  private retryAfterMs: string | undefined;
  private retryAfter: string | undefined;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private abortRequest: ((reason?: Error) => void) | undefined;
  /** The promise is settled (the answer may come before undici is done). */
  private settled = false;
  /** undici is done with the request: `onEnd` was called. */
  private ended = false;

  constructor(
    private readonly options: PutOptions,
    private readonly resolve: (response: PutResponse) => void,
    private readonly reject: (reason: unknown) => void,
  ) {}

  /** The signal fired: end the request (if undici has not started it, it ends when it would start). Once the status is in, it is the answer. */
  handleEvent(): void {
    if (this.status !== 0) this.succeed();
    else this.fail(this.options.signal.reason);
    this.abortRequest?.(abortError(this.options.signal.reason));
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.settled) abort(abortError(this.options.signal.reason));
    else this.abortRequest = abort;
  }

  onHeaders(status: number, rawHeaders: (Buffer | string)[] | null): boolean {
    // An interim answer (103 Early Hints) is not the answer, nor are its headers. (An unasked-for
    // 100 Continue never gets here: undici ends the connection with "bad response".)
    if (status < 200) return true;
    this.status = status;
    if (status < 300) {
      this.succeed();
      return true;
    }
    for (let i = 0; rawHeaders && i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString().toLowerCase();
      if (name === 'retry-after-ms') this.retryAfterMs ??= rawHeaders[i + 1]!.toString();
      else if (name === 'retry-after') this.retryAfter ??= rawHeaders[i + 1]!.toString();
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return true;
    const room = this.options.maxBodyBytes - this.size;
    this.chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    this.size += chunk.length;
    if (this.size >= this.options.maxBodyBytes) {
      // Enough to quote: answer now, and close the connection rather than read the rest.
      this.succeed();
      this.abortRequest?.(new Error('response body past the read limit'));
    }
    return true;
  }

  onComplete(): void {
    this.succeed();
    this.end();
  }

  onError(error: Error): void {
    // A body that breaks off after the status still leaves the status to report.
    if (this.status !== 0) this.succeed();
    else this.fail(error);
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.options.onEnd?.();
  }

  private succeed(): void {
    if (this.settled) return;
    this.settle();
    this.resolve({
      status: this.status,
      retryAfterMs: this.retryAfterMs,
      retryAfter: this.retryAfter,
      text: this.chunks.length === 0 ? '' : Buffer.concat(this.chunks).toString('utf8'),
      cut: this.size >= this.options.maxBodyBytes,
    });
  }

  private fail(reason: unknown): void {
    if (this.settled) return;
    this.settle();
    this.reject(reason);
  }

  private settle(): void {
    this.settled = true;
    this.options.signal.removeEventListener('abort', this);
  }
}

/** The same handler, answering undici's controller interface too (undici 7 and 8). */
class AnyVersionPutHandler extends PutHandler {
  onRequestStart(controller: { abort(reason: Error): void }): void {
    this.onConnect((reason) => controller.abort(reason ?? new Error('request aborted')));
  }

  onResponseStart(_controller: unknown, status: number, headers: Record<string, string | string[] | undefined>): void {
    const raw: string[] = [];
    for (const name of ['retry-after-ms', 'retry-after']) {
      const value = headers[name];
      if (value !== undefined) raw.push(name, Array.isArray(value) ? value[0]! : value);
    }
    this.onHeaders(status, raw);
  }

  onResponseData(_controller: unknown, chunk: Buffer): void {
    this.onData(chunk);
  }

  onResponseEnd(): void {
    this.onComplete();
  }

  onResponseError(_controller: unknown, error: Error): void {
    this.onError(error);
  }
}

function abortError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error('request aborted');
}
