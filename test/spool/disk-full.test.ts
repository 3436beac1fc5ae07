import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { makeRig } from '../faults/rig.js';
import type { Rig } from '../faults/rig.js';
import { driveUntil, quiet } from '../helpers.js';
import { closeRig } from './drive.js';

// A real full disk: a 192 KiB tmpfs, where the system allows mounting one (root in a container
// with CAP_SYS_ADMIN); elsewhere the test is skipped and the injected ENOSPC test in
// format.test.ts covers the directory's side.

let dir: string;
let mounted = false;
let rig: Rig | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sgp-spool-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=192k', 'tmpfs', dir], { stdio: 'ignore' });
    mounted = true;
  } catch {
    mounted = false;
  }
});
afterEach(async () => {
  if (rig) await closeRig(rig);
  rig = undefined;
  if (mounted) execFileSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
});

it('the disk fills up mid-outage (ENOSPC on a tiny tmpfs): one warning, memory holding takes over, and every span still arrives', async (context) => {
  if (!mounted) context.skip();
  rig = await makeRig({ spoolDir: dir, maxAttempts: 1, maxQueueSize: 2000, maxExportBatchSize: 20 });
  await quiet(rig.clock);
  await rig.down();
  const payload = { 'sgp.input': JSON.stringify({ text: 'x'.repeat(4000) }) };
  for (let round = 0; round < 40; round += 1) {
    rig.end(20, 'big', payload);
    await driveUntil(rig.clock, () => rig!.processor.getStats().queued === 0 || !rig!.processor.getStats().spool!.writable);
  }
  const during = rig.processor.getStats();
  expect(during.spool!.writable).toBe(false);
  expect(during.spooled).toBeGreaterThan(0);
  expect(during.spooled).toBeLessThan(800);
  expect(during.queued).toBe(800 - during.spooled);
  expect(during.dropped.total).toBe(0);
  expect(rig.diag.at('warn').filter((w) => w.includes('is off'))).toEqual([expect.stringContaining('cannot write (ENOSPC')]);

  await rig.up();
  await driveUntil(rig.clock, () => rig!.processor.getStats().queued === 0 && rig!.processor.getStats().replayed === during.spooled);
  const after = rig.processor.getStats();
  expect(after).toMatchObject({ received: 800, exported: 800 - during.spooled, dropped: { total: 0 }, spool: { dropped: { total: 0 } } });
  expect(new Set(rig.server.items.map((item) => item.id))).toEqual(new Set(rig.ended));
});
