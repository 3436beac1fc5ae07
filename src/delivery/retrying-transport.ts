import type { Clock } from '../clock.js';
import type { RetryPolicy } from '../config.js';
import { SGPExportError } from '../errors.js';
import type { Logger } from '../log.js';
import { decideRetry, serverRequestedWait } from './retry.js';
import type { SGPTransport } from './transport.js';
import { SHUTDOWN } from './transport.js';

/** How one request body fared after every attempt the policy allowed. */
export interface Attempted {
  attempts: number;
  /** The last failure; undefined when the body was delivered. */
  error?: SGPExportError;
}

export interface RetryingTransportOptions {
  policy: RetryPolicy;
  /** Deadline of one HTTP attempt. */
  requestTimeoutMillis: number;
  clock: Clock;
  log: Logger;
}

/**
 * The one owner of retrying: sends a body, and on a retryable failure waits (backoff, or the
 * server's `Retry-After`) and sends it again, within the attempts of the policy and the caller's
 * deadline. A `Retry-After` holds back every request of this transport, not only the one that got it.
 */
export class RetryingTransport {
  /** No attempt starts before this time (a server's `Retry-After`). */
  private pausedUntil = 0;
  /** One controller per request or wait in progress, so `abort()` can end each (no shared signal: no listener pile-up). */
  private readonly active = new Set<AbortController>();
  private aborted = false;

  constructor(
    private readonly transport: SGPTransport,
    private readonly options: RetryingTransportOptions,
  ) {}

  async send(body: Buffer, deadline: number): Promise<Attempted> {
    const { clock, policy, requestTimeoutMillis } = this.options;
    for (let attempts = 1; ; attempts += 1) {
      const pause = this.pausedUntil - clock.now();
      if (pause > 0) {
        if (clock.now() + pause >= deadline) {
          return { attempts: attempts - 1, error: timeoutError(`SGP asked to wait ${pause} ms (Retry-After), past the export deadline`) };
        }
        await this.wait(pause);
      }
      if (this.aborted) return { attempts: attempts - 1, error: abortedError() };
      const remaining = deadline - clock.now();
      if (remaining <= 0) {
        return { attempts: attempts - 1, error: timeoutError(`export deadline passed before attempt ${attempts}`) };
      }
      const result = await this.attempt(body, Math.min(requestTimeoutMillis, remaining));
      if (result.ok) return { attempts };
      const failure = result.error;
      const requested = serverRequestedWait(failure);
      if (requested !== undefined) this.pausedUntil = Math.max(this.pausedUntil, clock.now() + requested);
      const decision = decideRetry(failure, attempts, policy, { nowMillis: clock.now(), deadlineMillis: deadline, random: clock.random() });
      if (!decision.retry) {
        if (decision.reason === 'not_retryable') return { attempts, error: failure };
        const why = decision.reason === 'deadline' ? 'export deadline' : 'attempts exhausted';
        return { attempts, error: failure.withMessage(`${failure.message} (gave up after ${plural(attempts, 'attempt')}: ${why})`) };
      }
      this.options.log.debug(`sgp-otel: ${failure.message}; retrying in ${decision.delayMillis} ms (attempt ${attempts + 1} of ${policy.maxAttempts})`);
      await this.wait(decision.delayMillis);
      if (this.aborted) return { attempts, error: abortedError() };
    }
  }

  /** Ends every request and wait in progress now, and every later one at once; they settle as `shutdown` failures. */
  abort(): void {
    this.aborted = true;
    for (const controller of this.active) controller.abort(SHUTDOWN);
  }

  /** Whether `body`'s memory may be reused, once it is (see {@link SGPTransport.whenDone}). */
  whenDone(body: Buffer): Promise<boolean> {
    return this.transport.whenDone(body);
  }

  get reusesBodies(): boolean {
    return this.transport.reusesBodies;
  }

  close(): Promise<void> {
    return this.transport.close();
  }

  destroy(): Promise<void> {
    return this.transport.destroy();
  }

  private async attempt(body: Buffer, timeoutMillis: number) {
    const controller = new AbortController();
    this.active.add(controller);
    try {
      return await this.transport.send(body, timeoutMillis, controller);
    } finally {
      this.active.delete(controller);
    }
  }

  private async wait(millis: number): Promise<void> {
    if (this.aborted) return;
    const controller = new AbortController();
    this.active.add(controller);
    try {
      await this.options.clock.sleep(millis, controller.signal);
    } finally {
      this.active.delete(controller);
    }
  }
}

function timeoutError(message: string): SGPExportError {
  return new SGPExportError(message, { kind: 'timeout', retryable: true });
}

function abortedError(): SGPExportError {
  return new SGPExportError('SGP export aborted: the exporter is shutting down', { kind: 'shutdown', retryable: false });
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
