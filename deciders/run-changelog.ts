import { historyCodec } from "../schemas/codec";
import type { HistoryEvent } from "../schemas/types";
import type { PortConsumedMessage, PortMessage } from "../transport/port";
import { headersToStrings } from "../transport/kafka";
import type { RunStatus } from "./run";

/**
 * The decider's changelog: what a decider needs to take a partition over, in a compacted
 * topic written in the same transaction as the history it decides. Restore reads it instead
 * of the partition's whole history, so its cost follows the open runs, not every run ever.
 *
 * Three kinds of record, told apart by the `weft-changelog` header and keyed so that
 * compaction keeps exactly what is needed:
 * - `event`: one history event of an open run (key: run and seq), the same bytes as in
 *   history; the open run is rebuilt by folding them, and its code replays from them.
 * - `closed`: a run closed (key: the run). The run's events are erased with tombstones in the
 *   same transaction; this small marker stays, so a start with the same workflow ID is
 *   still recognised as a duplicate.
 * - `partition`: written once, when the partition's changelog was first built (from history
 *   on an upgrade, or empty). A partition without it restores from history once.
 */
export type ChangelogEntry =
  | { readonly kind: "event"; readonly event: HistoryEvent }
  | { readonly kind: "erase"; readonly workflowId: string; readonly seq: number }
  | { readonly kind: "closed"; readonly workflowId: string; readonly marker: ClosedMarker }
  | { readonly kind: "partition"; readonly builtAt: number };

/** What stays of a closed run. Version 1; readers ignore fields they do not know. */
export interface ClosedMarker {
  readonly closedAt: number;
  readonly status?: RunStatus;
  readonly workflowType?: string;
  readonly lastSeq?: number;
}

const KIND_HEADER = "weft-changelog";
const MARKER_VERSION = 1;
/** Separates the parts of a key: never in a workflow ID a client can send (see core/ids). */
const SEP = "\u0000";

export const changelogKeys = {
  event: (workflowId: string, seq: number) => `e${SEP}${workflowId}${SEP}${seq}`,
  closed: (workflowId: string) => `r${SEP}${workflowId}`,
  partition: `p${SEP}`,
};

export function changelogMessage(entry: ChangelogEntry, partition: number): PortMessage {
  switch (entry.kind) {
    case "event":
      return {
        key: changelogKeys.event(entry.event.workflowId, entry.event.seq),
        partition,
        value: historyCodec.encode(entry.event),
        headers: { ...historyCodec.headers, [KIND_HEADER]: "event" },
      };
    case "erase":
      return {
        key: changelogKeys.event(entry.workflowId, entry.seq),
        partition,
        value: null,
        headers: { [KIND_HEADER]: "event" },
      };
    case "closed":
      return {
        key: changelogKeys.closed(entry.workflowId),
        partition,
        value: JSON.stringify({ v: MARKER_VERSION, ...entry.marker }),
        headers: { [KIND_HEADER]: "closed" },
      };
    case "partition":
      return {
        key: changelogKeys.partition,
        partition,
        value: JSON.stringify({ v: MARKER_VERSION, builtAt: entry.builtAt }),
        headers: { [KIND_HEADER]: "partition" },
      };
  }
}

/**
 * The entry a consumed changelog record holds; undefined for a tombstone (its event is gone)
 * or a record compaction emptied. Throws on a record that does not decode.
 */
export function changelogEntry(message: PortConsumedMessage): ChangelogEntry | undefined {
  if (message.value === null || message.value.length === 0) return undefined;
  const kind = headersToStrings(message.headers)[KIND_HEADER];
  const key = message.key?.toString("utf8") ?? "";
  switch (kind) {
    case "event":
      return { kind: "event", event: historyCodec.decode(message.value, message.headers) };
    case "closed": {
      const marker = JSON.parse(message.value.toString("utf8")) as ClosedMarker & { v: number };
      return { kind: "closed", workflowId: key.slice(2), marker };
    }
    case "partition": {
      const { builtAt } = JSON.parse(message.value.toString("utf8")) as { builtAt: number };
      return { kind: "partition", builtAt };
    }
    default:
      throw new Error(`changelog record of unknown kind ${JSON.stringify(kind)} (key ${key})`);
  }
}
