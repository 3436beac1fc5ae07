import { describe, expect, it } from 'vitest';
import { BodyPool, ByteSlab } from '../src/delivery/byte-slab.js';

describe('ByteSlab', () => {
  it('writes texts one after another into one allocation, each view holding exactly its UTF-8 bytes', () => {
    const slab = new ByteSlab(1024);
    const texts = ['{"a":"é"}', '{"b":"😀"}', 'x'.repeat(300)];
    const views = texts.map((text) => slab.write(text, Buffer.byteLength(text)));
    views.forEach((view, i) => expect(view.toString('utf8')).toBe(texts[i]));
    expect(new Set(views.map((view) => view.buffer)).size).toBe(1);
    expect(views[1]!.byteOffset).toBe(views[0]!.byteOffset + views[0]!.length);
  });

  it('starts a new slab when a text does not fit, leaving the earlier views intact; a text larger than a slab gets its own', () => {
    const slab = new ByteSlab(100);
    const first = slab.write('a'.repeat(80), 80);
    const second = slab.write('b'.repeat(50), 50);
    const huge = slab.write('c'.repeat(500), 500);
    expect(second.buffer).not.toBe(first.buffer);
    expect(huge.buffer).not.toBe(second.buffer);
    expect(first.toString()).toBe('a'.repeat(80));
    expect(second.toString()).toBe('b'.repeat(50));
    expect(huge.toString()).toBe('c'.repeat(500));
  });

  it('allocates request bodies from the same slab as texts, and a body larger than a slab on its own', () => {
    const slab = new ByteSlab(1024);
    const text = slab.write('{"a":1}', 7);
    const body = slab.allocate(500);
    const large = slab.allocate(4096);
    expect(body.length).toBe(500);
    expect(body.buffer).toBe(text.buffer);
    expect(body.byteOffset).toBe(text.byteOffset + 7);
    expect(large.length).toBe(4096);
    expect(large.buffer).not.toBe(text.buffer);
    // The slab goes on after a large body: the next small piece still shares it.
    expect(slab.allocate(10).buffer).toBe(text.buffer);
  });
});

describe('BodyPool', () => {
  it('gives a body back to the next request large enough for it, and keeps only a few', () => {
    const pool = new BodyPool(2);
    const first = pool.take(3 * 1024 * 1024);
    expect(first.length).toBe(3 * 1024 * 1024);
    pool.give(first);
    const again = pool.take(2 * 1024 * 1024);
    expect(again.buffer).toBe(first.buffer);
    expect(again.length).toBe(2 * 1024 * 1024);
    // Nothing kept is large enough: a new one.
    expect(pool.take(9 * 1024 * 1024).buffer).not.toBe(first.buffer);
    const given = [pool.take(1024), pool.take(1024), pool.take(1024)];
    for (const body of given) pool.give(body);
    // Of the three given back, the pool kept two.
    const buffers = new Set(given.map((body) => body.buffer));
    expect([pool.take(1), pool.take(1), pool.take(1)].filter((body) => buffers.has(body.buffer))).toHaveLength(2);
  });
});

