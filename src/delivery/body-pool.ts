/**
 * Request bodies, kept for the next request once the last one is done with them. Fresh memory
 * costs a page fault per 4 KiB the first time it is written (about 15 us each on a virtual
 * machine: more than serializing the items), and a fresh multi-megabyte buffer per request counted
 * against the collector's external-memory budget, bringing on full collections that held the event
 * loop 10 ms and more. Reusing a few bodies avoids both.
 */
export class BodyPool {
  private readonly free: ArrayBuffer[] = [];
  private keptBytes = 0;

  constructor(private readonly maxKeptBytes = 16 * MIB) {}

  /** `bytes` of uninitialized memory, from a kept buffer when one is large enough. */
  take(bytes: number): Buffer {
    // The smallest kept buffer that fits, so a text does not take the buffer a large body needs.
    let at = -1;
    for (let i = 0; i < this.free.length; i += 1) {
      const size = this.free[i]!.byteLength;
      if (size >= bytes && (at < 0 || size < this.free[at]!.byteLength)) at = i;
    }
    if (at >= 0) {
      const buffer = this.free.splice(at, 1)[0]!;
      this.keptBytes -= buffer.byteLength;
      return Buffer.from(buffer, 0, bytes);
    }
    // Rounded up (128 KiB, else whole MiB), so that bodies of nearly the same size can share.
    const capacity = bytes <= SMALL ? SMALL : Math.ceil(bytes / MIB) * MIB;
    return Buffer.from(Buffer.allocUnsafeSlow(capacity).buffer, 0, bytes);
  }

  /** Gives back a body from {@link take} that nothing refers to any more. */
  give(body: Buffer): void {
    const buffer = body.buffer as ArrayBuffer;
    if (this.keptBytes + buffer.byteLength > this.maxKeptBytes || this.free.includes(buffer)) return;
    this.free.push(buffer);
    this.keptBytes += buffer.byteLength;
  }
}

const MIB = 1024 * 1024;
const SMALL = 128 * 1024;
