/**
 * One `beforeExit` listener for every processor: Node emits it when the event loop has nothing
 * left to do, which is when a program that never called `shutdown()` would end with spans still
 * queued (our timers are unref'd and never keep it alive). A flush started here adds I/O, so the
 * program runs until it is done and then emits `beforeExit` again.
 */
const flushers = new Set<() => void>();
let listening = false;

function onBeforeExit(): void {
  for (const flush of flushers) flush();
}

/** Calls `flush` on every `beforeExit` until the returned function unregisters it. */
export function registerExitFlush(flush: () => void): () => void {
  flushers.add(flush);
  if (!listening) {
    process.on('beforeExit', onBeforeExit);
    listening = true;
  }
  return () => {
    flushers.delete(flush);
  };
}
