import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs/promises';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../src/log.js';
import { SpoolDirectory } from '../../src/spool/directory.js';
import type { SpoolDirectoryOptions, SpoolFs } from '../../src/spool/directory.js';
import { SEGMENT_MAGIC, frameRecords, parseSegment } from '../../src/spool/segment.js';
import { virtualClock } from '../helpers.js';

// The spool's file format and directory, on real files in a temporary directory.

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sgp-spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const item = (i: number) => Buffer.from(JSON.stringify({ id: i.toString(16).padStart(16, '0'), name: `span-${i}`, start_timestamp: '2026-11-29T12:00:00.000001Z' }));

interface Spy {
  warnings: string[];
  losses: { reason: string; items: number; detail: string }[];
}

function directory(options: Partial<SpoolDirectoryOptions> = {}, spy: Spy = { warnings: [], losses: [] }): SpoolDirectory {
  const log: Logger = { error: () => undefined, warn: (m) => spy.warnings.push(m), info: () => undefined, debug: () => undefined };
  return new SpoolDirectory({
    dir,
    maxBytes: 1024 * 1024,
    clock: virtualClock(),
    log,
    onLoss: (reason, items, detail) => spy.losses.push({ reason, items, detail }),
    ...options,
  });
}

describe('segment format', () => {
  it('reads back every record, byte for byte, in the order written', () => {
    const items = [item(1), Buffer.from('{"unicode":"\u00e9\u4e2d"}'), Buffer.from('{}'), item(2)];
    const parsed = parseSegment(Buffer.concat([SEGMENT_MAGIC, frameRecords(items)]));
    expect(parsed).toEqual({ records: items, skippedBytes: 0, damaged: 0, lost: 0, foreign: false });
  });

  it('a torn last record (the process killed mid-write) is skipped and measured, the records before it kept', () => {
    const whole = Buffer.concat([SEGMENT_MAGIC, frameRecords([item(1), item(2), item(3)])]);
    for (const cut of [1, 5, 8, 20, item(3).length + 7]) {
      const parsed = parseSegment(whole.subarray(0, whole.length - cut));
      expect(parsed.records).toEqual([item(1), item(2)]);
      expect(parsed.skippedBytes).toBe(item(3).length + 8 - cut);
    }
  });

  it('a flipped byte in a payload fails its checksum: that record alone is skipped, the ones after it are read', () => {
    const whole = Buffer.concat([SEGMENT_MAGIC, frameRecords([item(1), item(2), item(3)])]);
    const flipped = Buffer.from(whole);
    const inSecond = SEGMENT_MAGIC.length + 8 + item(1).length + 8 + 3;
    flipped[inSecond] ^= 0x20;
    const parsed = parseSegment(flipped);
    expect(parsed.records).toEqual([item(1), item(3)]);
    expect(parsed).toMatchObject({ skippedBytes: item(2).length + 8, damaged: 1 });
  });

  it('a garbage length field: reading resumes at the next whole record', () => {
    const records = [item(1), item(2), item(3), item(4)];
    const whole = Buffer.concat([SEGMENT_MAGIC, frameRecords(records)]);
    const second = SEGMENT_MAGIC.length + 8 + item(1).length;
    for (const length of [0xffffffff, 3, item(2).length + 1, 0]) {
      const broken = Buffer.from(whole);
      broken.writeUInt32BE(length, second);
      const parsed = parseSegment(broken);
      expect(parsed.records).toEqual([item(1), item(3), item(4)]);
      expect(parsed).toMatchObject({ skippedBytes: item(2).length + 8, damaged: 1 });
    }
  });

  it('a stretch of zeros over two records (a lost page): the records around it are read, the stretch counted once', () => {
    const records = [item(1), item(2), item(3), item(4), item(5)];
    const whole = Buffer.concat([SEGMENT_MAGIC, frameRecords(records)]);
    const from = SEGMENT_MAGIC.length + 8 + item(1).length + 5;
    const to = SEGMENT_MAGIC.length + 3 * (8 + item(1).length) + 6;
    const zeroed = Buffer.from(whole);
    zeroed.fill(0, from, to);
    const parsed = parseSegment(zeroed);
    expect(parsed.records).toEqual([item(1), item(5)]);
    expect(parsed.damaged).toBe(1);
    expect(parsed.skippedBytes).toBe(3 * (8 + item(1).length));
  });

  it('a damaged magic costs no record: every frame after it is read', () => {
    const records = Array.from({ length: 50 }, (_, i) => item(i));
    const broken = Buffer.concat([SEGMENT_MAGIC, frameRecords(records)]);
    broken[2] ^= 0x01;
    expect(parseSegment(broken)).toEqual({ records, skippedBytes: SEGMENT_MAGIC.length, damaged: 1, lost: 0, foreign: false });
  });

  it('a damaged stretch without length fields counts the records it held, estimated from the whole ones around it', () => {
    const records = Array.from({ length: 100 }, (_, i) => item(1000 + i));
    const whole = Buffer.concat([SEGMENT_MAGIC, frameRecords(records)]);
    const frame = 8 + records[0]!.length;
    const zeroed = Buffer.from(whole);
    // Records 10 to 39 (and the first bytes of record 40) zeroed, like a lost stretch of pages.
    zeroed.fill(0, SEGMENT_MAGIC.length + 10 * frame, SEGMENT_MAGIC.length + 40 * frame + 6);
    const parsed = parseSegment(zeroed);
    expect(parsed.records).toEqual([...records.slice(0, 10), ...records.slice(41)]);
    expect(parsed).toMatchObject({ damaged: 1, lost: 31, skippedBytes: 31 * frame });
  });

  it('a segment with no whole record left counts the records its bytes held, estimated from the size of records written lately', () => {
    const records = Array.from({ length: 100 }, (_, i) => item(1000 + i));
    const framed = frameRecords(records);
    const zeroedAfterMagic = Buffer.concat([SEGMENT_MAGIC, Buffer.alloc(framed.length)]);
    const typical = framed.length / records.length;
    expect(parseSegment(zeroedAfterMagic, typical)).toMatchObject({ records: [], damaged: 1, lost: 100, foreign: false });
    expect(parseSegment(Buffer.alloc(SEGMENT_MAGIC.length + framed.length), typical)).toMatchObject({ records: [], lost: 100, foreign: true });
    // Without a size to go by, still never 0.
    expect(parseSegment(Buffer.alloc(5000)).lost).toBe(1);
  });

  it('a file cut inside its magic is empty, a file with another magic is foreign', () => {
    expect(parseSegment(SEGMENT_MAGIC.subarray(0, 3))).toEqual({ records: [], skippedBytes: 0, damaged: 0, lost: 0, foreign: false });
    expect(parseSegment(Buffer.from('not a segment at all'))).toMatchObject({ records: [], foreign: true, skippedBytes: 20 });
  });
});

describe('spool directory', () => {
  it('appends, seals, claims and finishes: the bytes come back identical and the file goes', async () => {
    const spool = directory();
    await spool.ready;
    expect(await spool.append([item(1), item(2)])).toEqual(['written', 'written']);
    expect(await spool.append([item(3)])).toEqual(['written']);
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/^\d{15}-[0-9a-f]{8}\..+_\d+_[0-9a-f]+\.open$/)]);
    const claim = await spool.claimNext();
    expect(claim?.records).toEqual([item(1), item(2), item(3)]);
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/\.claimed$/)]);
    await spool.finish(claim!);
    expect(readdirSync(dir)).toEqual([]);
    expect(await spool.claimNext()).toBeUndefined();
  });

  it('a released claim is replayed again whole, by anyone (at-least-once)', async () => {
    const spool = directory();
    await spool.append([item(1)]);
    const claim = await spool.claimNext();
    await spool.release(claim!);
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/^\d{15}-[0-9a-f]{8}\.seg$/)]);
    const other = directory();
    expect((await other.claimNext())?.records).toEqual([item(1)]);
  });

  it('a torn segment: the whole records are replayed, the torn tail is skipped and counted once', async () => {
    const spy: Spy = { warnings: [], losses: [] };
    const writer = directory();
    await writer.append([item(1), item(2)]);
    await writer.close();
    const [sealed] = readdirSync(dir);
    appendFileSync(join(dir, sealed!), frameRecords([item(3)]).subarray(0, 15));
    const reader = directory({}, spy);
    const claim = await reader.claimNext();
    expect(claim?.records).toEqual([item(1), item(2)]);
    expect(spy.losses).toEqual([{ reason: 'corrupt', items: 1, detail: expect.stringContaining('15 damaged bytes in 1 place') }]);
  });

  it('oldest segments go first when the budget is reached, each counted as spoolFull with its items', async () => {
    const spy: Spy = { warnings: [], losses: [] };
    const clock = virtualClock();
    const spool = directory({ maxBytes: 64 * 1024, segmentBytes: 8 * 1024, clock }, spy);
    let written = 0;
    for (let i = 0; i < 1000; i += 1) {
      clock.advance(1000);
      expect(await spool.append([item(i)])).toEqual(['written']);
      written += 1;
      const bytes = readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
      expect(bytes).toBeLessThanOrEqual(64 * 1024);
    }
    const evicted = spy.losses.reduce((sum, loss) => sum + loss.items, 0);
    expect(spy.losses.every((loss) => loss.reason === 'spoolFull')).toBe(true);
    expect(evicted).toBeGreaterThan(0);
    // What is left is exactly the newest items, oldest first.
    const left: Buffer[] = [];
    for (let claim = await spool.claimNext(); claim; claim = await spool.claimNext()) {
      left.push(...claim.records);
      await spool.finish(claim);
    }
    expect(left.length).toBe(written - evicted);
    expect(left).toEqual(Array.from({ length: left.length }, (_, k) => item(written - left.length + k)));
  });

  it('one batch larger than the whole budget: the newest items that fit are kept, the older ones counted spoolFull, nothing lost unaccounted', async () => {
    const spy: Spy = { warnings: [], losses: [] };
    const spool = directory({ maxBytes: 8 * 1024, segmentBytes: 2 * 1024 }, spy);
    const batch = Array.from({ length: 400 }, (_, i) => item(i));
    expect(await spool.append(batch)).toEqual(batch.map(() => 'written'));
    const bytes = readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
    expect(bytes).toBeLessThanOrEqual(8 * 1024);
    const left: Buffer[] = [];
    for (let claim = await spool.claimNext(); claim; claim = await spool.claimNext()) {
      left.push(...claim.records);
      await spool.finish(claim);
    }
    const evicted = spy.losses.reduce((sum, loss) => sum + loss.items, 0);
    expect(spy.losses.every((loss) => loss.reason === 'spoolFull')).toBe(true);
    expect(left.length).toBeGreaterThan(40);
    expect(evicted + left.length).toBe(400);
    expect(left).toEqual(batch.slice(400 - left.length));
  });

  it('an item larger than the budget is not spooled (the caller keeps it), with one warning; the rest of its batch is', async () => {
    const spy: Spy = { warnings: [], losses: [] };
    const spool = directory({ maxBytes: 4 * 1024 }, spy);
    const huge = Buffer.from(JSON.stringify({ id: 'huge', text: 'x'.repeat(5000) }));
    expect(await spool.append([item(1), huge, item(2)])).toEqual(['written', 'full', 'written']);
    expect(await spool.append([huge])).toEqual(['full']);
    expect(spy.warnings).toEqual([expect.stringMatching(/an item of 5\d{3} bytes is larger than spoolMaxBytes \(4096\)/)]);
    expect((await spool.claimNext())?.records).toEqual([item(1), item(2)]);
  });

  it('a segment that cannot be claimed (EPERM: another user\'s, immutable) is skipped with one warning; the ones after it are replayed', async () => {
    const spy: Spy = { warnings: [], losses: [] };
    const writer = directory();
    for (const i of [1, 2, 3]) {
      await writer.append([item(i)]);
      await writer.close();
    }
    const [stuck] = readdirSync(dir).sort();
    const immovable: SpoolFs = {
      ...fs,
      rename: (async (from: string, to: string) => {
        if (from.endsWith(stuck!)) throw Object.assign(new Error(`EPERM: operation not permitted, rename '${from}'`), { code: 'EPERM' });
        return fs.rename(from, to);
      }) as SpoolFs['rename'],
    };
    const reader = directory({ fs: immovable }, spy);
    const got: Buffer[] = [];
    for (let claim = await reader.claimNext(); claim; claim = await reader.claimNext()) {
      got.push(...claim.records);
      await reader.finish(claim);
    }
    expect(got).toEqual([item(2), item(3)]);
    expect(spy.warnings).toEqual([expect.stringContaining(`cannot claim ${stuck} (EPERM: operation not permitted`)]);
    expect(readdirSync(dir)).toEqual([stuck]);
  });

  it('two processes sharing a directory never claim the same segment', async () => {
    const writer = directory({ segmentBytes: 64 * 1024 });
    for (let s = 0; s < 30; s += 1) {
      await writer.append([item(s)]);
      await writer.close();
    }
    expect(readdirSync(dir)).toHaveLength(30);
    const a = directory();
    const b = directory();
    const claimedBy = async (spool: SpoolDirectory) => {
      const got: string[] = [];
      for (let claim = await spool.claimNext(); claim; claim = await spool.claimNext()) {
        got.push(claim.records[0]!.toString());
        await spool.finish(claim);
      }
      return got;
    };
    const [fromA, fromB] = await Promise.all([claimedBy(a), claimedBy(b)]);
    expect([...fromA, ...fromB].sort()).toEqual(Array.from({ length: 30 }, (_, s) => item(s).toString()).sort());
    expect(fromA.filter((x) => fromB.includes(x))).toEqual([]);
  });

  it("takes over a segment left open by a process that is gone, never one of a live process", async () => {
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    const host = hostname().replace(/[^A-Za-z0-9-]/g, '-') || 'host';
    const body = Buffer.concat([SEGMENT_MAGIC, frameRecords([item(7)])]);
    writeFileSync(join(dir, `000000000000001-aaaaaaaa.${host}_${gone}_0000.open`), body);
    writeFileSync(join(dir, `000000000000002-bbbbbbbb.${host}_${process.ppid}_0000.open`), body);
    const clock = virtualClock(Date.now());
    const spool = directory({ clock });
    const claim = await spool.claimNext();
    expect(claim?.stem).toBe('000000000000001-aaaaaaaa');
    await spool.finish(claim!);
    expect(await spool.claimNext()).toBeUndefined();
    // A live pid whose file nobody has touched for 10 minutes is another program that got a dead
    // owner's pid: a live owner touches its files at every rescan.
    clock.advance(10 * 60_000 + 1000);
    expect((await spool.claimNext())?.stem).toBe('000000000000002-bbbbbbbb');
  });

  it('takes over a segment left open by an earlier process with the same pid (a restarted container), and writes files only its user can read', async () => {
    const host = hostname().replace(/[^A-Za-z0-9-]/g, '-') || 'host';
    const body = Buffer.concat([SEGMENT_MAGIC, frameRecords([item(9)])]);
    // Same host and pid as this process, another run's tag: the predecessor that was killed.
    writeFileSync(join(dir, `000000000000003-cccccccc.${host}_${process.pid}_dead0000.open`), body);
    const spool = directory();
    const claim = await spool.claimNext();
    expect(claim?.stem).toBe('000000000000003-cccccccc');
    await spool.finish(claim!);
    await spool.append([item(1)]);
    await spool.close();
    const mine = readdirSync(dir).filter((name) => !name.includes('dead0000'));
    expect(mine.length).toBeGreaterThan(0);
    for (const name of mine) expect(statSync(join(dir, name)).mode & 0o077).toBe(0);
  });

  it('a directory that cannot be created turns the spool off with one warning; nothing is written', async () => {
    const spy: Spy = { warnings: [], losses: [] };
    writeFileSync(join(dir, 'a-file'), '');
    const spool = directory({ dir: join(dir, 'a-file', 'spool') }, spy);
    await spool.ready;
    expect(spool.writable).toBe(false);
    expect(await spool.append([item(1)])).toEqual(['off']);
    expect(await spool.append([item(2)])).toEqual(['off']);
    expect(spy.warnings).toEqual([expect.stringMatching(/spool .* is off: cannot create or list the directory \(ENOTDIR/)]);
  });

  it('disk full (ENOSPC) mid-write: the spool turns off, the torn bytes are cut back, earlier records stay replayable', async () => {
    const spy: Spy = { warnings: [], losses: [] };
    let budget = 600;
    const full: SpoolFs = {
      ...fs,
      open: (async (...args: Parameters<typeof fs.open>) => {
        const handle = await fs.open(...args);
        const write = handle.write.bind(handle) as (b: Buffer, o: number, l: number, p: number) => Promise<{ bytesWritten: number }>;
        // A disk with `budget` bytes left: a write beyond it stores what fits, the next one fails.
        (handle as unknown as { write: typeof write }).write = async (buffer, offset, length, position) => {
          if (budget <= 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          const n = Math.min(length, budget);
          budget -= n;
          return write(buffer, offset, n, position);
        };
        return handle;
      }) as SpoolFs['open'],
    };
    const spool = directory({ fs: full }, spy);
    expect(await spool.append([item(1), item(2)])).toEqual(['written', 'written']);
    const big = Buffer.alloc(2000, 'x');
    expect(await spool.append([big])).toEqual(['off']);
    expect(spool.writable).toBe(false);
    expect(await spool.append([item(3)])).toEqual(['off']);
    expect(spy.warnings).toEqual([expect.stringContaining('is off: cannot write (ENOSPC: no space left on device')]);
    const [name] = readdirSync(dir);
    expect(name).toMatch(/\.seg$/);
    expect(parseSegment(readFileSync(join(dir, name!)))).toEqual({ records: [item(1), item(2)], skippedBytes: 0, damaged: 0, lost: 0, foreign: false });
  });
});
