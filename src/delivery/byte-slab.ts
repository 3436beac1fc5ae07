/**
 * Large item texts as UTF-8, placed one after another in shared slabs of memory instead of a
 * buffer each. Every buffer is a separate ArrayBuffer that the garbage collector must track and
 * sweep: with 100 KB LLM items, a buffer per item made the collector's pauses (which hold the
 * event loop) several milliseconds longer. A text's bytes are only ever copied into its request
 * body (never sent from the slab), so once every text of a slab has been copied ({@link release}),
 * the slab serves the next texts: fresh memory costs a page fault per 4 KiB. A piece larger than a
 * slab gets a buffer of its own.
 */
export class ByteSlab {
  private slab: Buffer = Buffer.alloc(0);
  private used = 0;
  /** Texts written into each slab and not yet released. */
  private readonly outstanding = new Map<ArrayBufferLike, number>();
  /** Slabs whose every text was released, ready to be written again. */
  private readonly free: Buffer[] = [];

  constructor(
    readonly slabBytes = 1024 * 1024,
    private readonly maxFree = 2,
  ) {}

  /** `text` (whose UTF-8 length is `bytes`) as UTF-8, a view into the current slab (a buffer of its own when larger than a slab). */
  write(text: string, bytes: number): Buffer {
    if (bytes > this.slabBytes) return Buffer.from(text);
    if (this.slab.length - this.used < bytes) {
      this.slab = this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    const start = this.used;
    this.used += this.slab.write(text, start);
    this.outstanding.set(this.slab.buffer, (this.outstanding.get(this.slab.buffer) ?? 0) + 1);
    return this.slab.subarray(start, this.used);
  }

  /** Says that nothing refers to `view` (from {@link write}) any more. */
  release(view: Buffer): void {
    const left = this.outstanding.get(view.buffer);
    if (left === undefined) return;
    if (left > 1) {
      this.outstanding.set(view.buffer, left - 1);
      return;
    }
    this.outstanding.delete(view.buffer);
    // The slab being written keeps going; a finished one waits to be written again.
    if (view.buffer !== this.slab.buffer && this.free.length < this.maxFree) this.free.push(Buffer.from(view.buffer));
  }
}
