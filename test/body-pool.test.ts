import { describe, expect, it } from 'vitest';
import { BodyPool } from '../src/delivery/body-pool.js';

describe('BodyPool', () => {
  it('gives a body back to the next request large enough for it, and keeps only so many bytes', () => {
    const pool = new BodyPool(8 * 1024 * 1024);
    const first = pool.take(3 * 1024 * 1024);
    expect(first.length).toBe(3 * 1024 * 1024);
    pool.give(first);
    const again = pool.take(2 * 1024 * 1024);
    expect(again.buffer).toBe(first.buffer);
    expect(again.length).toBe(2 * 1024 * 1024);
    // Nothing kept is large enough: a new one.
    expect(pool.take(9 * 1024 * 1024).buffer).not.toBe(first.buffer);
    // Three bodies of 3 MiB given back: the pool keeps two (6 of its 8 MiB).
    const given = [pool.take(3 * 1024 * 1024), pool.take(3 * 1024 * 1024), pool.take(3 * 1024 * 1024)];
    for (const body of given) pool.give(body);
    const buffers = new Set(given.map((body) => body.buffer));
    expect([pool.take(1), pool.take(1), pool.take(1)].filter((body) => buffers.has(body.buffer))).toHaveLength(2);
  });

  it('gives a small request the smallest kept buffer that fits, leaving the large one for a large request', () => {
    const pool = new BodyPool();
    const large = pool.take(5 * 1024 * 1024);
    const small = pool.take(100 * 1024);
    pool.give(large);
    pool.give(small);
    expect(pool.take(90 * 1024).buffer).toBe(small.buffer);
    expect(pool.take(4 * 1024 * 1024).buffer).toBe(large.buffer);
  });
});

