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
});
