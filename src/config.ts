import type { Dispatcher } from 'undici';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Clock } from './clock.js';
import { MAX_TIMER_MILLIS, systemClock } from './clock.js';
import { SGPConfigError } from './errors.js';
import type { MaskFunction } from './mapping/prepare.js';
import type { ServerlessPlatform } from './pipeline/serverless-runtime.js';
import { detectServerless } from './pipeline/serverless-runtime.js';

export const DEFAULT_BASE_URL = 'https://api.egp.scale.com';
/** Largest queue: far beyond any real need, and small enough to allocate. */
export const MAX_QUEUE_SIZE = 1_000_000;
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

export type LogLevel = 'none' | 'error' | 'warn' | 'info' | 'debug';
const LOG_LEVELS: readonly LogLevel[] = ['none', 'error', 'warn', 'info', 'debug'];

/**
 * The resource attributes kept by default: what identifies a process (service, deployment, host,
 * cloud, Kubernetes, FaaS, the telemetry SDK), not what it was run with (`process.command_args`
 * can hold secrets).
 */
export const DEFAULT_RESOURCE_ATTRIBUTES: readonly string[] = [
  'service.',
  'deployment.',
  'host.',
  'cloud.',
  'k8s.',
  'faas.',
  'telemetry.sdk.',
  'process.runtime.',
];

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
  /** Largest request body; a batch that would exceed it is split. Default 1 MiB. */
  maxBatchBytes?: number;
  /** The undici dispatcher to send through (a proxy agent, a test's mock agent). Default: a keep-alive `Agent`. */
  dispatcher?: Dispatcher;
  /** Source of time, sleep and jitter; for tests. */
  clock?: Clock;
  /** Where environment variables are read from. Default `process.env`. */
  env?: Environment;
  /**
   * What sgp-otel writes to stderr when no OpenTelemetry diag logger is installed (with one
   * installed, everything goes to it and its own level applies). Env `SGP_LOG_LEVEL`. Default 'warn'.
   */
  logLevel?: LogLevel;
  /**
   * Which resource attributes each item carries in `metadata.otel.resource`: 'all', 'none', or a
   * list of attribute names and prefixes (a name ending in '.' is a prefix). Env
   * `SGP_RESOURCE_ATTRIBUTES` ('all', 'none' or a comma-separated list). Default: the identity
   * prefixes in {@link DEFAULT_RESOURCE_ATTRIBUTES}, which leave out the command line.
   */
  resourceAttributes?: 'all' | 'none' | readonly string[];
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
  /**
   * When a span with no local parent (a request, an agent turn) ends, export what is queued at once
   * instead of at the next schedule. `'auto'`: on where a serverless platform is detected. Env
   * `SGP_EXPORT_ON_ROOT_END` (`true`, `false`, `auto`). Default `'auto'`.
   */
  exportOnRootEnd?: boolean | 'auto';
  /**
   * Called when a span with no local parent starts, with a promise that settles once that span has
   * ended, the spans of its trace still open then have ended (up to half of `exportTimeoutMillis`),
   * and all of them are delivered (or `exportTimeoutMillis` passed). Hand it to
   * your runtime's `waitUntil` (Cloudflare's `ctx.waitUntil`, a custom server's) to keep the
   * invocation alive exactly as long as needed. On Vercel this happens by itself.
   */
  waitUntil?: (promise: Promise<void>) => void;
  /**
   * A directory where spans wait on disk while SGP is unreachable, and where what is undelivered at
   * shutdown is kept; they are sent, oldest first, once SGP answers (by this process, a later run,
   * or another process sharing the directory). Created if missing. Our own exporter only. Env
   * `SGP_SPOOL_DIR`. Default: none (spans wait in memory, up to maxQueueSize).
   */
  spoolDir?: string;
  /** Most bytes the spool directory holds; beyond it the oldest segments are deleted. Env `SGP_SPOOL_MAX_BYTES`. Default 256 MiB. */
  spoolMaxBytes?: number;
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
  /** Proxy settings from the environment, for the exporter's own agent (ignored with a `dispatcher`). */
  proxy: { httpProxy?: string; httpsProxy?: string; noProxy?: string } | undefined;
  /** Which resource attributes to send: every one, or those a name matches. */
  resourceAttributes: ResourceAttributeFilter;
  logLevel: LogLevel;
  /** Environment variables that were malformed and replaced by their default, one message each. */
  warnings: string[];
}

/** `true`: every resource attribute; otherwise the names and prefixes (ending in '.') to keep. */
export type ResourceAttributeFilter = true | readonly string[];

export interface ProcessorConfig {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
  maxConcurrentExports: number;
  exportOnStart: boolean;
  exportUnendedOnShutdown: boolean;
  flushOnExit: boolean;
  exportOnRootEnd: boolean;
  /** The serverless platform detected from the environment, if any. */
  platform: ServerlessPlatform | undefined;
  waitUntil: ((promise: Promise<void>) => void) | undefined;
  logLevel: LogLevel;
  /** Environment variables that were malformed and replaced by their default, one message each. */
  warnings: string[];
}

/** Default of spoolMaxBytes: 256 MiB. */
export const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;

export interface SpoolConfig {
  /** Undefined: no spool. */
  dir: string | undefined;
  maxBytes: number;
  /** Environment variables that were malformed and replaced by their default, one message each. */
  warnings: string[];
}

export type DisabledReason =
  | 'missing_credentials'
  /** SGP_API_KEY or SGP_ACCOUNT_ID holds a character that cannot be sent in an HTTP header. */
  | 'invalid_credentials'
  /** SGP_CLIENT_BASE_URL is not a usable URL; sending to the default instead could reach the wrong place. */
  | 'invalid_base_url'
  | 'disabled_by_option'
  | 'DISABLE_SCALE_TRACING';

interface WholeNumberSetting {
  option: string;
  envVar?: string;
  min: number;
  max?: number;
  fallback: number;
}

/**
 * Environment variables as settings read them. A malformed variable is not the programmer's
 * error and must never take the host down: as OpenTelemetry does, it is reported (naming the
 * variable and the value) and the default is used.
 */
class EnvSource {
  readonly warnings: string[] = [];
  constructor(private readonly values: Environment) {}

  /** The value, with `""` meaning unset (agentex templates pass empty strings). */
  read(name: string): string | undefined {
    const value = this.values[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  malformed(name: string, expected: string, raw: string, instead: string): void {
    this.warnings.push(`Invalid environment variable ${name}: expected ${expected}, got ${JSON.stringify(raw)}; ${instead}`);
  }
}

function describeRange(setting: WholeNumberSetting): string {
  return setting.max === undefined
    ? `a whole number >= ${setting.min}`
    : `a whole number from ${setting.min} to ${setting.max}`;
}

function wholeNumber(value: unknown, env: EnvSource, setting: WholeNumberSetting): number {
  const inRange = (n: number) => Number.isSafeInteger(n) && n >= setting.min && (setting.max === undefined || n <= setting.max);
  if (value !== undefined) {
    if (typeof value === 'number' && inRange(value)) return value;
    throw new SGPConfigError(
      `Invalid option ${setting.option}: expected ${describeRange(setting)}, got ${JSON.stringify(value) ?? String(value)}`,
    );
  }
  const raw = setting.envVar === undefined ? undefined : env.read(setting.envVar);
  if (raw === undefined) return setting.fallback;
  const parsed = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (inRange(parsed)) return parsed;
  env.malformed(setting.envVar!, describeRange(setting), raw, `using the default (${setting.fallback})`);
  return setting.fallback;
}

/** A duration in ms: a whole number a timer can hold (Node wraps anything above 2^31 - 1 ms to 1 ms). */
function duration(value: unknown, env: EnvSource, setting: Omit<WholeNumberSetting, 'max'>): number {
  return wholeNumber(value, env, { ...setting, max: MAX_TIMER_MILLIS });
}

/**
 * Where a credential cannot travel as an HTTP header value (a pasted newline, a non-ASCII
 * character): a description of the first such character, never the value itself.
 */
function headerUnsafe(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code > 0x7e) {
      return `character U+${code.toString(16).toUpperCase().padStart(4, '0')} at position ${i + 1} cannot be sent in an HTTP header`;
    }
  }
  return undefined;
}

/** A credential: the option (a bad one throws) or else the variable (a bad one is reported and left unset). */
function credential(value: unknown, option: string, envVar: string, env: EnvSource, secret: boolean): string | undefined {
  const fromOption = optionalString(value, option, secret);
  if (fromOption !== undefined) {
    const problem = headerUnsafe(fromOption);
    if (problem) throw new SGPConfigError(`Invalid option ${option}: ${problem}`);
    return fromOption;
  }
  const fromEnv = env.read(envVar);
  const problem = headerUnsafe(fromEnv);
  if (problem === undefined) return fromEnv;
  env.warnings.push(`Invalid environment variable ${envVar}: ${problem}; sgp-otel is disabled`);
  return undefined;
}

function optionalString(value: unknown, option: string, secret = false): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    const shown = secret ? `a ${typeof value}` : JSON.stringify(value) ?? String(value);
    throw new SGPConfigError(`Invalid option ${option}: expected a string, got ${shown}`);
  }
  return value.trim() === '' ? undefined : value.trim();
}

function booleanSetting(value: unknown, env: EnvSource, option: string, envVar: string | undefined, fallback: boolean): boolean {
  if (value !== undefined) {
    if (typeof value === 'boolean') return value;
    throw new SGPConfigError(`Invalid option ${option}: expected true or false, got ${JSON.stringify(value)}`);
  }
  const raw = envVar === undefined ? undefined : env.read(envVar);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (lower === 'true' || lower === '1') return true;
  if (lower === 'false' || lower === '0') return false;
  env.malformed(envVar!, 'true or false', raw, `using the default (${fallback})`);
  return fallback;
}

/**
 * A compliance switch fails closed: a malformed SGP_CAPTURE_CONTENT (`off`, `no`) turns capture
 * off, where any other malformed variable falls back to its default.
 */
function captureContentSetting(value: unknown, env: EnvSource): boolean {
  const raw = value === undefined ? env.read('SGP_CAPTURE_CONTENT') : undefined;
  if (raw === undefined || ['true', '1', 'false', '0'].includes(raw.toLowerCase())) {
    return booleanSetting(value, env, 'captureContent', 'SGP_CAPTURE_CONTENT', true);
  }
  env.malformed('SGP_CAPTURE_CONTENT', 'true or false', raw, 'content capture is off (this switch fails closed)');
  return false;
}

/** Options that only sgp-otel's own exporter reads: with a custom `exporter` they would be silently ignored. */
const OWN_EXPORTER_OPTIONS = [
  'apiKey',
  'accountId',
  'baseUrl',
  'disabled',
  'timeoutMillis',
  'maxAttempts',
  'initialBackoffMillis',
  'maxBackoffMillis',
  'headers',
  'allowInsecureHttp',
  'captureContent',
  'mask',
  'maxFieldBytes',
  'maxBatchBytes',
  'dispatcher',
  'resourceAttributes',
] as const;

/**
 * A custom exporter with options only our own exporter reads (a privacy option above all) is a
 * mistake to say out loud: an error for an option, a warning for SGP_CAPTURE_CONTENT beside an
 * exporter that is not an SGPSpanExporter (one reads the variable itself). Returns the warnings.
 */
export function checkCustomExporterOptions(options: SGPSpanProcessorOptions, exporterIsOurs: boolean): string[] {
  if (options.exporter === undefined) return [];
  const ignored = OWN_EXPORTER_OPTIONS.filter((name) => options[name] !== undefined);
  if (ignored.length > 0) {
    throw new SGPConfigError(
      `Invalid options ${ignored.join(', ')}: they configure sgp-otel's own exporter and would be ignored with a custom exporter; pass them to the SGPSpanExporter you give as exporter`,
    );
  }
  if (exporterIsOurs || new EnvSource(options.env ?? process.env).read('SGP_CAPTURE_CONTENT') === undefined) return [];
  return ["SGP_CAPTURE_CONTENT is set, but this processor exports through a custom exporter that is not sgp-otel's: the variable has no effect on what that exporter sends"];
}

function exportOnRootEndSetting(value: unknown, env: EnvSource, platform: ServerlessPlatform | undefined): boolean {
  if (value !== undefined && value !== 'auto') {
    if (typeof value === 'boolean') return value;
    throw new SGPConfigError(`Invalid option exportOnRootEnd: expected true, false or 'auto', got ${JSON.stringify(value)}`);
  }
  const raw = value === 'auto' ? 'auto' : (env.read('SGP_EXPORT_ON_ROOT_END')?.toLowerCase() ?? 'auto');
  if (raw === 'auto') return platform !== undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  env.malformed('SGP_EXPORT_ON_ROOT_END', 'true, false or auto', raw, "using the default ('auto')");
  return platform !== undefined;
}

function functionOption<F>(value: unknown, option: string): F | undefined {
  if (value === undefined || typeof value === 'function') return value as F | undefined;
  throw new SGPConfigError(`Invalid option ${option}: expected a function, got ${JSON.stringify(value) ?? typeof value}`);
}

function logLevelSetting(value: unknown, env: EnvSource): LogLevel {
  if (value !== undefined) {
    if (LOG_LEVELS.includes(value as LogLevel)) return value as LogLevel;
    throw new SGPConfigError(`Invalid option logLevel: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  const raw = env.read('SGP_LOG_LEVEL');
  if (raw === undefined) return 'warn';
  if (LOG_LEVELS.includes(raw.toLowerCase() as LogLevel)) return raw.toLowerCase() as LogLevel;
  env.malformed('SGP_LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, raw, "using the default ('warn')");
  return 'warn';
}

function resourceAttributesSetting(value: unknown, env: EnvSource): ResourceAttributeFilter {
  if (value !== undefined) {
    if (value === 'all') return true;
    if (value === 'none') return [];
    if (Array.isArray(value) && value.every((name) => typeof name === 'string' && name !== '')) return [...value];
    throw new SGPConfigError(
      `Invalid option resourceAttributes: expected 'all', 'none' or a list of attribute names, got ${JSON.stringify(value)}`,
    );
  }
  const raw = env.read('SGP_RESOURCE_ATTRIBUTES');
  if (raw === undefined) return DEFAULT_RESOURCE_ATTRIBUTES;
  if (raw.toLowerCase() === 'all') return true;
  if (raw.toLowerCase() === 'none') return [];
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (names.length > 0 && names.every((name) => /^[\w.-]+$/.test(name))) return names;
  env.malformed('SGP_RESOURCE_ATTRIBUTES', "'all', 'none' or a comma-separated list of attribute names", raw, 'using the default');
  return DEFAULT_RESOURCE_ATTRIBUTES;
}

/** HTTP(S)_PROXY and NO_PROXY (either case), as undici's environment proxy agent reads them. */
function proxySetting(env: EnvSource): ExporterConfig['proxy'] {
  const httpProxy = proxyUrl(env, 'HTTP_PROXY', 'http_proxy');
  const httpsProxy = proxyUrl(env, 'HTTPS_PROXY', 'https_proxy');
  const noProxy = env.read('NO_PROXY') ?? env.read('no_proxy');
  if (httpProxy === undefined && httpsProxy === undefined) return undefined;
  return { httpProxy, httpsProxy, noProxy };
}

/** A proxy URL as curl reads it (`host:port` means `http://host:port`); a malformed one is reported and not used. */
function proxyUrl(env: EnvSource, upper: string, lower: string): string | undefined {
  const name = env.read(upper) !== undefined ? upper : lower;
  const raw = env.read(name);
  if (raw === undefined) return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  try {
    const url = new URL(withScheme);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.toString();
  } catch {
    // reported below
  }
  env.malformed(name, 'a proxy URL such as http://proxy:8080', redactUrl(raw), 'not using a proxy');
  return undefined;
}

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** The URL as the user wrote it, minus any user:password part, so an error message never leaks one. */
function redactUrl(raw: string): string {
  // Everything up to the last '@' (after the scheme, if any): a password may hold '@' or '/', and
  // a URL written without a scheme still has its user part before the host.
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/i, '$1');
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

/** An HTTP token, as a header name must be. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers undici manages itself and refuses to take from a caller. */
const UNSETTABLE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer', 'proxy-connection']);

/** Extra headers that every request could carry: a bad one would otherwise fail each request as if SGP were down. */
function checkHeaders(headers: unknown): void {
  checkObject(headers, 'headers');
  for (const [name, value] of Object.entries((headers ?? {}) as Record<string, unknown>)) {
    const shown = JSON.stringify(name);
    if (typeof value !== 'string') throw new SGPConfigError(`Invalid option headers: header ${shown} must be a string`);
    if (!HEADER_NAME.test(name)) throw new SGPConfigError(`Invalid option headers: ${shown} is not a valid header name`);
    if (UNSETTABLE_HEADERS.has(name.toLowerCase())) throw new SGPConfigError(`Invalid option headers: ${shown} cannot be set`);
    if (/[^\t\x20-\x7e\x80-\xff]/.test(value)) {
      throw new SGPConfigError(`Invalid option headers: the value of ${shown} has a character that cannot be sent in a header`);
    }
  }
}

function checkObject(value: unknown, option: string): void {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw new SGPConfigError(`Invalid option ${option}: expected an object, got ${JSON.stringify(value)}`);
  }
}

export function resolveExporterConfig(options: SGPExporterOptions = {}): ExporterConfig {
  checkObject(options, 'options');
  const env = new EnvSource(options.env ?? process.env);
  const apiKey = credential(options.apiKey, 'apiKey', 'SGP_API_KEY', env, true);
  const accountId = credential(options.accountId, 'accountId', 'SGP_ACCOUNT_ID', env, false);
  const credentialsInvalid = env.warnings.length > 0;
  const baseUrlOption = optionalString(options.baseUrl, 'baseUrl');
  let endpoint: URL | undefined;
  if (baseUrlOption !== undefined) endpoint = spansEndpoint(baseUrlOption, 'option baseUrl');
  else if (env.read('SGP_CLIENT_BASE_URL') !== undefined) {
    try {
      endpoint = spansEndpoint(env.read('SGP_CLIENT_BASE_URL')!, 'environment variable SGP_CLIENT_BASE_URL');
    } catch (error) {
      // Sending to the default instead could deliver to the wrong place: report it and send nothing.
      env.warnings.push(`${(error as Error).message}; sgp-otel is disabled`);
    }
  } else endpoint = spansEndpoint(DEFAULT_BASE_URL, 'default base URL');

  if (options.disabled !== undefined && typeof options.disabled !== 'boolean') {
    throw new SGPConfigError(`Invalid option disabled: expected true or false, got ${JSON.stringify(options.disabled)}`);
  }
  checkHeaders(options.headers);
  if (options.dispatcher !== undefined && typeof (options.dispatcher as { dispatch?: unknown } | null)?.dispatch !== 'function') {
    throw new SGPConfigError(`Invalid option dispatcher: expected an undici Dispatcher (with dispatch()), got ${JSON.stringify(options.dispatcher) ?? typeof options.dispatcher}`);
  }

  const missingCredentials = [
    ...(apiKey === undefined ? ['SGP_API_KEY'] : []),
    ...(accountId === undefined ? ['SGP_ACCOUNT_ID'] : []),
  ];
  const disabledReason: DisabledReason | undefined =
    options.disabled === true
      ? 'disabled_by_option'
      : options.disabled === undefined && env.read('DISABLE_SCALE_TRACING') !== undefined
        ? 'DISABLE_SCALE_TRACING'
        : credentialsInvalid
          ? 'invalid_credentials'
          : endpoint === undefined
            ? 'invalid_base_url'
            : missingCredentials.length > 0
              ? 'missing_credentials'
              : undefined;

  const allowInsecureHttp = booleanSetting(options.allowInsecureHttp, env, 'allowInsecureHttp', undefined, false);
  let refusedHttp = false;
  if (disabledReason === undefined && endpoint!.protocol === 'http:' && !LOOPBACK_HOSTS.test(endpoint!.hostname) && !allowInsecureHttp) {
    const message = `Refusing to send the SGP API key over plain http to ${endpoint!.host}: use an https:// base URL, or set allowInsecureHttp: true`;
    if (baseUrlOption !== undefined) throw new SGPConfigError(`Invalid option baseUrl: ${message}`);
    // From the environment: reported, never thrown into the host.
    env.warnings.push(`Invalid environment variable SGP_CLIENT_BASE_URL: ${message}; sgp-otel is disabled`);
    refusedHttp = true;
  }

  const initialBackoffMillis = duration(options.initialBackoffMillis, env, {
    option: 'initialBackoffMillis',
    min: 0,
    fallback: 400,
  });
  return {
    apiKey,
    accountId,
    disabledReason: refusedHttp ? 'invalid_base_url' : disabledReason,
    missingCredentials,
    endpoint: endpoint ?? spansEndpoint(DEFAULT_BASE_URL, 'default base URL'),
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
    captureContent: captureContentSetting(options.captureContent, env),
    mask: maskOption(options.mask),
    maxFieldBytes: wholeNumber(options.maxFieldBytes, env, {
      option: 'maxFieldBytes',
      envVar: 'SGP_MAX_FIELD_BYTES',
      min: 1024,
      fallback: 1024 * 1024,
    }),
    maxBatchBytes: wholeNumber(options.maxBatchBytes, env, { option: 'maxBatchBytes', min: 1024, fallback: 1024 * 1024 }),
    connections: 1,
    proxy: proxySetting(env),
    resourceAttributes: resourceAttributesSetting(options.resourceAttributes, env),
    logLevel: logLevelSetting(options.logLevel, env),
    warnings: env.warnings,
  };
}

function maskOption(mask: unknown): MaskFunction | undefined {
  if (mask === undefined || typeof mask === 'function') return mask as MaskFunction | undefined;
  throw new SGPConfigError(`Invalid option mask: expected a function, got ${JSON.stringify(mask) ?? typeof mask}`);
}

function exportTimeout(options: SGPExporterOptions, env: EnvSource): number {
  return duration(options.exportTimeoutMillis, env, {
    option: 'exportTimeoutMillis',
    envVar: 'SGP_BSP_EXPORT_TIMEOUT',
    min: 1,
    fallback: 30_000,
  });
}

export function resolveProcessorConfig(options: SGPSpanProcessorOptions = {}): ProcessorConfig {
  checkObject(options, 'options');
  const env = new EnvSource(options.env ?? process.env);
  const platform = detectServerless(options.env ?? process.env);
  const maxQueueSize = wholeNumber(options.maxQueueSize, env, {
    option: 'maxQueueSize',
    envVar: 'SGP_BSP_MAX_QUEUE_SIZE',
    min: 1,
    max: MAX_QUEUE_SIZE,
    fallback: 4000,
  });
  let maxExportBatchSize = wholeNumber(options.maxExportBatchSize, env, {
    option: 'maxExportBatchSize',
    envVar: 'SGP_BSP_MAX_EXPORT_BATCH_SIZE',
    min: 1,
    max: SERVER_MAX_ITEMS_PER_REQUEST,
    fallback: Math.min(50, maxQueueSize),
  });
  if (maxExportBatchSize > maxQueueSize) {
    const message = `maxExportBatchSize (SGP_BSP_MAX_EXPORT_BATCH_SIZE): ${maxExportBatchSize} is larger than maxQueueSize (${maxQueueSize})`;
    if (options.maxExportBatchSize !== undefined && options.maxQueueSize !== undefined) throw new SGPConfigError(`Invalid ${message}`);
    env.warnings.push(`Invalid ${message}; using ${maxQueueSize}`);
    maxExportBatchSize = maxQueueSize;
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
    exportOnRootEnd: exportOnRootEndSetting(options.exportOnRootEnd, env, platform),
    platform,
    waitUntil: functionOption(options.waitUntil, 'waitUntil'),
    logLevel: logLevelSetting(options.logLevel, env),
    warnings: env.warnings,
  };
}

/** The spool's settings (`spoolDir`, `spoolMaxBytes`), read apart from the queue's. */
export function resolveSpoolConfig(options: SGPSpanProcessorOptions = {}): SpoolConfig {
  checkObject(options, 'options');
  const env = new EnvSource(options.env ?? process.env);
  return {
    dir: optionalString(options.spoolDir, 'spoolDir') ?? env.read('SGP_SPOOL_DIR'),
    maxBytes: wholeNumber(options.spoolMaxBytes, env, {
      option: 'spoolMaxBytes',
      envVar: 'SGP_SPOOL_MAX_BYTES',
      min: 64 * 1024,
      fallback: DEFAULT_SPOOL_MAX_BYTES,
    }),
    warnings: env.warnings,
  };
}
