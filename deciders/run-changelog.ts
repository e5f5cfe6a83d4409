import { historyCodec } from "../schemas/codec";
import type { PortConsumedMessage, PortMessage } from "../transport/port";
import { headersToStrings } from "../transport/kafka";
import type { RunStatus } from "./run";

/**
 * The decider's changelog: what a decider needs to take a partition over, in a compacted
 * topic written in the same transaction as the history it decides. Restore reads it instead
 * of the partition's whole history, so its cost follows the open runs, not every run ever.
 *
 * One key per run (its workflow ID), so compaction keeps one record per run:
 * - `run`: an open run's events so far (the same Avro bytes as in history, length-prefixed),
 *   written once per decision batch that touched the run. The run is rebuilt by folding
 *   them, and its code replays from them.
 * - `closed`: the run closed. It supersedes the run's events; this small marker stays, so a
 *   start with the same workflow ID is still recognised as a duplicate.
 * - `partition` (its own key): written once, when the partition's changelog was first built
 *   (from history on an upgrade, or empty). A partition without it restores from history once.
 */
export type ChangelogEntry =
  | {
      readonly kind: "run";
      readonly workflowId: string;
      /** The run's events, packed (see packed-events.ts) in the schema version of `headers`. */
      readonly packed: Buffer;
      readonly headers?: Record<string, unknown>;
    }
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
/** A workflow ID never holds a NUL (see core/ids), so this key is no run's. */
export const PARTITION_KEY = "\u0000partition";

export function changelogMessage(entry: ChangelogEntry, partition: number): PortMessage {
  switch (entry.kind) {
    case "run":
      return {
        key: entry.workflowId,
        partition,
        value: entry.packed,
        // The schema version of every event in the value: a run packs in the current one.
        headers: { ...historyCodec.headers, [KIND_HEADER]: "run" },
      };
    case "closed":
      return {
        key: entry.workflowId,
        partition,
        value: JSON.stringify({ v: MARKER_VERSION, ...entry.marker }),
        headers: { [KIND_HEADER]: "closed" },
      };
    case "partition":
      return {
        key: PARTITION_KEY,
        partition,
        value: JSON.stringify({ v: MARKER_VERSION, builtAt: entry.builtAt }),
        headers: { [KIND_HEADER]: "partition" },
      };
  }
}

/** The key of a consumed changelog record, as text. */
export function changelogKey(message: PortConsumedMessage): string {
  return message.key?.toString("utf8") ?? "";
}

/**
 * The entry a consumed changelog record holds; undefined for a record compaction emptied.
 * Throws on a record that does not decode.
 */
export function changelogEntry(message: PortConsumedMessage): ChangelogEntry | undefined {
  if (message.value === null || message.value.length === 0) return undefined;
  const kind = headersToStrings(message.headers)[KIND_HEADER];
  const key = changelogKey(message);
  switch (kind) {
    case "run":
      return { kind: "run", workflowId: key, packed: message.value, headers: message.headers };
    case "closed": {
      const marker = JSON.parse(message.value.toString("utf8")) as ClosedMarker & { v: number };
      return { kind: "closed", workflowId: key, marker };
    }
    case "partition": {
      const { builtAt } = JSON.parse(message.value.toString("utf8")) as { builtAt: number };
      return { kind: "partition", builtAt };
    }
    default:
      throw new Error(`changelog record of unknown kind ${JSON.stringify(kind)} (key ${key})`);
  }
}

/**
 * Reading a changelog partition as compaction would leave it: only each key's last record
 * counts, so earlier ones are kept undecoded and dropped when a later one comes. A restore
 * then decodes one record per run, however much of the log compaction has not reached yet.
 */
export class LatestByKey {
  private readonly latest = new Map<string, PortConsumedMessage>();
  records = 0;

  add(message: PortConsumedMessage): void {
    this.records++;
    this.latest.set(changelogKey(message), message);
  }

  messages(): IterableIterator<PortConsumedMessage> {
    return this.latest.values();
  }

  /**
   * Lets the records go once restored. Something in the reading consumer's library keeps
   * this object reachable after the read (measured: 80k closed runs' records, views into
   * whole fetch responses, stayed: 350 B of heap and 150 B of buffers per run, not 147 B).
   */
  clear(): void {
    this.latest.clear();
  }
}
