import { headerText, historyCodec, SCHEMA_VERSION_HEADER } from "../schemas/codec";
import type { HistoryEvent } from "../schemas/types";

/**
 * A run's events as one buffer: each event's Avro bytes (history's current schema version)
 * after its u32 length. An open run keeps its history like this, a third of the size of the
 * decoded objects, and decodes it only when its code must replay; the changelog stores the
 * same bytes, so writing a run's record is a copy, not an encode.
 */
export function packEvent(event: HistoryEvent): Buffer {
  const bytes = historyCodec.encode(event);
  const out = Buffer.allocUnsafe(4 + bytes.length);
  out.writeUInt32BE(bytes.length, 0);
  bytes.copy(out, 4);
  return out;
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
