import { nextTurn, quiet } from '../helpers.js';
import type { VirtualClock } from '../helpers.js';
import type { Rig } from '../faults/rig.js';

/** File system requests Node has under way (they run on its thread pool, not as HTTP requests). */
const FS_REQUESTS = /^(FSReq|FileHandle|CloseReq|StatWatcher)/;

function fsBusy(): boolean {
  return process.getActiveResourcesInfo().some((name) => FS_REQUESTS.test(name));
}

/**
 * `quiet(clock)`, and also no file system request under way: the spool's reads and writes are
 * real I/O too, and virtual time must not move while one of them is running.
 */
export async function settled(clock: VirtualClock): Promise<void> {
  for (let calm = 0; calm < 2; ) {
    await quiet(clock);
    if (fsBusy()) {
      calm = 0;
      while (fsBusy()) await nextTurn();
    } else calm += 1;
  }
}

/** driveUntil from the helpers, waiting for file system I/O as well. */
export async function drive(clock: VirtualClock, condition: () => boolean, maxSteps = 20_000): Promise<void> {
  for (let step = 0; step < maxSteps; step += 1) {
    await settled(clock);
    if (condition()) return;
    const due = clock.nextDue();
    if (due === undefined) break;
    clock.advance(Math.max(0, due - clock.now()));
  }
  if (!condition()) throw new Error('drive: the condition never held, and nothing is left to happen');
}

/** Shuts the rig's processor down on virtual time (spool writes included), then closes the rig. */
export async function closeRig(rig: Rig): Promise<unknown> {
  let outcome: unknown = 'pending';
  rig.processor.shutdown().then(
    () => (outcome = undefined),
    (error: unknown) => (outcome = error),
  );
  await drive(rig.clock, () => outcome !== 'pending');
  await rig.close();
  return outcome;
}
