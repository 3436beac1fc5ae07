import type { Socket } from 'node:net';
import { Agent, buildConnector, EnvHttpProxyAgent } from 'undici';
import type { Dispatcher } from 'undici';
import type { Clock } from '../clock.js';
import { SGPExportError } from '../errors.js';
import { put } from './put.js';
import { isRetryable, parseRetryAfter } from './retry.js';

/** Error bodies are read up to this many bytes; the rest is discarded unread. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** How much of the server's error text an error message quotes. */
const ERROR_EXCERPT_CHARS = 300;

export type SendResult = { ok: true; status: number } | { ok: false; error: SGPExportError };

export interface TransportOptions {
  endpoint: URL;
  apiKey: string;
  accountId: string;
  headers: Record<string, string>;
  /** When absent the transport makes its own keep-alive agent, and closes it on `close()`. */
  dispatcher: Dispatcher | undefined;
  /** Connections of that agent. */
  connections: number;
  /** HTTP(S)_PROXY / NO_PROXY from the environment: the agent goes through the proxy they name. */
  proxy: { httpProxy?: string; httpsProxy?: string; noProxy?: string } | undefined;
  /** Times each request's deadline. */
  clock: Clock;
  /**
   * The request deadline (`timeoutMillis`), also given to our own agent as its connect and body
   * timeouts: a deadline on the clock cannot end a TCP connect that never completes (the socket
   * would keep the process alive until undici's own 10 s), nor a body still arriving after its 2xx
   * was taken as the answer (the connection would stay busy).
   */
  timeoutMillis: number;
}

/** Why a request was aborted: its own deadline passed, or the exporter is shutting down. */
export const TIMEOUT = Symbol('sgp-otel request timeout');
export const SHUTDOWN = Symbol('sgp-otel shutdown');

/** Sends JSON bodies to the SGP spans endpoint. One instance keeps its connections alive across batches. */
export class SGPTransport {
  /** The endpoint as undici's dispatch takes it. */
  private readonly target: { origin: string; path: string };
  private readonly headers: Record<string, string>;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly clock: Clock;
  /** The sockets of our own agent (see {@link trackingConnector}). */
  private readonly sockets = new Set<Socket>();
  /** The one wait for each socket still sending. */
  private readonly drains = new Map<Socket, Promise<void>>();
  /** Requests that undici may still be writing, by body. */
  private readonly unfinished = new Map<Buffer | string, Set<Promise<void>>>();
  /** Credentials to scrub from any text that came back from the network. */
  private readonly secrets: string[];

  constructor(options: TransportOptions) {
    this.target = { origin: options.endpoint.origin, path: `${options.endpoint.pathname}${options.endpoint.search}` };
    this.clock = options.clock;
    const extra = Object.fromEntries(
      Object.entries(options.headers).filter(([name]) => !RESERVED_HEADERS.has(name.toLowerCase())),
    );
    this.headers = {
      ...extra,
      'content-type': 'application/json',
      'x-api-key': options.apiKey,
      'x-selected-account-id': options.accountId,
    };
    // The key however short; the account id (not a secret, but not for logs either) when it cannot be an ordinary word.
    this.secrets = [options.apiKey, ...(options.accountId.length >= 4 ? [options.accountId] : [])];
    this.ownsDispatcher = options.dispatcher === undefined;
    // A fixed number of connections, one per export the processor runs at once: undici's pool
    // would otherwise open another socket when a batch is sent in the same tick the previous one
    // finished. 15 s keep-alive outlives the 4 s flush cadence, so one TLS handshake serves many batches.
    const timeout = options.timeoutMillis;
    const agentOptions = {
      connections: options.connections,
      keepAliveTimeout: 15_000,
      keepAliveMaxTimeout: 60_000,
      connect: { timeout },
      bodyTimeout: timeout,
    };
    const { proxy } = options;
    // Empty strings, not undefined: undici would otherwise read process.env itself, ignoring the `env` option.
    this.dispatcher =
      options.dispatcher ??
      (proxy
        ? new EnvHttpProxyAgent({ ...agentOptions, httpProxy: proxy.httpProxy ?? '', httpsProxy: proxy.httpsProxy ?? '', noProxy: proxy.noProxy ?? '' })
        : new Agent({ ...agentOptions, connect: this.trackingConnector(timeout) }));
    this.reusesBodies = options.dispatcher === undefined && !proxy;
  }

  /**
   * Whether a body may be used again once {@link whenDone} says so: only with our own direct agent,
   * whose sockets we see. A user's dispatcher might keep a body; a proxy's sockets are not ours.
   */
  readonly reusesBodies: boolean;

  /** undici's connector, noting each socket it makes, so {@link whenDone} can see unsent bytes. */
  private trackingConnector(timeout: number): buildConnector.connector {
    const connect = buildConnector({ timeout });
    return (options, callback) =>
      connect(options, (...result) => {
        const socket = result[1];
        if (socket) {
          this.sockets.add(socket);
          socket.once('close', () => this.sockets.delete(socket));
        }
        callback(...result);
      });
  }

  /**
   * One `PUT` of `body`. Never rejects: failures come back as values. `controller` belongs to this
   * request alone (the caller aborts it with {@link SHUTDOWN}); the deadline aborts it with {@link TIMEOUT}.
   */
  async send(body: Buffer | string, timeoutMillis: number, controller: AbortController): Promise<SendResult> {
    const cancelTimeout = this.clock.schedule(() => controller.abort(TIMEOUT), timeoutMillis);
    const signal = controller.signal;
    try {
      const ended = this.track(body);
      const response = await put(this.dispatcher, { ...this.target, headers: this.headers, body, signal, maxBodyBytes: MAX_ERROR_BODY_BYTES, anyVersion: !this.ownsDispatcher, onEnd: ended });
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      const retryAfterMillis = parseRetryAfter({ 'retry-after-ms': response.retryAfterMs, 'retry-after': response.retryAfter }, this.clock.now());
      return { ok: false, error: httpError(response.status, response.text, response.cut, retryAfterMillis, this.secrets) };
    } catch (error) {
      const failure = requestError(error, signal.reason === SHUTDOWN, signal.reason === TIMEOUT, timeoutMillis, this.secrets);
      return { ok: false, error: failure };
    } finally {
      cancelTimeout();
    }
  }

  /**
   * Resolves true once no request of `body` is in undici's hands and no socket of ours still holds
   * unsent bytes, so its memory may be reused: a server may answer before it has read a body, and
   * the socket then still sends the rest from that very memory. False when that cannot be known
   * ({@link reusesBodies} false) or does not come to pass within a few turns of the event loop.
   */
  async whenDone(body: Buffer | string): Promise<boolean> {
    await Promise.all(this.unfinished.get(body) ?? []);
    if (!this.reusesBodies) return false;
    for (let turn = 0; turn < 100; turn += 1) {
      let busy: Socket | undefined;
      for (const socket of this.sockets) if (!socket.destroyed && socket.writableLength > 0) busy = socket;
      if (busy === undefined) return true;
      // A large write in progress says when it has drained (or its socket closed); a small one is gone in a turn or two.
      if (busy.writableNeedDrain) await this.drained(busy);
      else await this.clock.yield();
    }
    return false;
  }

  /** Resolves when `socket` has sent what it holds, or closed: one wait per socket, however many ask. */
  private drained(socket: Socket): Promise<void> {
    let wait = this.drains.get(socket);
    if (wait === undefined) {
      wait = drainedOrClosed(socket).then(() => {
        this.drains.delete(socket);
      });
      this.drains.set(socket, wait);
    }
    return wait;
  }

  /** Notes a request of `body` in progress; the returned function says it is over. */
  private track(body: Buffer | string): () => void {
    let done = (): void => undefined;
    const over = new Promise<void>((resolve) => (done = resolve));
    const requests = this.unfinished.get(body) ?? new Set<Promise<void>>();
    requests.add(over);
    this.unfinished.set(body, requests);
    return () => {
      done();
      requests.delete(over);
      if (requests.size === 0 && this.unfinished.get(body) === requests) this.unfinished.delete(body);
    };
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close().catch(() => undefined);
  }

  /** Ends requests in flight at once (used when a shutdown runs out of time). */
  async destroy(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.destroy().catch(() => undefined);
  }
}

function drainedOrClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

/**
 * `text` with every occurrence of each secret replaced, for text a server (or a proxy) sent back:
 * as sent, and re-encoded the ways servers quote what they received: in any letter case, with any
 * of its characters percent-encoded (either case of hex, all of them or only some, as Python's
 * `quote` leaves `/`), JSON-escaped (`\uXXXX`, `\/`) or HTML-escaped (`&#47;`, `&#x2f;`, `&amp;`).
 */
export function redact(text: string, secrets: readonly string[]): string {
  const pattern = secretPattern(secrets);
  return pattern === undefined ? text : text.replace(pattern, '[redacted]');
}

/** Patterns made, by the secrets they match: a transport's secrets are one array for its lifetime. */
const secretPatterns = new WeakMap<readonly string[], RegExp | undefined>();

/** One pattern for all of `secrets`, longest first, so a secret that contains another is replaced whole. */
function secretPattern(secrets: readonly string[]): RegExp | undefined {
  if (secretPatterns.has(secrets)) return secretPatterns.get(secrets);
  const alternatives = [...new Set(secrets)]
    .filter((secret) => secret !== '')
    .sort((a, b) => b.length - a.length)
    .map((secret) => Array.from(secret, characterPattern).join(''));
  const pattern = alternatives.length === 0 ? undefined : new RegExp(alternatives.join('|'), 'gi');
  secretPatterns.set(secrets, pattern);
  return pattern;
}

/** The longest text one character of a secret can be re-encoded as (four UTF-8 bytes percent-encoded). */
const LONGEST_ENCODED_CHARACTER = 12;

/** HTML's named references for the characters a key may hold (HTML5 names most punctuation). */
const HTML_NAMED: Readonly<Record<string, readonly string[]>> = {
  '&': ['&amp;?'], '<': ['&lt;?'], '>': ['&gt;?'], '"': ['&quot;?'], "'": ['&apos;'], '+': ['&plus;'], '/': ['&sol;'], '=': ['&equals;'],
  '\\': ['&bsol;'], '%': ['&percnt;'], ':': ['&colon;'], '.': ['&period;'], ',': ['&comma;'], '-': ['&hyphen;', '&dash;'],
  '_': ['&lowbar;', '&UnderBar;'], '?': ['&quest;'], '!': ['&excl;'], '#': ['&num;'], '$': ['&dollar;'], '@': ['&commat;'],
  '*': ['&ast;', '&midast;'], '(': ['&lpar;'], ')': ['&rpar;'], '[': ['&lsqb;', '&lbrack;'], ']': ['&rsqb;', '&rbrack;'],
  '{': ['&lcub;', '&lbrace;'], '}': ['&rcub;', '&rbrace;'], '|': ['&verbar;', '&vert;', '&VerticalLine;'], '~': ['&tilde;'],
  '^': ['&Hat;'], '`': ['&grave;', '&DiacriticalGrave;'], ';': ['&semi;'], ' ': ['&nbsp;', '\\+'],
};
/** Regular-expression sources for the JSON escapes of a quote, a backslash and a slash. */
const JSON_SHORT: Readonly<Record<string, string>> = { '"': '\\\\"', '\\': '\\\\\\\\', '/': '\\\\/' };

function characterPattern(character: string): string {
  const code = character.codePointAt(0)!;
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  const forms = new Set<string>([literalPattern(character)]);
  forms.add(Array.from(Buffer.from(character, 'utf8'), (byte) => `%${hex(byte, 2)}`).join(''));
  if (code <= 0xffff) {
    forms.add(`\\\\u${hex(code, 4)}`);
    forms.add(`%u${hex(code, 4)}`);
  } else {
    forms.add(Array.from({ length: 2 }, (_, i) => `\\\\u${hex(character.charCodeAt(i), 4)}`).join(''));
  }
  // HTML decodes a numeric reference, and the oldest named ones, without their semicolon too.
  forms.add(`&#0*${code};?`);
  forms.add(`&#x0*${hex(code, 1)};?`);
  for (const form of HTML_NAMED[character] ?? []) forms.add(form);
  if (JSON_SHORT[character]) forms.add(JSON_SHORT[character]);
  return `(?:${[...forms].join('|')})`;
}

function literalPattern(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

const RESERVED_HEADERS = new Set(['x-api-key', 'x-selected-account-id', 'content-type', 'content-length', 'host']);

/**
 * The server's own words, shortened: `{"detail": "..."}` is FastAPI's shape, other JSON is quoted
 * decoded, anything else as it came. Every secret is redacted from the whole text, as sent and as
 * decoded, before anything is cut: a cut through a secret would leave a piece no longer matching it.
 */
function excerpt(body: string, cut: boolean, secrets: readonly string[]): string {
  // A body cut at the read limit may end in the first part of a secret, which matches nothing: drop
  // as much of its end as the longest secret, re-encoded, could leave.
  const longest = Math.max(0, ...secrets.map((secret) => secret.length));
  const text = cut ? body.slice(0, Math.max(0, body.length - longest * LONGEST_ENCODED_CHARACTER)) : body;
  let message = redact(text.trim(), secrets);
  try {
    const parsed: unknown = JSON.parse(text);
    const detail = parsed && typeof parsed === 'object' && 'detail' in parsed ? (parsed as { detail: unknown }).detail : parsed;
    message = redact(typeof detail === 'string' ? detail : JSON.stringify(detail), secrets);
  } catch {
    // Not JSON (or cut at the read cap): quote the text, minus the start of a cut-off {"detail": "...
    message = message.replace(/^\{\s*"detail"\s*:\s*"/, '');
  }
  message = redact(message.replace(/\s+/g, ' '), secrets);
  return message.length > ERROR_EXCERPT_CHARS ? `${message.slice(0, ERROR_EXCERPT_CHARS)}...` : message;
}

function httpError(status: number, body: string, cut: boolean, retryAfterMillis: number | undefined, secrets: readonly string[]): SGPExportError {
  const said = excerpt(body, cut, secrets);
  const failure = { kind: 'http' as const, status, retryAfterMillis };
  const redirect = status >= 300 && status < 400 ? ' (a redirect, not followed: check baseUrl)' : '';
  return new SGPExportError(`SGP answered HTTP ${status}${redirect}${said ? `: ${said}` : ''}`, {
    ...failure,
    retryable: isRetryable(failure),
  });
}

function requestError(
  error: unknown,
  shutdown: boolean,
  timedOut: boolean,
  timeoutMillis: number,
  secrets: readonly string[],
): SGPExportError {
  if (timedOut) {
    return new SGPExportError(`SGP request timed out after ${timeoutMillis} ms`, { kind: 'timeout', retryable: true });
  }
  if (shutdown) {
    return new SGPExportError('SGP request aborted: the exporter is shutting down', {
      kind: 'shutdown',
      retryable: false,
    });
  }
  const cause = error as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code =
    typeof cause?.code === 'string' ? cause.code : typeof cause?.cause?.code === 'string' ? cause.cause.code : undefined;
  const message = typeof cause?.message === 'string' ? cause.message : String(error);
  const failure = { kind: 'network' as const, code };
  return new SGPExportError(`SGP request failed: ${redact(message, secrets)}`, { ...failure, retryable: isRetryable(failure) });
}
