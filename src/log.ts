import { diag } from '@opentelemetry/api';
import type { LogLevel } from './config.js';

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

const RANK: Record<LogLevel, number> = { none: 0, error: 1, warn: 2, info: 3, debug: 4 };

/**
 * Whether an OpenTelemetry diag logger is installed: the API keeps it in its global registry
 * (the key names the API's major version, 1 for every API this package supports).
 */
function diagLoggerInstalled(): boolean {
  const registry = (globalThis as Record<symbol, { diag?: unknown } | undefined>)[Symbol.for('opentelemetry.js.api.1')];
  return registry?.diag !== undefined;
}

/**
 * Messages go to OpenTelemetry's `diag` when a diag logger is installed (its level applies);
 * otherwise, at or above `level`, to stderr, so that "disabled", "credentials refused" and "spans
 * dropped" reach a user who never set one up. Every message starts with `sgp-otel: `.
 */
export function createLogger(level: LogLevel): Logger {
  const emit = (at: Exclude<LogLevel, 'none'>) => (message: string) => {
    if (diagLoggerInstalled()) diag[at](message);
    else if (RANK[at] <= RANK[level]) process.stderr.write(`${message}\n`);
  };
  return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') };
}

/**
 * Start-up messages (malformed variables, "disabled") go out on a later turn of the event loop:
 * the processor is usually built before NodeSDK's start() installs its diag logger from
 * OTEL_LOG_LEVEL, and a message logged at construction would miss it.
 */
export function logSoon(log: Logger, messages: readonly { level: 'warn' | 'info'; text: string }[]): void {
  if (messages.length === 0) return;
  const emit = () => {
    if (!pending.delete(emit)) return;
    for (const { level, text } of messages) {
      // The same message from an exporter and the processor built around it, in the same turn, is said once.
      if (saidThisTurn.has(text)) continue;
      saidThisTurn.add(text);
      setImmediate(() => saidThisTurn.delete(text));
      log[level](text);
    }
  };
  pending.add(emit);
  // A program that exits at once (process.exit right after start-up) still gets them.
  if (!exitHooked) {
    process.on('exit', () => {
      for (const pendingEmit of [...pending]) pendingEmit();
    });
    exitHooked = true;
  }
  setImmediate(emit);
}

const pending = new Set<() => void>();
const saidThisTurn = new Set<string>();
let exitHooked = false;
