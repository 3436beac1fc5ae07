import { describe, expect, it } from 'vitest';
import { BodyPool } from '../src/delivery/body-pool.js';
import { EncodeTurns, YIELD_AFTER_BYTES } from '../src/delivery/encode-turns.js';
import { RequestWriter } from '../src/delivery/request-writer.js';
import { requestChunks } from '../src/delivery/encode.js';
import type { EncodedText } from '../src/delivery/request-writer.js';
import { systemClock } from '../src/clock.js';
import { countTurns } from './helpers.js';

const text = (index: number, value: string): EncodedText => {
  const json = JSON.stringify({ id: String(index), value });
  return { index, json, bytes: Buffer.byteLength(json) };
};

describe('RequestWriter', () => {
  it('writes items into bodies of at most maxBatchBytes, growing a body whose first items were small, each record a view of its bytes', () => {
    const pool = new BodyPool();
    const writer = new RequestWriter(300_000, pool);
    // A small first item sizes the body for ten like it; the large ones after it make it grow.
    const values = ['tiny', 'é'.repeat(60_000), 'x'.repeat(100_000), 'y'.repeat(100_000), 'z'.repeat(5000), 'w'];
    values.forEach((value, i) => writer.write(text(i, value), values.length - i));
    const chunks = writer.finish();
    expect(chunks.map((chunk) => chunk.records.map((record) => record.index))).toEqual([[0, 1, 2], [3, 4, 5]]);
    for (const chunk of chunks) {
      const parsed = JSON.parse(chunk.body.toString()) as { items: { id: string; value: string }[] };
      expect(parsed.items.map((item) => item.value)).toEqual(chunk.records.map((record) => values[record.index]));
      expect(chunk.body.length).toBeLessThanOrEqual(300_000);
      for (const record of chunk.records) expect(JSON.parse(record.body.toString()).value).toBe(values[record.index]);
      expect(chunk.viewed).toBe(true);
    }
  });

  it('counts the envelope ({"items":[ ... ]}) against maxBatchBytes: no body is larger', () => {
    const writer = new RequestWriter(1024, new BodyPool());
    // Two items whose bytes plus a comma each come to exactly 1024: with the envelope, 1035.
    const first = text(0, 'a'.repeat(500 - text(0, '').bytes));
    const second = text(1, 'b'.repeat(522 - text(1, '').bytes));
    expect([first.bytes, second.bytes]).toEqual([500, 522]);
    writer.write(first, 2);
    writer.write(second, 1);
    const chunks = writer.finish();
    expect(chunks.map((chunk) => chunk.records.length)).toEqual([1, 1]);
    expect(Math.max(...chunks.map((chunk) => chunk.body.length))).toBeLessThanOrEqual(1024);
    expect(requestChunks([{ body: Buffer.alloc(500) }, { body: Buffer.alloc(522) }], 1024)).toHaveLength(2);
  });

  it('puts a single item larger than maxBatchBytes in a body of its own, and 1000 items at most in one body', () => {
    const writer = new RequestWriter(4 * 1024 * 1024, undefined);
    for (let i = 0; i < 1001; i += 1) writer.write(text(i, 'v'), 1001 - i);
    writer.write(text(1001, 'h'.repeat(5 * 1024 * 1024)), 1);
    const chunks = writer.finish();
    expect(chunks.map((chunk) => chunk.records.length)).toEqual([1000, 1, 1]);
    expect(JSON.parse(chunks[2]!.body.toString()).items[0].value).toHaveLength(5 * 1024 * 1024);
    expect(chunks.every((chunk) => !chunk.viewed)).toBe(true);
  });
});

describe('EncodeTurns', () => {
  it('lets one export encode in a turn of the event loop once it has a slice of work to do, the others in order on later turns', async () => {
    const line = new EncodeTurns(systemClock);
    const loop = countTurns();
    const worked: [string, number][] = [];
    const worker = async (name: string) => {
      await line.enter();
      for (let slice = 0; slice < 3; slice += 1) {
        if (slice > 0) await line.pass();
        worked.push([name, loop.now()]);
        line.spend(YIELD_AFTER_BYTES);
      }
      line.leave();
    };
    await Promise.all(['a', 'b', 'c'].map(worker));
    loop.stop();
    expect(worked.map(([name]) => name).join('')).toBe('abcabcabc');
    expect(new Set(worked.map(([, turn]) => turn)).size).toBe(9);
  });

  it('hands over within the turn while its share of work is not used up', async () => {
    const line = new EncodeTurns(systemClock);
    const loop = countTurns();
    const worked: number[] = [];
    await Promise.all(
      [0, 1, 2].map(async () => {
        await line.enter();
        worked.push(loop.now());
        line.spend(1024);
        line.leave();
      }),
    );
    loop.stop();
    expect(worked).toHaveLength(3);
    expect(new Set(worked).size).toBe(1);
  });
});
