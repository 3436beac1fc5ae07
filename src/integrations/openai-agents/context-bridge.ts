/**
 * The OpenTelemetry context inside Agents spans. The Agents SDK keeps its current trace and span in
 * an async storage of its own, shared through a global symbol and replaceable with its
 * `setTracingContextStorage`; OpenTelemetry keeps its context in another. Left alone, code inside a
 * tool sees the OpenTelemetry context of the caller of `run()`, so its spans skip the tool's span.
 *
 * The bridge wraps the Agents storage: every scope the SDK opens with `run()` (a trace, a
 * `with*Span` helper, a runner invocation) also runs in an OpenTelemetry context whose active span
 * is, when read, the OpenTelemetry span of the Agents span current in that scope. It also keeps
 * what each `with*Span` scope returns, for a span that ends before its work does.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context as otelContext, trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';

/** Where the Agents SDK (agents-core 0.14) looks its storage up, across copies of the package. */
const AGENTS_STORAGE = Symbol.for('openai.agents.core.asyncLocalStorage');

/** The Agents SDK's store, as read here. */
export interface AgentsContextStore {
  active?: boolean;
  trace?: { traceId: string };
  span?: { spanId: string; parentId: string | null };
}

/** What a processor answers the bridge. */
export interface BridgeClient {
  /** The OpenTelemetry span to be active where `store` is the Agents context, if this client has one. */
  spanInside(store: AgentsContextStore): Span | undefined;
}

/** The Agents SDK's `TracingContextStorage`. */
interface AgentsStorage {
  run<T>(store: unknown, callback: () => T): T;
  getStore(): unknown;
  enterWith(store: unknown): void;
}

export class AgentsContextBridge implements AgentsStorage {
  readonly clients = new Set<BridgeClient>();
  /** What each `with*Span` scope returns, by the Agents span it opened. */
  private readonly scopes = new WeakMap<object, Promise<unknown>>();

  constructor(private readonly inner: AgentsStorage) {}

  run<T>(store: unknown, callback: () => T): T {
    if (this.clients.size === 0 || !isStore(store)) return this.inner.run(store, callback);
    const before = store.span;
    const inside = new AgentsSpanContext(otelContext.active(), store, this);
    const result = otelContext.with(inside, () => this.inner.run(store, callback));
    // A `with*Span` helper makes its span current before its first await: a span current now
    // that was not before is the scope's own.
    const opened = store.span;
    if (opened && opened !== before && result instanceof Promise) this.scopes.set(opened, result);
    return result;
  }

  getStore(): unknown {
    return this.inner.getStore();
  }

  enterWith(store: unknown): void {
    this.inner.enterWith(store);
  }

  /**
   * What the `with*Span` scope that opened `agentsSpan` returns. The helper ends the span just
   * before its scope returns, whatever it returns: a generator's work is still to come.
   */
  scopeOf(agentsSpan: object): Promise<unknown> | undefined {
    return this.scopes.get(agentsSpan);
  }

  spanInside(store: AgentsContextStore): Span | undefined {
    for (const client of this.clients) {
      const span = client.spanInside(store);
      if (span) return span;
    }
    return undefined;
  }
}

/**
 * Registers `client` with the bridge, installing the bridge around the Agents storage first if it
 * is not there yet. Returns the bridge, whose `clients` the caller leaves on shutdown.
 */
export function agentsContextBridge(): AgentsContextBridge {
  const scope = globalThis as Record<symbol, unknown>;
  const current = scope[AGENTS_STORAGE];
  if (current instanceof AgentsContextBridge) return current;
  // Another copy of this module (ES module beside CommonJS) installed its own: use it as it is.
  if (isBridge(current)) return current;
  const inner = isStorage(current) ? current : new AsyncLocalStorage<unknown>();
  const bridge = new AgentsContextBridge(inner);
  Object.defineProperty(scope, AGENTS_STORAGE, { value: bridge, writable: true, configurable: true });
  return bridge;
}

/**
 * An OpenTelemetry context that reads the active span from the Agents store each time it is asked,
 * since the SDK changes its store's current span in place as spans start and end. Every other
 * value comes from the context the scope started in.
 */
class AgentsSpanContext implements Context {
  private span: Span | undefined;
  private resolved: Context;

  constructor(
    private readonly base: Context,
    private readonly store: AgentsContextStore,
    private readonly bridge: AgentsContextBridge,
  ) {
    this.resolved = base;
  }

  getValue(key: symbol): unknown {
    return this.current().getValue(key);
  }

  setValue(key: symbol, value: unknown): Context {
    return this.current().setValue(key, value);
  }

  deleteValue(key: symbol): Context {
    return this.current().deleteValue(key);
  }

  private current(): Context {
    const span = this.store.active === true ? this.bridge.spanInside(this.store) : undefined;
    if (span !== this.span) {
      this.span = span;
      this.resolved = span ? trace.setSpan(this.base, span) : this.base;
    }
    return this.resolved;
  }
}

function isStore(value: unknown): value is AgentsContextStore {
  return value !== null && typeof value === 'object';
}

function isStorage(value: unknown): value is AgentsStorage {
  const storage = value as Partial<AgentsStorage> | null | undefined;
  return typeof storage?.run === 'function' && typeof storage.getStore === 'function' && typeof storage.enterWith === 'function';
}

function isBridge(value: unknown): value is AgentsContextBridge {
  const bridge = value as Partial<AgentsContextBridge> | null | undefined;
  return isStorage(value) && bridge?.clients instanceof Set && typeof bridge.scopeOf === 'function' && typeof bridge.spanInside === 'function';
}
