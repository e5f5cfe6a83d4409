import type { RecordEntry } from "./frames";

/**
 * What a decoded record costs in the heap besides its bytes: the entry's array, the key and
 * value Buffer objects, the headers' arrays, strings and Buffers (about ten objects). Counting
 * only the frame's bytes let the cache hold several times its bound: a heap snapshot of
 * `weft dev` after 60,000 runs found ~100,000 cached record Buffers under an 8 MiB bound.
 */
const RECORD_OVERHEAD_BYTES = 512;

/**
 * The records of recently written or read frames, decoded, by segment and position. Consumers
 * mostly read what was just written, so a small cache spares most reads from disk; the least
 * recently used frame goes first. Its bound counts each frame's bytes and its records' objects.
 */
export class FrameCache {
  private readonly frames = new Map<number, RecordEntry[]>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(segment: number, position: number): RecordEntry[] | undefined {
    const key = cacheKey(segment, position);
    const entries = this.frames.get(key);
    if (entries) {
      this.frames.delete(key);
      this.frames.set(key, entries);
    }
    return entries;
  }

  set(segment: number, position: number, entries: RecordEntry[], frameBytes: number): void {
    const key = cacheKey(segment, position);
    if (this.frames.has(key)) return;
    const size = frameBytes + entries.length * RECORD_OVERHEAD_BYTES;
    this.frames.set(key, entries);
    this.sizes.set(key, size);
    this.bytes += size;
    while (this.bytes > this.maxBytes && this.frames.size > 1) {
      const oldest = this.frames.keys().next().value as number;
      this.frames.delete(oldest);
      this.bytes -= this.sizes.get(oldest)!;
      this.sizes.delete(oldest);
    }
  }

  /** Drops the frames of a deleted segment. */
  dropSegment(segment: number): void {
    for (const key of [...this.frames.keys()]) {
      if (Math.floor(key / 2 ** 32) !== segment) continue;
      this.frames.delete(key);
      this.bytes -= this.sizes.get(key)!;
      this.sizes.delete(key);
    }
  }

  clear(): void {
    this.frames.clear();
    this.sizes.clear();
    this.bytes = 0;
  }

  private readonly sizes = new Map<number, number>();
}

const cacheKey = (segment: number, position: number) => segment * 2 ** 32 + position;
