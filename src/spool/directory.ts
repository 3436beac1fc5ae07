/**
 * The spool directory: segment files on disk, shared safely by several processes.
 *
 * File names (oldest first is the order of `stem`, which starts with the creation time):
 * - `<stem>.<owner>.open`: the segment a process is appending to;
 * - `<stem>.seg`: a sealed segment, free for any process to replay;
 * - `<stem>.<owner>.claimed`: a segment one process is replaying (or evicting).
 * A process claims a segment by renaming it, which is atomic: of two processes that try, one wins
 * and the other gets ENOENT. `<owner>` is `host_pid_tag`; a segment left `.open` or `.claimed` by a
 * process that no longer runs (same host: its pid is gone; another host: untouched for
 * {@link STALE_OWNER_MILLIS}) is claimed like a sealed one.
 *
 * Every file system call is awaited off the hot path and every error is caught: a write that
 * fails turns the spool off (the caller holds spans in memory instead), a read that fails is
 * reported once and the segment is left for later.
 */
import { randomBytes } from 'node:crypto';
import * as fsPromises from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { SEGMENT_MAGIC, frameRecords, framedBytes, parseSegment } from './segment.js';

export type SpoolFs = Pick<typeof fsPromises, 'mkdir' | 'readdir' | 'stat' | 'open' | 'rename' | 'unlink' | 'readFile' | 'utimes'>;

/** A segment left by a process on another host is taken over once untouched this long. */
export const STALE_OWNER_MILLIS = 10 * 60_000;

export type SpoolLossReason = 'spoolFull' | 'corrupt' | 'deleted';

/** Whether a payload handed to {@link SpoolDirectory.append} is in the spool. */
export type AppendOutcome = 'written' | 'full' | 'off';

export interface SpoolDirectoryOptions {
  dir: string;
  maxBytes: number;
  clock: Clock;
  log: Logger;
  /** Items lost from the spool (evicted for the budget, unreadable), for the caller's books. */
  onLoss(reason: SpoolLossReason, items: number, detail: string): void;
  /** Segments are sealed (and become replayable) at this size. Default: maxBytes / 8, from 64 KiB (or maxBytes / 4, if less) to 4 MiB. */
  segmentBytes?: number;
  /** The file system; tests inject failures through it. Default: node:fs/promises. */
  fs?: SpoolFs;
}

/** Tags of the spool directories open in this process. */
const LIVE_TAGS = new Set<string>();

interface Owner {
  host: string;
  pid: number;
  tag: string;
}

interface SegmentFile {
  name: string;
  stem: string;
  kind: 'open' | 'seg' | 'claimed';
  owner: Owner | undefined;
  createdAt: number;
  bytes: number;
  mtimeMs: number;
}

/** A segment this process claimed for replay: its records, and how many of them are settled. */
export interface Claim {
  readonly name: string;
  readonly stem: string;
  readonly records: readonly Buffer[];
  next: number;
}

export interface SpoolUsage {
  bytes: number;
  segments: number;
  /** Creation time of the oldest segment: no item in the spool is older. */
  oldestAt: number | undefined;
}

const NAME = /^(\d{15}-[0-9a-f]{8})(?:\.([A-Za-z0-9-]+)_(\d+)_([0-9a-f]+))?\.(open|seg|claimed)$/;

export function parseSegmentName(name: string): Pick<SegmentFile, 'stem' | 'kind' | 'owner' | 'createdAt'> | undefined {
  const match = NAME.exec(name);
  if (!match) return undefined;
  const [, stem, host, pid, tag, kind] = match as unknown as [string, string, string | undefined, string, string, SegmentFile['kind']];
  if ((kind === 'seg') !== (host === undefined)) return undefined;
  const owner = host === undefined ? undefined : { host, pid: Number(pid), tag };
  return { stem, kind, owner, createdAt: Number(stem.slice(0, 15)) };
}

export class SpoolDirectory {
  readonly path: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  /** Why writing is off, or undefined while the spool takes spans. */
  offReason: string | undefined;
  /** Resolves once the directory exists and was listed (or the spool turned off trying). */
  readonly ready: Promise<void>;
  private readonly fs: SpoolFs;
  private readonly me: Owner;
  private readonly token: string;
  private files = new Map<string, SegmentFile>();
  private open: { handle: FileHandle; file: SegmentFile; records: number } | undefined;
  /** The directory could be created and listed at start: replay is worth trying. */
  private listed = false;
  private chain: Promise<unknown> = Promise.resolve();
  private lastCreatedAt = -1;
  /**
   * Framed size of the records written or read last: estimates what damaged or deleted bytes held.
   * Before any, the size of a small span's item (an LLM span's is larger: then an overestimate).
   */
  private recordBytes = 600;
  /** Files this process tried and could not claim or read: never picked again. */
  private readonly unusable = new Set<string>();
  private readonly warned = new Set<string>();

  constructor(private readonly options: SpoolDirectoryOptions) {
    this.path = options.dir;
    this.maxBytes = options.maxBytes;
    // An eighth of the budget, from 64 KiB to 4 MiB, and never more than a quarter of it: evicting
    // the oldest segment then frees a small part of the spool, not all of it.
    this.segmentBytes = options.segmentBytes ?? Math.min(4 * 1024 * 1024, Math.max(Math.min(64 * 1024, Math.floor(options.maxBytes / 4)), Math.floor(options.maxBytes / 8)));
    this.fs = options.fs ?? fsPromises;
    this.me = { host: hostname().replace(/[^A-Za-z0-9-]/g, '-') || 'host', pid: process.pid, tag: randomBytes(4).toString('hex') };
    this.token = `${this.me.host}_${this.me.pid}_${this.me.tag}`;
    LIVE_TAGS.add(this.me.tag);
    this.ready = this.exclusive(async () => {
      try {
        // Spooled items can hold prompts and completions: readable by this user only.
        await this.fs.mkdir(this.path, { recursive: true, mode: 0o700 });
        await this.scan();
        this.listed = true;
      } catch (error) {
        this.turnOff('cannot create or list the directory', error);
      }
    });
  }

  get writable(): boolean {
    return this.offReason === undefined;
  }

  usage(): SpoolUsage {
    let bytes = 0;
    let oldestAt: number | undefined;
    for (const file of this.files.values()) {
      bytes += file.bytes;
      // A file skipped as unusable takes room, but says nothing of the age of what is spooled.
      if (this.unusable.has(file.name)) continue;
      oldestAt = oldestAt === undefined ? file.createdAt : Math.min(oldestAt, file.createdAt);
    }
    return { bytes, segments: this.files.size, oldestAt };
  }

  /**
   * Appends `payloads` as records of this process's open segment, evicting the oldest segments
   * when the budget needs room. Says for each payload whether it is now in the spool: `full` when
   * the budget has no room for it even after evicting every segment it could (one item larger
   * than the budget, or the rest held by other processes), `off` when the spool is (now) off.
   */
  append(payloads: readonly Buffer[]): Promise<AppendOutcome[]> {
    return this.exclusive(async () => {
      const outcomes = new Array<AppendOutcome>(payloads.length).fill('off');
      if (!this.writable) return outcomes;
      // Written in pieces of at most a segment, so that a batch larger than the budget evicts
      // older segments (its own earlier pieces included) and keeps the newest, as an outage does.
      const largest = Math.max(1, Math.min(this.segmentBytes, this.maxBytes - SEGMENT_MAGIC.length));
      let piece: number[] = [];
      let pieceBytes = 0;
      const writePiece = async (): Promise<boolean> => {
        const indexes = piece;
        piece = [];
        pieceBytes = 0;
        if (indexes.length === 0) return true;
        const outcome = await this.appendPiece(indexes.map((i) => payloads[i]!));
        for (const i of indexes) outcomes[i] = outcome;
        return outcome === 'written';
      };
      for (let i = 0; i < payloads.length; i += 1) {
        const bytes = framedBytes(payloads[i]!.length);
        if (bytes > this.maxBytes - SEGMENT_MAGIC.length) {
          outcomes[i] = 'full';
          this.warnOnce('tooLarge', `sgp-otel: spool ${this.path}: an item of ${payloads[i]!.length} bytes is larger than spoolMaxBytes (${this.maxBytes}); it is held in memory instead`);
          continue;
        }
        if (pieceBytes + bytes > largest && !(await writePiece())) return this.rest(outcomes, i);
        piece.push(i);
        pieceBytes += bytes;
      }
      if (!(await writePiece())) return this.rest(outcomes, payloads.length);
      return outcomes;
    });
  }

  /** After a piece that could not be written, the payloads from `from` on share its fate. */
  private rest(outcomes: AppendOutcome[], from: number): AppendOutcome[] {
    const fate: AppendOutcome = this.writable ? 'full' : 'off';
    for (let i = from; i < outcomes.length; i += 1) outcomes[i] = fate;
    return outcomes;
  }

  private async appendPiece(payloads: readonly Buffer[]): Promise<AppendOutcome> {
    const data = frameRecords(payloads);
    try {
      await this.checkDirectory();
      const needed = data.length + (this.open ? 0 : SEGMENT_MAGIC.length);
      if (this.usage().bytes + needed > this.maxBytes) {
        await this.scan();
        await this.evictFor(needed);
        if (this.usage().bytes + needed > this.maxBytes) {
          this.warnOnce('full', `sgp-otel: spool ${this.path}: spoolMaxBytes (${this.maxBytes}) is taken by segments other processes are writing or replaying; holding spans in memory until there is room`);
          return 'full';
        }
      }
      const open = this.open ?? (await this.startSegment());
      await this.writeAt(open, data);
      open.records += payloads.length;
      this.recordBytes = data.length / payloads.length;
      if (open.file.bytes >= this.segmentBytes) await this.sealOpen();
      return 'written';
    } catch (error) {
      this.turnOff('cannot write', error);
      // What it holds already is still worth replaying: seal it if the directory lets us.
      await this.sealOpen().catch(() => undefined);
      return 'off';
    }
  }

  /**
   * Makes sure the directory and the open segment are still where this process left them.
   * Deleted under us (the directory removed, say): what they held is lost and counted, and the
   * directory is made again. The open segment renamed by another process that took it over: what
   * it held is that process's to replay.
   */
  private async checkDirectory(): Promise<void> {
    const gone = (path: string) =>
      this.fs.stat(path).then(
        () => false,
        (error: unknown) => {
          if (codeOf(error) === 'ENOENT') return true;
          throw error;
        },
      );
    const directoryGone = await gone(this.path);
    const open = this.open;
    if (open !== undefined && (directoryGone || (await gone(join(this.path, open.file.name))))) {
      this.open = undefined;
      this.files.delete(open.file.name);
      const links = await open.handle.stat().then((stat) => stat.nlink, () => 0);
      await open.handle.close().catch(() => undefined);
      if (links === 0 && open.records > 0) {
        this.options.onLoss('deleted', open.records, `spool segment ${open.file.name} was deleted by something other than sgp-otel before it was replayed`);
      }
    }
    if (!directoryGone) return;
    // The other segments of the last listing went with it (another process may have replayed
    // some of them just before: an estimate, from their sizes).
    let records = 0;
    for (const file of this.files.values()) records += Math.max(1, Math.round(Math.max(0, file.bytes - SEGMENT_MAGIC.length) / this.recordBytes));
    if (records > 0) {
      this.options.onLoss('deleted', records, `the spool directory was deleted with ${this.files.size} more segment${this.files.size === 1 ? '' : 's'} in it (about ${records} records)`);
    }
    this.files.clear();
    await this.fs.mkdir(this.path, { recursive: true, mode: 0o700 });
  }

  /** Refreshes the modification time of this process's open and claimed segments, so other processes see their owner is alive. */
  touch(): Promise<void> {
    return this.exclusive(async () => {
      const now = new Date(this.options.clock.now());
      for (const file of this.files.values()) {
        if (file.owner?.tag !== this.me.tag) continue;
        await this.fs.utimes(join(this.path, file.name), now, now).catch(() => undefined);
      }
    });
  }

  /**
   * Claims the oldest segment any process left for replay (sealing this process's open segment
   * when there is no other), and reads it. Undefined when the spool holds nothing to replay.
   */
  claimNext(): Promise<Claim | undefined> {
    return this.exclusive(async () => {
      if (!this.listed) return undefined;
      try {
        await this.checkDirectory();
        await this.scan();
        for (;;) {
          const victim = this.claimable()[0];
          if (victim === undefined) {
            if (this.open === undefined || this.open.records === 0) return undefined;
            await this.sealOpen();
            continue;
          }
          const name = await this.take(victim);
          if (name === undefined) continue;
          const records = await this.readClaimed(name, victim);
          if (records === undefined) continue;
          if (records.length > 0) return { name, stem: victim.stem, records, next: 0 };
          await this.remove(name);
        }
      } catch (error) {
        // The directory itself is gone (deleted under us): nothing to replay; writing recreates it.
        if (codeOf(error) === 'ENOENT') return undefined;
        this.warnOnce(`claim:${codeOf(error)}`, `sgp-otel: spool ${this.path}: cannot replay (${describe(error)}); spooled spans stay on disk`);
        return undefined;
      }
    });
  }

  /** Every record of `claim` is settled: the segment goes. */
  finish(claim: Claim): Promise<void> {
    return this.exclusive(() => this.remove(claim.name).catch((error: unknown) => this.warnRemove(error)));
  }

  /** Gives `claim` back, whole, for a later replay (by any process): at-least-once. */
  release(claim: Claim): Promise<void> {
    return this.exclusive(async () => {
      try {
        await this.fs.rename(join(this.path, claim.name), join(this.path, `${claim.stem}.seg`));
        this.renamed(claim.name, `${claim.stem}.seg`, 'seg', undefined);
      } catch (error) {
        // Left `.claimed`: another process takes it over once this one has exited.
        this.warnOnce(`release:${codeOf(error)}`, `sgp-otel: spool ${this.path}: cannot release a segment (${describe(error)}); it is replayed after this process exits`);
      }
    });
  }

  /** Seals the open segment, so that any process may replay it. */
  close(): Promise<void> {
    return this.exclusive(() => this.sealOpen().catch((error: unknown) => this.turnOff('cannot seal a segment', error)));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async scan(): Promise<void> {
    const names = await this.fs.readdir(this.path);
    const files = new Map<string, SegmentFile>();
    for (const name of names) {
      const parsed = parseSegmentName(name);
      if (parsed === undefined) continue;
      if (this.open?.file.name === name) {
        files.set(name, this.open.file);
        continue;
      }
      try {
        const stat = await this.fs.stat(join(this.path, name));
        files.set(name, { name, ...parsed, bytes: stat.size, mtimeMs: stat.mtimeMs });
      } catch {
        // Claimed or removed by another process meanwhile.
      }
    }
    this.files = files;
  }

  /** Segments this process may take, oldest first. */
  private claimable(): SegmentFile[] {
    return [...this.files.values()]
      .filter((file) => !this.unusable.has(file.name))
      .filter((file) => file.kind === 'seg' || (file.owner !== undefined && this.ownerGone(file.owner, file.mtimeMs)))
      .sort((a, b) => (a.stem < b.stem ? -1 : a.stem > b.stem ? 1 : 0));
  }

  private ownerGone(owner: Owner, mtimeMs: number): boolean {
    if (owner.host !== this.me.host) return this.options.clock.now() - mtimeMs > STALE_OWNER_MILLIS;
    // The same pid is this process only if the tag is one of ours: a restarted container's new
    // process often gets the pid its predecessor had.
    if (owner.pid === process.pid) return !LIVE_TAGS.has(owner.tag);
    try {
      process.kill(owner.pid, 0);
    } catch (error) {
      return codeOf(error) === 'ESRCH';
    }
    // A live pid may be another program that got a dead owner's pid: a live owner touches its
    // files at every rescan, so one untouched this long belongs to nobody.
    return this.options.clock.now() - mtimeMs > STALE_OWNER_MILLIS;
  }

  /** Renames `file` to a name claimed by this process; undefined when another process took it first. */
  private async take(file: SegmentFile): Promise<string | undefined> {
    const name = `${file.stem}.${this.token}.claimed`;
    try {
      await this.fs.rename(join(this.path, file.name), join(this.path, name));
    } catch (error) {
      if (codeOf(error) === 'ENOENT') this.files.delete(file.name);
      else this.skip(file.name, 'cannot claim', error);
      return undefined;
    }
    this.renamed(file.name, name, 'claimed', this.me);
    return name;
  }

  /** The records of a segment this process claimed; undefined (and the file skipped from now on) when it cannot be read. */
  private async readClaimed(name: string, file: SegmentFile): Promise<Buffer[] | undefined> {
    let data: Buffer;
    try {
      data = await this.fs.readFile(join(this.path, name));
    } catch (error) {
      this.skip(name, 'cannot read', error);
      return undefined;
    }
    const parsed = parseSegment(data, this.recordBytes);
    if (parsed.records.length > 0) {
      this.recordBytes = (data.length - parsed.skippedBytes - SEGMENT_MAGIC.length) / parsed.records.length || this.recordBytes;
    }
    if (parsed.damaged > 0 && parsed.lost > 0) {
      const what = parsed.foreign
        ? `has nothing readable (${data.length} bytes of zeros or of another format), about ${parsed.lost} record${parsed.lost === 1 ? '' : 's'}`
        : `has ${parsed.skippedBytes} damaged bytes in ${parsed.damaged} place${parsed.damaged === 1 ? '' : 's'} (a torn or corrupt write), about ${parsed.lost} record${parsed.lost === 1 ? '' : 's'}`;
      this.options.onLoss('corrupt', parsed.lost, `spool segment ${file.name} ${what}; those bytes were skipped, ${parsed.records.length} records read`);
    }
    return parsed.records;
  }

  /** Leaves a file this process cannot use (another user's, a directory, unreadable) alone from now on, with one warning. */
  private skip(name: string, what: string, error: unknown): void {
    this.unusable.add(name);
    this.warnOnce(`skip:${name}`, `sgp-otel: spool ${this.path}: ${what} ${name} (${describe(error)}); skipping it, the other segments are replayed`);
  }

  private async remove(name: string): Promise<void> {
    await this.fs.unlink(join(this.path, name));
    this.files.delete(name);
  }

  /** Evicts the oldest segments until `needed` more bytes fit the budget, or none is left to evict. */
  private async evictFor(needed: number): Promise<void> {
    while (this.usage().bytes + needed > this.maxBytes) {
      const victim = this.claimable()[0];
      if (victim === undefined) {
        if (this.open === undefined || this.open.records === 0) return;
        await this.sealOpen();
        continue;
      }
      const name = await this.take(victim);
      if (name === undefined) continue;
      let items = 0;
      try {
        items = parseSegment(await this.fs.readFile(join(this.path, name))).records.length;
      } catch {
        items = 0;
      }
      await this.remove(name);
      const age = Math.max(0, Math.round((this.options.clock.now() - victim.createdAt) / 1000));
      this.options.onLoss('spoolFull', items, `spoolMaxBytes (${this.maxBytes}) reached: deleted the oldest spool segment (${items} items, started ${age} s ago)`);
    }
  }

  private async startSegment(): Promise<NonNullable<SpoolDirectory['open']>> {
    // Strictly increasing, so that this process's segments sort in the order they were written
    // even when several start within one millisecond (the random part only tells processes apart).
    const createdAt = Math.max(0, Math.floor(this.options.clock.now()), this.lastCreatedAt + 1);
    this.lastCreatedAt = createdAt;
    const stem = `${String(createdAt).padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
    const name = `${stem}.${this.token}.open`;
    const handle = await this.fs.open(join(this.path, name), 'wx', 0o600);
    const file: SegmentFile = { name, stem, kind: 'open', owner: this.me, createdAt, bytes: 0, mtimeMs: createdAt };
    const open = { handle, file, records: 0 };
    this.open = open;
    this.files.set(name, file);
    try {
      await this.writeAt(open, SEGMENT_MAGIC);
    } catch (error) {
      await this.sealOpen().catch(() => undefined);
      throw error;
    }
    return open;
  }

  /** Writes `data` at the end of the open segment; on failure cuts the file back, so no torn record is left behind. */
  private async writeAt(open: NonNullable<SpoolDirectory['open']>, data: Buffer): Promise<void> {
    const start = open.file.bytes;
    try {
      for (let done = 0; done < data.length; ) {
        const { bytesWritten } = await open.handle.write(data, done, data.length - done, start + done);
        done += bytesWritten;
      }
    } catch (error) {
      await open.handle.truncate(start).catch(() => undefined);
      throw error;
    }
    open.file.bytes = start + data.length;
  }

  private async sealOpen(): Promise<void> {
    const open = this.open;
    if (open === undefined) return;
    this.open = undefined;
    // Once sealed, a segment is on disk even if the machine loses power: one sync per segment,
    // not per write. Failing to sync loses nothing that is not already at risk.
    if (open.records > 0) await open.handle.sync().catch(() => undefined);
    await open.handle.close().catch(() => undefined);
    if (open.records === 0) {
      await this.remove(open.file.name).catch(() => this.files.delete(open.file.name));
      return;
    }
    const sealed = `${open.file.stem}.seg`;
    await this.fs.rename(join(this.path, open.file.name), join(this.path, sealed));
    this.renamed(open.file.name, sealed, 'seg', undefined);
  }

  private renamed(from: string, to: string, kind: SegmentFile['kind'], owner: Owner | undefined): void {
    const file = this.files.get(from);
    this.files.delete(from);
    if (file) this.files.set(to, { ...file, name: to, kind, owner });
  }

  private turnOff(what: string, error: unknown): void {
    if (this.offReason !== undefined) return;
    this.offReason = `${what} (${describe(error)})`;
    this.options.log.warn(`sgp-otel: spool ${this.path} is off: ${this.offReason}; holding spans in memory instead, up to maxQueueSize`);
  }

  private warnRemove(error: unknown): void {
    this.warnOnce(`remove:${codeOf(error)}`, `sgp-otel: spool ${this.path}: cannot delete a replayed segment (${describe(error)}); it may be sent again`);
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.log.warn(message);
  }
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : undefined;
}

function describe(error: unknown): string {
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  return code !== undefined && !message.startsWith(code) ? `${code}: ${message}` : message;
}

export interface SpoolReport {
  /** `missing`: not created yet (the processor creates it); `unusable`: not a directory we can list and write. */
  state: 'ok' | 'missing' | 'unusable';
  problem?: string;
  usage: SpoolUsage;
}

/** What a spool directory holds, without claiming or changing anything (for `sgp-otel doctor`). */
export async function inspectSpool(dir: string, fs: Pick<typeof fsPromises, 'readdir' | 'stat' | 'access'> = fsPromises): Promise<SpoolReport> {
  const usage: SpoolUsage = { bytes: 0, segments: 0, oldestAt: undefined };
  let names: string[];
  try {
    names = await fs.readdir(dir);
    await fs.access(dir, fsPromises.constants.W_OK);
  } catch (error) {
    return codeOf(error) === 'ENOENT' ? { state: 'missing', usage } : { state: 'unusable', problem: describe(error), usage };
  }
  for (const name of names) {
    const parsed = parseSegmentName(name);
    if (parsed === undefined) continue;
    try {
      usage.bytes += (await fs.stat(join(dir, name))).size;
    } catch {
      continue;
    }
    usage.segments += 1;
    usage.oldestAt = usage.oldestAt === undefined ? parsed.createdAt : Math.min(usage.oldestAt, parsed.createdAt);
  }
  return { state: 'ok', usage };
}
