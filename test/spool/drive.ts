import { driveUntil } from '../helpers.js';
import type { Rig } from '../faults/rig.js';

/** Shuts the rig's processor down on virtual time (spool writes included), then closes the rig. */
export async function closeRig(rig: Rig): Promise<unknown> {
  let outcome: unknown = 'pending';
  rig.processor.shutdown().then(
    () => (outcome = undefined),
    (error: unknown) => (outcome = error),
  );
  await driveUntil(rig.clock, () => outcome !== 'pending');
  await rig.close();
  return outcome;
}
