import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, nextTurn } from './helpers.js';
import { makeRig } from './faults/rig.js';
import type { Rig } from './faults/rig.js';

// A real collection, to see which spans anything still holds.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** How many of `refs` still point at a live object after a full collection. */
async function alive(refs: WeakRef<object>[]): Promise<number> {
  // A WeakRef keeps its target until the turn that made or read it is over.
  await nextTurn();
  gc();
  await nextTurn();
  return refs.filter((ref) => ref.deref() !== undefined).length;
}

/** Ends `count` spans through the rig's provider, each watched by a WeakRef. */
function endWatched(on: Rig, count: number, attributes: (i: number) => Record<string, string>): WeakRef<object>[] {
  const tracer = on.provider.getTracer('held-as-bytes');
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < count; i += 1) {
    const span = tracer.startSpan(`llm-${i}`, { attributes: attributes(i) });
    span.end();
    on.ended.push(span.spanContext().spanId);
    refs.push(new WeakRef(span));
  }
  return refs;
}

let rig: Rig | undefined;
afterEach(async () => {
  rig?.server.setResponseDelay(0);
  await rig?.close();
  rig = undefined;
});

describe('spans held as the bytes sent', () => {
  it('a span in flight is held only as its bytes: while SGP takes its time, nothing keeps the span object', async () => {
    rig = await makeRig({ maxExportBatchSize: 50, maxConcurrentExports: 2 });
    rig.server.setResponseDelay(600_000);
    const refs = endWatched(rig, 100, (i) => ({ 'sgp.input': `prompt ${i} ${'x'.repeat(1000)}` }));
    await eventually(() => rig!.server.requests.length === 2);
    expect(rig.processor.getStats()).toMatchObject({ inFlight: 100, queued: 100 });
    expect(await alive(refs)).toBe(0);

    rig.server.setResponseDelay(0);
    await rig.settle();
    expect(rig.processor.getStats()).toMatchObject({ exported: 100, dropped: { total: 0 } });
    expect(rig.server.items.find((item) => item.name === 'llm-42')!.input).toEqual({ value: `prompt 42 ${'x'.repeat(1000)}` });
    rig.check();
  });

  it('an outage holds spans as the bytes first sent: the mask runs once per span, and they arrive as first encoded', async () => {
    const masked: string[] = [];
    rig = await makeRig({
      maxExportBatchSize: 20,
      mask: (value, { field }) => {
        const text = JSON.stringify(value);
        if (field === 'input') masked.push(text);
        return JSON.parse(text.replace(/secret-\d+/g, '[secret]')) as typeof value;
      },
    });
    await rig.down();
    const refs = endWatched(rig, 40, (i) => ({ 'sgp.input': `key secret-${i}` }));
    await rig.driveUntil(() => rig!.processor.getStats().outage && rig!.processor.getStats().inFlight === 0);
    expect(masked.filter((value) => value.includes('key secret-'))).toHaveLength(40);
    expect(rig.processor.getStats()).toMatchObject({ queued: 40, exported: 0 });
    expect(await alive(refs)).toBe(0);

    // Several failed rounds later, SGP is back.
    for (let round = 0; round < 3; round += 1) {
      rig.clock.advance(20_000);
      await rig.quiet();
    }
    await rig.up();
    await rig.settle();
    expect(masked.filter((value) => value.includes('key secret-'))).toHaveLength(40);
    expect(rig.processor.getStats()).toMatchObject({ exported: 40, dropped: { total: 0 }, outage: false });
    expect(rig.server.items.map((item) => item.input)).toEqual(Array.from({ length: 40 }, () => ({ value: 'key [secret]' })));
    rig.check();
  });
});
