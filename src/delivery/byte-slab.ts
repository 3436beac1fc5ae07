/**
 * Large item texts as UTF-8, placed one after another in shared slabs of memory instead of a
 * buffer each. Every buffer is a separate ArrayBuffer that the garbage collector must track and
 * sweep: with 100 KB LLM items, a buffer per item made the collector's pauses (which hold the
 * event loop) several milliseconds longer. A slab lives as long as any of its views; the space
 * left at a slab's end when the next piece does not fit is smaller than that piece; a piece
 * larger than a slab gets a buffer of its own.
 */
export class ByteSlab {
  private slab = Buffer.alloc(0);
  private used = 0;

  constructor(readonly slabBytes = 1024 * 1024) {}

  /** `text` (whose UTF-8 length is `bytes`) as UTF-8, a view into the current slab (a buffer of its own when larger than a slab). */
  write(text: string, bytes: number): Buffer {
    if (bytes > this.slabBytes) return Buffer.from(text);
    if (this.slab.length - this.used < bytes) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    const start = this.used;
    this.used += this.slab.write(text, start);
    return this.slab.subarray(start, this.used);
  }
}
