/**
 * Large item texts as UTF-8, and request bodies, placed one after another in shared slabs of
 * memory instead of a buffer each. Every buffer is a separate ArrayBuffer that the garbage
 * collector must track and sweep: with 100 KB LLM items, a buffer per item made the collector's
 * pauses (which hold the event loop) several milliseconds longer; with small spans, allocating
 * each request's body cost more than writing it. A slab lives as long as any of its views; the space
 * left at a slab's end when the next piece does not fit is smaller than that piece; a piece
 * larger than a slab gets a buffer of its own.
 */
export class ByteSlab {
  private slab = Buffer.alloc(0);
  private used = 0;

  constructor(readonly slabBytes = 1024 * 1024) {}

  /** `text` (whose UTF-8 length is `bytes`) as UTF-8, a view into the current slab. */
  write(text: string, bytes: number): Buffer {
    const view = this.allocate(bytes);
    view.write(text, 0);
    return view;
  }

  /** `bytes` of uninitialized memory, a view into the current slab (a buffer of its own when larger than a slab). */
  allocate(bytes: number): Buffer {
    if (bytes > this.slabBytes) return Buffer.allocUnsafeSlow(bytes);
    if (this.slab.length - this.used < bytes) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    const start = this.used;
    this.used += bytes;
    return this.slab.subarray(start, this.used);
  }
}

/**
 * Request bodies too large for a slab (megabytes of LLM text), kept for the next request once the
 * last one is done with them. A fresh multi-megabyte buffer per request counted against the
 * collector's external-memory budget and brought on full collections that held the event loop for
 * 10 ms and more; reusing a few keeps the 100 KB drain's event-loop p99 near 6 ms.
 */
export class BodyPool {
  private readonly free: ArrayBuffer[] = [];

  constructor(private readonly maxKept = 4) {}

  /** `bytes` of uninitialized memory, from a kept buffer when one is large enough. */
  take(bytes: number): Buffer {
    const at = this.free.findIndex((buffer) => buffer.byteLength >= bytes);
    if (at >= 0) return Buffer.from(this.free.splice(at, 1)[0]!, 0, bytes);
    // Rounded up to a whole MiB, so that bodies of nearly the same size can share.
    return Buffer.from(Buffer.allocUnsafeSlow(Math.ceil(bytes / MIB) * MIB).buffer, 0, bytes);
  }

  /** Gives back a body from {@link take} that nothing refers to any more. */
  give(body: Buffer): void {
    const buffer = body.buffer as ArrayBuffer;
    if (this.free.length < this.maxKept && !this.free.includes(buffer)) this.free.push(buffer);
  }
}

const MIB = 1024 * 1024;
