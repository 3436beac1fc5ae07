/**
 * Large item texts as UTF-8, written one after another into shared slabs of memory instead of a
 * buffer each. Every buffer is a separate ArrayBuffer that the garbage collector must track and
 * sweep: with 100 KB LLM items, a buffer per item made the collector's pauses (which hold the
 * event loop) several milliseconds longer. A slab lives as long as any of its views; the space
 * left at a slab's end when the next text does not fit is at most one text's size.
 */
export class ByteSlab {
  private slab = Buffer.alloc(0);
  private used = 0;

  constructor(private readonly slabBytes = 1024 * 1024) {}

  /** `text` (whose UTF-8 length is `bytes`) as UTF-8, a view into the current slab. */
  write(text: string, bytes: number): Buffer {
    if (this.slab.length - this.used < bytes) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(this.slabBytes, bytes));
      this.used = 0;
    }
    const start = this.used;
    this.used += this.slab.write(text, start);
    return this.slab.subarray(start, this.used);
  }
}
