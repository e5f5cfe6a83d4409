import { headerText, historyCodec, SCHEMA_VERSION_HEADER } from "../schemas/codec";
import type { HistoryEvent } from "../schemas/types";

/**
 * A run's events as one buffer: each event's Avro bytes (history's current schema version)
 * after its u32 length. An open run keeps its history like this, a third of the size of the
 * decoded objects, and decodes it only when its code must replay; the changelog stores the
 * same bytes, so writing a run's record is a copy, not an encode.
 */
export function packEvent(event: HistoryEvent): Buffer {
  const out = historyCodec.encodeAfter(event, 4);
  out.writeUInt32BE(out.length - 4, 0);
  encodings.set(event, out.subarray(4));
  return out;
}

/**
 * The Avro bytes of events a decision packed into their runs' histories, until the event is
 * gone: the commit writes the same bytes to history instead of encoding each event twice.
 */
const encodings = new WeakMap<HistoryEvent, Buffer>();

/** An event's Avro bytes (history's current schema version), encoded once per event. */
export function encodedEvent(event: HistoryEvent): Buffer {
  return encodings.get(event) ?? historyCodec.encode(event);
}

/** Decodes packed events written with `headers` (the schema version they were encoded in). */
export function unpackEvents(packed: Buffer, headers?: Record<string, unknown>): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  for (let at = 0; at < packed.length;) {
    if (at + 4 > packed.length) throw new Error("packed events cut short");
    const length = packed.readUInt32BE(at);
    at += 4;
    if (at + length > packed.length) throw new Error("packed events cut short");
    events.push(historyCodec.decode(packed.subarray(at, at + length), headers));
    at += length;
  }
  return events;
}

/** Whether events packed with these headers are in history's current schema version. */
export function packedInCurrentVersion(headers?: Record<string, unknown>): boolean {
  const version = headerText(headers, SCHEMA_VERSION_HEADER);
  return version === undefined || version === historyCodec.headers[SCHEMA_VERSION_HEADER];
}

/**
 * An open run's history, packed, in chunks: sealed chunks never change once full (about
 * `chunkBytes` each), the open one takes the new events. In the changelog each sealed chunk is
 * a record of its own, written once, and the run's record holds only the open chunk, so a
 * decision on a long run writes what it added, not the run's whole history.
 */
export class PackedHistory {
  private sealed: Buffer[] = [];
  private open: Buffer[] = [];
  private openBytes = 0;
  private count = 0;
  /** Sealed chunks the changelog already holds. */
  private written = 0;

  constructor(private readonly chunkBytes: number) {}

  /** A history restored from the changelog: its sealed chunks and its open one, as written. */
  static restored(
    chunkBytes: number,
    sealed: readonly Buffer[],
    open: Buffer,
    count: number,
  ): PackedHistory {
    const history = new PackedHistory(chunkBytes);
    // Copies: a consumed record's bytes are a view into the whole fetch response.
    history.sealed = sealed.map((chunk) => Buffer.from(chunk));
    history.open = open.length > 0 ? [Buffer.from(open)] : [];
    history.openBytes = open.length;
    history.count = count;
    history.written = sealed.length;
    return history;
  }

  get length(): number {
    return this.count;
  }

  /** Sealed chunks the changelog already holds (their keys are erased when the run closes). */
  get writtenChunks(): number {
    return this.written;
  }

  append(event: HistoryEvent): void {
    const packed = packEvent(event);
    this.open.push(packed);
    this.openBytes += packed.length;
    this.count++;
    if (this.openBytes >= this.chunkBytes) {
      this.sealed.push(Buffer.concat(this.open));
      this.open = [];
      this.openBytes = 0;
    }
  }

  /** The open chunk's bytes. */
  openChunk(): Buffer {
    if (this.open.length > 1) this.open = [Buffer.concat(this.open)];
    return this.open[0] ?? Buffer.alloc(0);
  }

  /** Every event's bytes, in order (for replay). */
  all(): Buffer {
    return Buffer.concat([...this.sealed, this.openChunk()]);
  }

  /** The chunks sealed since the changelog last took them, and where they start; now taken. */
  takeUnwritten(): { from: number; chunks: Buffer[] } {
    const from = this.written;
    const chunks = this.sealed.slice(from);
    this.written = this.sealed.length;
    return { from, chunks };
  }

  get sealedCount(): number {
    return this.sealed.length;
  }
}
