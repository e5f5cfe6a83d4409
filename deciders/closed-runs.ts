import type { ClosedStatus } from "../core/run-lifecycle";

/**
 * The closed runs a decider still deduplicates starts against, in 16 bytes each.
 *
 * A start names its run (the workflow ID, or one derived from an idempotency key); a start
 * whose run closed within the retention is a duplicate. Keeping each closed ID as a string in
 * a Map cost about 150 B of heap per run and one changelog record to read back per run on
 * every restore, so both grew with every run the engine ever closed. Here a closed run is a
 * 64-bit hash of its ID, its close time and what a later start needs to know of it (its
 * status and last event's seq), in typed arrays: 500,000 closed runs hold about 10 MB, and a
 * restore reads them back as a few large changelog records (see `snapshot`).
 *
 * A 64-bit hash can collide: a new ID taken for a closed run's within the retention. With n
 * closed runs on a partition, a new ID collides with probability n / 2^64 (5e-14 at a
 * million); the cost of a collision is one start deduplicated that should not have been.
 */

export interface ClosedRun {
  /** When the run closed (ms since the epoch, kept to the second). */
  readonly closedAt: number;
  readonly status: ClosedStatus;
  /** The seq of the run's last event: a later run under the same ID continues after it. */
  readonly lastSeq: number;
}

const STATUSES: readonly ClosedStatus[] = ["completed", "failed", "cancelled"];
const STATUS_BITS = 2;
const MAX_SEQ = 2 ** (32 - STATUS_BITS) - 1;
/** Bytes of one entry in a snapshot: hash (8), close time in seconds (4), status and seq (4). */
export const ENTRY_BYTES = 16;
const MIN_CAPACITY = 1024;
const MAX_LOAD = 0.7;

/** Two independent 32-bit FNV-1a hashes of the ID's UTF-16 code units: 64 bits in all. */
export function hashId(id: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ id.length;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  // Never (0, 0): that marks an empty slot.
  return [a >>> 0 || 1, b >>> 0];
}

/** An open-addressing hash table (linear probing) over typed arrays. */
export class ClosedRuns {
  private hi = new Uint32Array(MIN_CAPACITY);
  private lo = new Uint32Array(MIN_CAPACITY);
  private at = new Uint32Array(MIN_CAPACITY);
  private meta = new Uint32Array(MIN_CAPACITY);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: string): ClosedRun | undefined {
    const slot = this.find(...hashId(id));
    return slot < 0 ? undefined : this.entry(slot);
  }

  has(id: string): boolean {
    return this.find(...hashId(id)) >= 0;
  }

  set(id: string, run: ClosedRun): void {
    const [h, l] = hashId(id);
    this.put(h, l, Math.floor(run.closedAt / 1000), packMeta(run.status, run.lastSeq));
  }

  delete(id: string): boolean {
    const slot = this.find(...hashId(id));
    if (slot < 0) return false;
    this.removeAt(slot);
    return true;
  }

  /**
   * Drops every run that closed before `before` (ms). Returns how many, and the highest last
   * seq among them: a later run under one of their IDs must begin above it.
   */
  expire(before: number): { dropped: number; lastSeq: number } {
    const cutoff = Math.floor(before / 1000);
    let dropped = 0;
    let lastSeq = 0;
    for (let slot = 0; slot < this.hi.length;) {
      if (this.hi[slot] !== 0 && this.at[slot]! < cutoff) {
        lastSeq = Math.max(lastSeq, this.meta[slot]! & MAX_SEQ);
        // Backward-shift deletion may move a later entry into this slot: look at it again.
        this.removeAt(slot);
        dropped++;
      } else slot++;
    }
    return { dropped, lastSeq };
  }

  /** Every entry, 16 bytes each (see ENTRY_BYTES), in chunks of at most `chunkBytes`. */
  snapshot(chunkBytes: number): Buffer[] {
    const perChunk = Math.max(1, Math.floor(chunkBytes / ENTRY_BYTES));
    const chunks: Buffer[] = [];
    let chunk = Buffer.alloc(Math.min(perChunk, this.count) * ENTRY_BYTES);
    let used = 0;
    for (let slot = 0; slot < this.hi.length; slot++) {
      if (this.hi[slot] === 0) continue;
      if (used === chunk.length) {
        chunks.push(chunk);
        chunk = Buffer.alloc(
          Math.min(perChunk, this.count - chunks.length * perChunk) * ENTRY_BYTES,
        );
        used = 0;
      }
      chunk.writeUInt32BE(this.hi[slot]!, used);
      chunk.writeUInt32BE(this.lo[slot]!, used + 4);
      chunk.writeUInt32BE(this.at[slot]!, used + 8);
      chunk.writeUInt32BE(this.meta[slot]!, used + 12);
      used += ENTRY_BYTES;
    }
    if (used > 0) chunks.push(chunk);
    return chunks;
  }

  /** The entries of these IDs (those held), 16 bytes each, as a snapshot chunk holds them. */
  entriesOf(ids: readonly string[]): Buffer {
    const out = Buffer.alloc(ids.length * ENTRY_BYTES);
    let used = 0;
    for (const id of ids) {
      const slot = this.find(...hashId(id));
      if (slot < 0) continue;
      out.writeUInt32BE(this.hi[slot]!, used);
      out.writeUInt32BE(this.lo[slot]!, used + 4);
      out.writeUInt32BE(this.at[slot]!, used + 8);
      out.writeUInt32BE(this.meta[slot]!, used + 12);
      used += ENTRY_BYTES;
    }
    return out.subarray(0, used);
  }

  /** Each entry as hex, sorted: a comparable picture of the table (for tests and checks). */
  fingerprint(): string[] {
    const entries: string[] = [];
    for (const chunk of this.snapshot(1 << 20))
      for (let at = 0; at < chunk.length; at += ENTRY_BYTES)
        entries.push(chunk.toString("hex", at, at + ENTRY_BYTES));
    return entries.sort();
  }

  /** Adds the entries of a snapshot chunk (an entry already held is replaced). */
  load(chunk: Buffer): void {
    if (chunk.length % ENTRY_BYTES !== 0)
      throw new Error(`closed-runs chunk of ${chunk.length} bytes is not a whole entry count`);
    for (let at = 0; at < chunk.length; at += ENTRY_BYTES) {
      this.put(
        chunk.readUInt32BE(at),
        chunk.readUInt32BE(at + 4),
        chunk.readUInt32BE(at + 8),
        chunk.readUInt32BE(at + 12),
      );
    }
  }

  private entry(slot: number): ClosedRun {
    const meta = this.meta[slot]!;
    return {
      closedAt: this.at[slot]! * 1000,
      status: STATUSES[meta >>> (32 - STATUS_BITS)] ?? "completed",
      lastSeq: meta & MAX_SEQ,
    };
  }

  private find(h: number, l: number): number {
    const mask = this.hi.length - 1;
    for (let slot = (h ^ l) & mask; this.hi[slot] !== 0; slot = (slot + 1) & mask)
      if (this.hi[slot] === h && this.lo[slot] === l) return slot;
    return -1;
  }

  private put(h: number, l: number, at: number, meta: number): void {
    if ((this.count + 1) / this.hi.length > MAX_LOAD) this.resize(this.hi.length * 2);
    const mask = this.hi.length - 1;
    let slot = (h ^ l) & mask;
    while (this.hi[slot] !== 0 && !(this.hi[slot] === h && this.lo[slot] === l))
      slot = (slot + 1) & mask;
    if (this.hi[slot] === 0) this.count++;
    this.hi[slot] = h;
    this.lo[slot] = l;
    this.at[slot] = at;
    this.meta[slot] = meta;
  }

  /** Linear probing's deletion: later entries of the probe chain shift back into the gap. */
  private removeAt(gap: number): void {
    const mask = this.hi.length - 1;
    this.hi[gap] = 0;
    this.count--;
    for (let slot = (gap + 1) & mask; this.hi[slot] !== 0; slot = (slot + 1) & mask) {
      const home = (this.hi[slot]! ^ this.lo[slot]!) & mask;
      // The entry may move to the gap when its home is not in (gap, slot] (cyclically).
      const stays = gap <= slot ? gap < home && home <= slot : gap < home || home <= slot;
      if (stays) continue;
      this.hi[gap] = this.hi[slot]!;
      this.lo[gap] = this.lo[slot]!;
      this.at[gap] = this.at[slot]!;
      this.meta[gap] = this.meta[slot]!;
      this.hi[slot] = 0;
      gap = slot;
    }
  }

  private resize(capacity: number): void {
    const { hi, lo, at, meta } = this;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.at = new Uint32Array(capacity);
    this.meta = new Uint32Array(capacity);
    this.count = 0;
    for (let slot = 0; slot < hi.length; slot++)
      if (hi[slot] !== 0) this.put(hi[slot]!, lo[slot]!, at[slot]!, meta[slot]!);
  }
}

function packMeta(status: ClosedStatus, lastSeq: number): number {
  const code = STATUSES.indexOf(status);
  return ((Math.max(0, code) << (32 - STATUS_BITS)) | Math.min(lastSeq, MAX_SEQ)) >>> 0;
}
