import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeRig } from './rig.js';

/** A fault the test server applies to one request; all of them answer before storing anything. */
const fault = fc.oneof(
  fc.constant({ kind: 'status' as const, status: 503 }),
  fc.constant({ kind: 'status' as const, status: 429 }),
  fc.constant({ kind: 'status' as const, status: 500 }),
  fc.constant({ kind: 'status' as const, status: 502 }),
  fc.constant({ kind: 'status' as const, status: 401 }),
  fc.constant({ kind: 'status' as const, status: 422 }),
  fc.constant({ kind: 'drop' as const }),
);

/** What the program does next: end some spans (some poison), flush, or let time pass. */
const step = fc.oneof(
  fc.record({ kind: fc.constant('end' as const), count: fc.integer({ min: 1, max: 90 }), poison: fc.boolean() }),
  fc.record({ kind: fc.constant('flush' as const) }),
  fc.record({ kind: fc.constant('wait' as const), millis: fc.integer({ min: 100, max: 30_000 }) }),
);

describe('random fault schedules against random span streams', () => {
  it('every span is delivered once or counted as dropped, and nothing is left behind', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fault, { maxLength: 25 }), fc.array(step, { minLength: 1, maxLength: 10 }), async (faults, steps) => {
        const rig = await makeRig({ maxQueueSize: 200, maxExportBatchSize: 20, exportTimeoutMillis: 20_000 });
        try {
          rig.server.rejectItems((item) => item.name.startsWith('poison'), 422, 'poison');
          for (const f of faults) {
            if (f.kind === 'drop') rig.server.dropNextConnections(1);
            else rig.server.failNext(1, f.status);
          }
          for (const s of steps) {
            if (s.kind === 'end') {
              rig.end(s.count - 1);
              rig.end(1, s.poison ? 'poison' : 'span');
            } else if (s.kind === 'flush') {
              let done = false;
              void rig.capture(rig.processor.forceFlush()).finally(() => {
                done = true;
              });
              await rig.driveUntil(() => done);
            } else {
              // Time moves only once real I/O has finished, so every run follows the path its schedule says.
              await rig.quiet();
              rig.clock.advance(s.millis);
              await rig.quiet();
            }
          }
          await rig.settle();
          const stats = rig.processor.getStats();
          expect(stats.queued).toBe(0);
          expect(stats.exported + stats.dropped.total).toBe(rig.ended.length);
          expect(rig.server.items.some((i) => i.name.startsWith('poison'))).toBe(false);
          rig.check();
        } finally {
          await rig.close();
        }
      }),
      { numRuns: 40 },
    );
  });
});
