import { describe, expect, it } from 'vitest';
import { ByteSlab } from '../src/delivery/byte-slab.js';

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

  it('writes new texts into a slab again only once every text written there was released', () => {
    const slab = new ByteSlab(100);
    const first = [slab.write('a'.repeat(60), 60), slab.write('b'.repeat(30), 30)];
    // The next text does not fit: a second slab, while the first still has texts out.
    const second = slab.write('c'.repeat(60), 60);
    expect(second.buffer).not.toBe(first[0]!.buffer);
    slab.release(first[0]!);
    // One text of the first slab is still out: a third slab, never the first.
    const third = slab.write('d'.repeat(60), 60);
    expect([first[0]!.buffer, second.buffer]).not.toContain(third.buffer);
    expect(first[1]!.toString()).toBe('b'.repeat(30));
    // Every text of the first slab released: the next slab needed is the first one, written again.
    slab.release(first[1]!);
    const fourth = slab.write('e'.repeat(60), 60);
    expect(fourth.buffer).toBe(first[0]!.buffer);
    expect(fourth.toString()).toBe('e'.repeat(60));
    expect(second.toString()).toBe('c'.repeat(60));
  });
});

