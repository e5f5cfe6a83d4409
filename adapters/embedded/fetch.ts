import type { PortConsumedMessage, PortHeaders } from "../../transport/port";
import { addHeader } from "../../transport/headers";
import type { EmbeddedLog, StoredRecord } from "./log";

/**
 * The most one fetch reads: a fetch here reads the disk synchronously on the event loop every
 * role of the process shares (a broker reads elsewhere), so its size is how long the others
 * wait. A projector catching up with 4 MiB fetches held a restart's decider and first run back
 * by a second and more at 40,000 runs.
 */
export const MAX_FETCH_BYTES = 256 * 1024;

export interface Fetched {
  /** Where the fetch began: the position asked, or the low watermark when that is past it. */
  from: number;
  messages: PortConsumedMessage[];
  /** The offset after the last one looked at: the next fetch starts there. */
  end: number;
}

/**
 * One fetch of a partition from `position`, of at most `maxBytes` (and MAX_FETCH_BYTES).
 * Offsets below the low watermark are gone (retention, compaction): as Kafka's consumers reset
 * to the earliest offset, the fetch starts there.
 */
export function fetchMessages(
  log: EmbeddedLog,
  topic: string,
  partition: number,
  position: number,
  maxBytes: number,
): Fetched {
  const from = Math.max(position, log.lowWatermark(topic, partition));
  const fetched = log.fetch(topic, partition, from, Math.min(maxBytes, MAX_FETCH_BYTES));
  const messages = fetched.records.map((r, i) => toMessage(r, fetched.offsets[i]!));
  return { from, messages, end: fetched.end };
}

function toMessage(record: StoredRecord, offset: number): PortConsumedMessage {
  const headers: PortHeaders = {};
  for (const [k, v] of record.headers) addHeader(headers, k, v);
  return {
    key: record.key,
    value: record.value,
    timestamp: String(record.timestamp),
    attributes: 0,
    offset: String(offset),
    headers,
  };
}
