import type { Dispatcher } from 'undici';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Clock } from './clock.js';
import { MAX_TIMER_MILLIS, systemClock } from './clock.js';
import { SGPConfigError } from './errors.js';
import type { MaskFunction } from './mapping/prepare.js';

export const DEFAULT_BASE_URL = 'https://api.egp.scale.com';
/** The server rejects a request with more items than this (422). */
export const SERVER_MAX_ITEMS_PER_REQUEST = 1000;

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  maxAttempts: number;
  initialBackoffMillis: number;
  maxBackoffMillis: number;
  /** Each wait is scaled by a random factor in [1 - jitterRatio, 1 + jitterRatio]. */
  jitterRatio: number;
}

export type Environment = Record<string, string | undefined>;

/** Options of {@link SGPSpanExporter}. Each falls back to its environment variable, then its default. */
export interface SGPExporterOptions {
  /** SGP API key, sent as `x-api-key`. Env `SGP_API_KEY`. */
  apiKey?: string;
  /** SGP account id, sent as `x-selected-account-id`. Env `SGP_ACCOUNT_ID`. */
  accountId?: string;
  /** Base URL of the SGP API; a path prefix is kept. Env `SGP_CLIENT_BASE_URL`. */
  baseUrl?: string;
  /** Turn tracing off. Env `DISABLE_SCALE_TRACING` (any non-empty value). */
  disabled?: boolean;
  /** Deadline of one HTTP request, in ms. Default 10000. */
  timeoutMillis?: number;
  /** Attempts per batch, the first included. Default 4. */
  maxAttempts?: number;
  /** Wait before the second attempt, doubling after each failure. Default 400. */
  initialBackoffMillis?: number;
  /** Upper bound of one backoff wait. Default 20000. */
  maxBackoffMillis?: number;
  /** Deadline of one whole export, retries included. Env `SGP_BSP_EXPORT_TIMEOUT`. Default 30000. */
  exportTimeoutMillis?: number;
  /** Extra request headers (cannot replace the authentication headers). */
  headers?: Record<string, string>;
  /** Allow sending the API key over plain `http://` to a host other than loopback. Default false. */
  allowInsecureHttp?: boolean;
  /** Send prompt and completion text. With false, only structure, model, tokens and timing. Env `SGP_CAPTURE_CONTENT`. Default true. */
  captureContent?: boolean;
  /** Rewrites input, output and every metadata string before anything leaves the process; fails closed. */
  mask?: MaskFunction;
  /** Largest serialized input, output or metadata of one span; longer strings are cut. Env `SGP_MAX_FIELD_BYTES`. Default 1 MiB. */
  maxFieldBytes?: number;
  /** Largest request body; a batch that would exceed it is split. Default 4 MiB. */
  maxBatchBytes?: number;
  /** The undici dispatcher to send through (a proxy agent, a test's mock agent). Default: a keep-alive `Agent`. */
  dispatcher?: Dispatcher;
  /** Source of time, sleep and jitter; for tests. */
  clock?: Clock;
  /** Where environment variables are read from. Default `process.env`. */
  env?: Environment;
}

/** Options of {@link SGPSpanProcessor}: the exporter's, plus the queue's. */
export interface SGPSpanProcessorOptions extends SGPExporterOptions {
  /** Export through this exporter instead of building an `SGPSpanExporter` from these options. */
  exporter?: SpanExporter;
  /** Spans held while waiting for export; beyond it new spans are dropped. Env `SGP_BSP_MAX_QUEUE_SIZE`. Default 4000. */
  maxQueueSize?: number;
  /** Spans per request. Env `SGP_BSP_MAX_EXPORT_BATCH_SIZE`. Default 50 (at most 1000). */
  maxExportBatchSize?: number;
  /** Longest time a span waits in the queue before a partial batch is sent. Env `SGP_BSP_SCHEDULE_DELAY`. Default 4000. */
  scheduledDelayMillis?: number;
  /**
   * Exports in flight at once (our own exporter only; any other exporter gets one at a time, and
   * so does exportOnStart). Env `SGP_BSP_MAX_CONCURRENT_EXPORTS`. Default 4.
   */
  maxConcurrentExports?: number;
  /** Also send a start record when a span starts, so long runs show in SGP while they run. Env `SGP_EXPORT_ON_START`. Default false. */
  exportOnStart?: boolean;
  /** At shutdown, send spans that started but never ended as in-progress records. Default true. */
  exportUnendedOnShutdown?: boolean;
  /** Flush once when the process is about to exit without `shutdown()` (`beforeExit`). Default true. */
  flushOnExit?: boolean;
  /**
   * Which spans to send, decided when each span starts. Children of a dropped span are re-parented
   * to its nearest kept ancestor. `'genai'` keeps only spans with LLM or agent content.
   */
  shouldExportSpan?: ((span: ReadableSpan) => boolean) | 'genai';
}

export interface ExporterConfig {
  apiKey: string | undefined;
  accountId: string | undefined;
  /** Why the exporter sends nothing, or undefined when it is enabled. */
  disabledReason: DisabledReason | undefined;
  /** Names of the missing credential variables (for the warning). */
  missingCredentials: string[];
  endpoint: URL;
  timeoutMillis: number;
  exportTimeoutMillis: number;
  retry: RetryPolicy;
  headers: Record<string, string>;
  dispatcher: Dispatcher | undefined;
  clock: Clock;
  captureContent: boolean;
  mask: MaskFunction | undefined;
  maxFieldBytes: number;
  maxBatchBytes: number;
  /** Connections of the exporter's own agent: one per export the processor runs at once. */
  connections: number;
}

export interface ProcessorConfig {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  maxConcurrentExports: number;
  exportOnStart: boolean;
  exportUnendedOnShutdown: boolean;
  flushOnExit: boolean;
}

export type DisabledReason = 'missing_credentials' | 'disabled_by_option' | 'DISABLE_SCALE_TRACING';

interface WholeNumberSetting {
  option: string;
  envVar?: string;
  min: number;
  max?: number;
  fallback: number;
}

/** An environment variable's value, with `""` meaning unset (agentex templates pass empty strings). */
function readEnv(env: Environment, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function describeRange(setting: WholeNumberSetting): string {
  return setting.max === undefined
    ? `a whole number >= ${setting.min}`
    : `a whole number from ${setting.min} to ${setting.max}`;
}

function wholeNumber(value: unknown, env: Environment, setting: WholeNumberSetting): number {
  const inRange = (n: number) => Number.isSafeInteger(n) && n >= setting.min && (setting.max === undefined || n <= setting.max);
  if (value !== undefined) {
    if (typeof value === 'number' && inRange(value)) return value;
    throw new SGPConfigError(
      `Invalid option ${setting.option}: expected ${describeRange(setting)}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  const raw = setting.envVar === undefined ? undefined : readEnv(env, setting.envVar);
  if (raw === undefined) return setting.fallback;
  const parsed = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (inRange(parsed)) return parsed;
  throw new SGPConfigError(
    `Invalid environment variable ${setting.envVar}: expected ${describeRange(setting)}, got ${JSON.stringify(raw)}`,
  );
}

/** A duration in ms: a whole number a timer can hold (Node wraps anything above 2^31 - 1 ms to 1 ms). */
function duration(value: unknown, env: Environment, setting: Omit<WholeNumberSetting, 'max'>): number {
  return wholeNumber(value, env, { ...setting, max: MAX_TIMER_MILLIS });
}

/**
 * Credentials travel as HTTP header values: anything but printable ASCII (a pasted newline, a
 * non-ASCII character) would fail every request. Refused at construction, without echoing the value.
 */
function checkHeaderSafe(value: string | undefined, source: string): void {
  if (value === undefined) return;
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) {
      const shown = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
      throw new SGPConfigError(`Invalid ${source}: character ${shown} at position ${i + 1} cannot be sent in an HTTP header`);
    }
  }
}

function optionalString(value: unknown, option: string, secret = false): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    const shown = secret ? `a ${typeof value}` : JSON.stringify(value) ?? String(value);
    throw new SGPConfigError(`Invalid option ${option}: expected a string, got ${shown}`);
  }
  return value.trim() === '' ? undefined : value.trim();
}

function booleanSetting(value: unknown, env: Environment, option: string, envVar: string | undefined, fallback: boolean): boolean {
  if (value !== undefined) {
    if (typeof value === 'boolean') return value;
    throw new SGPConfigError(`Invalid option ${option}: expected true or false, got ${JSON.stringify(value)}`);
  }
  const raw = envVar === undefined ? undefined : readEnv(env, envVar)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new SGPConfigError(`Invalid environment variable ${envVar}: expected true or false, got ${JSON.stringify(raw)}`);
}

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** The URL as the user wrote it, minus any user:password part, so an error message never leaks one. */
function redactUrl(raw: string): string {
  return raw.replace(/\/\/[^/@]*@/, '//');
}

/** `{baseUrl}/v5/spans/batch`, keeping any path prefix of the base URL. */
export function spansEndpoint(baseUrl: string, source: string): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new SGPConfigError(`Invalid ${source}: expected an http(s) URL, got ${JSON.stringify(redactUrl(baseUrl))}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new SGPConfigError(
      `Invalid ${source}: expected an http(s) URL, got ${JSON.stringify(redactUrl(baseUrl))}`,
    );
  }
  if (url.username !== '' || url.password !== '') {
    throw new SGPConfigError(
      `Invalid ${source}: a user name or password in the URL is not supported (got ${JSON.stringify(redactUrl(baseUrl))}); SGP authenticates with apiKey and accountId`,
    );
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v5/spans/batch`;
  url.search = '';
  url.hash = '';
  return url;
}

function checkObject(value: unknown, option: string): void {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new SGPConfigError(`Invalid option ${option}: expected an object, got ${JSON.stringify(value)}`);
  }
}

export function resolveExporterConfig(options: SGPExporterOptions = {}): ExporterConfig {
  checkObject(options, 'options');
  const env = options.env ?? process.env;
  const apiKeyOption = optionalString(options.apiKey, 'apiKey', true);
  const accountIdOption = optionalString(options.accountId, 'accountId');
  const apiKey = apiKeyOption ?? readEnv(env, 'SGP_API_KEY');
  const accountId = accountIdOption ?? readEnv(env, 'SGP_ACCOUNT_ID');
  checkHeaderSafe(apiKey, apiKeyOption !== undefined ? 'option apiKey' : 'environment variable SGP_API_KEY');
  checkHeaderSafe(accountId, accountIdOption !== undefined ? 'option accountId' : 'environment variable SGP_ACCOUNT_ID');
  const baseUrlOption = optionalString(options.baseUrl, 'baseUrl');
  const endpoint =
    baseUrlOption !== undefined
      ? spansEndpoint(baseUrlOption, 'option baseUrl')
      : readEnv(env, 'SGP_CLIENT_BASE_URL') !== undefined
        ? spansEndpoint(readEnv(env, 'SGP_CLIENT_BASE_URL')!, 'environment variable SGP_CLIENT_BASE_URL')
        : spansEndpoint(DEFAULT_BASE_URL, 'default base URL');

  if (options.disabled !== undefined && typeof options.disabled !== 'boolean') {
    throw new SGPConfigError(`Invalid option disabled: expected true or false, got ${JSON.stringify(options.disabled)}`);
  }
  checkObject(options.headers, 'headers');
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (typeof value !== 'string') {
      throw new SGPConfigError(`Invalid option headers: header ${JSON.stringify(name)} must be a string`);
    }
  }

  const missingCredentials = [
    ...(apiKey === undefined ? ['SGP_API_KEY'] : []),
    ...(accountId === undefined ? ['SGP_ACCOUNT_ID'] : []),
  ];
  const disabledReason: DisabledReason | undefined =
    options.disabled === true
      ? 'disabled_by_option'
      : options.disabled === undefined && readEnv(env, 'DISABLE_SCALE_TRACING') !== undefined
        ? 'DISABLE_SCALE_TRACING'
        : missingCredentials.length > 0
          ? 'missing_credentials'
          : undefined;

  const allowInsecureHttp = booleanSetting(options.allowInsecureHttp, env, 'allowInsecureHttp', undefined, false);
  if (disabledReason === undefined && endpoint.protocol === 'http:' && !LOOPBACK_HOSTS.test(endpoint.hostname) && !allowInsecureHttp) {
    throw new SGPConfigError(
      `Refusing to send the SGP API key over plain http to ${endpoint.host}: use an https:// base URL, or set allowInsecureHttp: true`,
    );
  }

  const initialBackoffMillis = duration(options.initialBackoffMillis, env, {
    option: 'initialBackoffMillis',
    min: 0,
    fallback: 400,
  });
  return {
    apiKey,
    accountId,
    disabledReason,
    missingCredentials,
    endpoint,
    timeoutMillis: duration(options.timeoutMillis, env, { option: 'timeoutMillis', min: 1, fallback: 10_000 }),
    exportTimeoutMillis: exportTimeout(options, env),
    retry: {
      maxAttempts: wholeNumber(options.maxAttempts, env, { option: 'maxAttempts', min: 1, max: 100, fallback: 4 }),
      initialBackoffMillis,
      maxBackoffMillis: duration(options.maxBackoffMillis, env, {
        option: 'maxBackoffMillis',
        min: initialBackoffMillis,
        fallback: Math.max(20_000, initialBackoffMillis),
      }),
      jitterRatio: 0.2,
    },
    headers: { ...options.headers },
    dispatcher: options.dispatcher,
    clock: options.clock ?? systemClock,
    captureContent: booleanSetting(options.captureContent, env, 'captureContent', 'SGP_CAPTURE_CONTENT', true),
    mask: maskOption(options.mask),
    maxFieldBytes: wholeNumber(options.maxFieldBytes, env, {
      option: 'maxFieldBytes',
      envVar: 'SGP_MAX_FIELD_BYTES',
      min: 1024,
      fallback: 1024 * 1024,
    }),
    maxBatchBytes: wholeNumber(options.maxBatchBytes, env, { option: 'maxBatchBytes', min: 1024, fallback: 4 * 1024 * 1024 }),
    connections: 1,
  };
}

function maskOption(mask: unknown): MaskFunction | undefined {
  if (mask === undefined || typeof mask === 'function') return mask as MaskFunction | undefined;
  throw new SGPConfigError(`Invalid option mask: expected a function, got ${JSON.stringify(mask) ?? typeof mask}`);
}

function exportTimeout(options: SGPExporterOptions, env: Environment): number {
  return duration(options.exportTimeoutMillis, env, {
    option: 'exportTimeoutMillis',
    envVar: 'SGP_BSP_EXPORT_TIMEOUT',
    min: 1,
    fallback: 30_000,
  });
}

export function resolveProcessorConfig(options: SGPSpanProcessorOptions = {}): ProcessorConfig {
  checkObject(options, 'options');
  const env = options.env ?? process.env;
  const maxQueueSize = wholeNumber(options.maxQueueSize, env, {
    option: 'maxQueueSize',
    envVar: 'SGP_BSP_MAX_QUEUE_SIZE',
    min: 1,
    fallback: 4000,
  });
  const maxExportBatchSize = wholeNumber(options.maxExportBatchSize, env, {
    option: 'maxExportBatchSize',
    envVar: 'SGP_BSP_MAX_EXPORT_BATCH_SIZE',
    min: 1,
    max: SERVER_MAX_ITEMS_PER_REQUEST,
    fallback: Math.min(50, maxQueueSize),
  });
  if (maxExportBatchSize > maxQueueSize) {
    throw new SGPConfigError(
      `Invalid maxExportBatchSize (SGP_BSP_MAX_EXPORT_BATCH_SIZE): ${maxExportBatchSize} is larger than maxQueueSize (${maxQueueSize})`,
    );
  }
  return {
    maxQueueSize,
    maxExportBatchSize,
    scheduledDelayMillis: duration(options.scheduledDelayMillis, env, {
      option: 'scheduledDelayMillis',
      envVar: 'SGP_BSP_SCHEDULE_DELAY',
      min: 0,
      fallback: 4000,
    }),
    exportTimeoutMillis: exportTimeout(options, env),
    maxConcurrentExports: wholeNumber(options.maxConcurrentExports, env, {
      option: 'maxConcurrentExports',
      envVar: 'SGP_BSP_MAX_CONCURRENT_EXPORTS',
      min: 1,
      max: 64,
      fallback: 4,
    }),
    exportOnStart: booleanSetting(options.exportOnStart, env, 'exportOnStart', 'SGP_EXPORT_ON_START', false),
    exportUnendedOnShutdown: booleanSetting(options.exportUnendedOnShutdown, env, 'exportUnendedOnShutdown', undefined, true),
    flushOnExit: booleanSetting(options.flushOnExit, env, 'flushOnExit', undefined, true),
  };
}
