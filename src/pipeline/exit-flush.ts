/**
 * One `beforeExit` listener for every processor: Node emits it when the event loop has nothing
 * left to do, which is when a program that never called `shutdown()` would end with spans still
 * queued (our timers are unref'd and never keep it alive). A flush started here keeps the process
 * alive until it settles, and then Node emits `beforeExit` again.
 *
 * The registry holds processors weakly: one that is dropped without `shutdown()` can still be
 * garbage-collected.
 */
interface Entry {
  owner: WeakRef<object>;
  flush: (owner: object) => void;
}

const entries = new Set<Entry>();
let listening = false;
let pruneAt = 64;

function onBeforeExit(): void {
  for (const entry of entries) {
    const owner = entry.owner.deref();
    if (owner === undefined) entries.delete(entry);
    else entry.flush(owner);
  }
}

/** Calls `flush(owner)` on every `beforeExit` while `owner` is alive, until the returned function unregisters it. */
export function registerExitFlush<T extends object>(owner: T, flush: (owner: T) => void): () => void {
  const entry: Entry = { owner: new WeakRef(owner), flush: flush as (owner: object) => void };
  entries.add(entry);
  if (entries.size >= pruneAt) {
    for (const other of entries) if (other.owner.deref() === undefined) entries.delete(other);
    pruneAt = Math.max(64, entries.size * 2);
  }
  if (!listening) {
    process.on('beforeExit', onBeforeExit);
    listening = true;
  }
  return () => {
    entries.delete(entry);
  };
}

/** How many processors the registry still lists (collected ones are pruned as it grows). */
export function exitFlushRegistrations(): number {
  return entries.size;
}
