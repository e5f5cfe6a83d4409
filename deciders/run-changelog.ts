import { historyCodec } from "../schemas/codec";
import type { PortConsumedMessage, PortMessage } from "../transport/port";
import { headersToStrings } from "../transport/headers";
import type { RunStatus } from "./run";

/**
 * The decider's changelog: what a decider needs to take a partition over, in a compacted
 * topic written in the same transaction as the history it decides. Restore reads it instead
 * of the partition's whole history, so its cost follows the open runs, not every run ever.
 *
 * Keys, so that compaction keeps what is needed and nothing else:
 * - the workflow ID → `run`: an open run's open chunk of events (the same Avro bytes as in
 *   history, length-prefixed) and how many sealed chunks come before it; rewritten by each
 *   decision batch that touched the run. Then → `closed`: a small marker that supersedes it,
 *   so a start with the same workflow ID is still recognised as a duplicate.
 * - the workflow ID, NUL, a chunk index → `chunk`: a sealed chunk of the run's events,
 *   written once when it fills (see PackedHistory); erased (tombstone) when the run closes.
 * - `\0partition` → `partition`: written once, when the partition's changelog was first
 *   built (from history on an upgrade, or empty). A partition without it restores from
 *   history once.
 * - `\0closed` → `closedSnapshot`, and `\0closed\0<index>` → `closedChunk`: the closed runs
 *   still deduplicating starts, 16 bytes each (see closed-runs.ts), rewritten once the runs
 *   closed since the last reach a tenth of them, in one transaction that also erases
 *   (`forget`) the markers it folded in and the deltas.
 * - `\0closed-delta\0<index>` → `closedDelta`: between two snapshots, each thousand markers
 *   are folded into one record of their 16-byte entries (and erased with it), so that
 *   neither the markers nor the snapshot's rewriting grow with the runs closed. So the
 *   records a restore reads follow the open runs, not every run the partition closed.
 */
export type ChangelogEntry =
  | {
      readonly kind: "run";
      readonly workflowId: string;
      /** How many sealed chunks precede the open one. */
      readonly sealedCount: number;
      /** The open chunk, packed (see packed-events.ts) in the schema version of `headers`. */
      readonly open: Buffer;
      /** Chunks sealed since the run's last record, to write with it. */
      readonly newChunks?: readonly { readonly index: number; readonly packed: Buffer }[];
      readonly headers?: Record<string, unknown>;
    }
  | {
      readonly kind: "chunk";
      readonly workflowId: string;
      readonly index: number;
      readonly packed: Buffer;
      readonly headers?: Record<string, unknown>;
    }
  | { readonly kind: "erase"; readonly workflowId: string; readonly index: number }
  | { readonly kind: "closed"; readonly workflowId: string; readonly marker: ClosedMarker }
  | { readonly kind: "partition"; readonly builtAt: number }
  | {
      readonly kind: "closedSnapshot";
      /** Chunks written with it (indices 0 … chunks-1). */
      readonly chunks: number;
      readonly count: number;
      readonly takenAt: number;
      /** The highest last seq of the runs retention dropped (see PartitionState). */
      readonly seqFloor?: number;
    }
  /** A chunk of the closed-run snapshot; null erases an index the last snapshot had. */
  | { readonly kind: "closedChunk"; readonly index: number; readonly packed: Buffer | null }
  /**
   * Closed runs folded in since the last snapshot, 16 bytes each, written as their markers
   * reach a thousand (the markers erased with it); null erases it (the next snapshot holds
   * its runs). Indices count from 0 after each snapshot.
   */
  | { readonly kind: "closedDelta"; readonly index: number; readonly packed: Buffer | null }
  /** Erases a closed run's marker (folded into a snapshot). */
  | { readonly kind: "forget"; readonly workflowId: string };

/** What stays of a closed run. Version 1; readers ignore fields they do not know. */
export interface ClosedMarker {
  readonly closedAt: number;
  readonly status?: RunStatus;
  readonly workflowType?: string;
  readonly lastSeq?: number;
}

const KIND_HEADER = "weft-changelog";
const SEALED_HEADER = "weft-sealed-chunks";
const RUN_FORMAT = Buffer.from([1]);
const MARKER_VERSION = 1;
/** A workflow ID never holds a NUL (see core/ids), so this key is no run's. */
export const PARTITION_KEY = "\u0000partition";
const CLOSED_SNAPSHOT_KEY = "\u0000closed";

const chunkKey = (workflowId: string, index: number) => `${workflowId}\u0000${index}`;
const closedChunkKey = (index: number) => `${CLOSED_SNAPSHOT_KEY}\u0000${index}`;
const CLOSED_DELTA_KEY = "\u0000closed-delta";
const closedDeltaKey = (index: number) => `${CLOSED_DELTA_KEY}\u0000${index}`;

/** The records an entry is written as (a run's new chunks come before the run's record). */
export function changelogMessages(entry: ChangelogEntry, partition: number): PortMessage[] {
  switch (entry.kind) {
    case "run":
      return [
        ...(entry.newChunks ?? []).map((chunk) => ({
          key: chunkKey(entry.workflowId, chunk.index),
          partition,
          value: chunk.packed,
          headers: { ...historyCodec.headers, [KIND_HEADER]: "chunk" },
        })),
        {
          key: entry.workflowId,
          partition,
          // Never empty (an empty value could come back as a tombstone): a format byte first.
          value: Buffer.concat([RUN_FORMAT, entry.open]),
          // The schema version of every event in the value: a run packs in the current one.
          headers: {
            ...historyCodec.headers,
            [KIND_HEADER]: "run",
            [SEALED_HEADER]: String(entry.sealedCount),
          },
        },
      ];
    case "chunk":
      return [
        {
          key: chunkKey(entry.workflowId, entry.index),
          partition,
          value: entry.packed,
          headers: { ...historyCodec.headers, [KIND_HEADER]: "chunk" },
        },
      ];
    case "erase":
      return [
        {
          key: chunkKey(entry.workflowId, entry.index),
          partition,
          value: null,
          headers: { [KIND_HEADER]: "chunk" },
        },
      ];
    case "closed":
      return [
        {
          key: entry.workflowId,
          partition,
          value: JSON.stringify({ v: MARKER_VERSION, ...entry.marker }),
          headers: { [KIND_HEADER]: "closed" },
        },
      ];
    case "closedSnapshot":
      return [
        {
          key: CLOSED_SNAPSHOT_KEY,
          partition,
          value: JSON.stringify({
            v: MARKER_VERSION,
            chunks: entry.chunks,
            count: entry.count,
            takenAt: entry.takenAt,
            seqFloor: entry.seqFloor ?? 0,
          }),
          headers: { [KIND_HEADER]: "closed-snapshot" },
        },
      ];
    case "closedChunk":
      return [
        {
          key: closedChunkKey(entry.index),
          partition,
          value: entry.packed,
          headers: { [KIND_HEADER]: "closed-chunk" },
        },
      ];
    case "closedDelta":
      return [
        {
          key: closedDeltaKey(entry.index),
          partition,
          value: entry.packed,
          headers: { [KIND_HEADER]: "closed-delta" },
        },
      ];
    case "forget":
      return [
        { key: entry.workflowId, partition, value: null, headers: { [KIND_HEADER]: "closed" } },
      ];
    case "partition":
      return [
        {
          key: PARTITION_KEY,
          partition,
          value: JSON.stringify({ v: MARKER_VERSION, builtAt: entry.builtAt }),
          headers: { [KIND_HEADER]: "partition" },
        },
      ];
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
  if (message.value === null) return undefined;
  const headers = headersToStrings(message.headers);
  const kind = headers[KIND_HEADER];
  const key = changelogKey(message);
  switch (kind) {
    case "run":
      return {
        kind: "run",
        workflowId: key,
        sealedCount: Number(headers[SEALED_HEADER] ?? 0),
        open: message.value.subarray(RUN_FORMAT.length),
        headers: message.headers,
      };
    case "chunk": {
      const at = key.lastIndexOf("\u0000");
      return {
        kind: "chunk",
        workflowId: key.slice(0, at),
        index: Number(key.slice(at + 1)),
        packed: message.value,
        headers: message.headers,
      };
    }
    case "closed": {
      const marker = JSON.parse(message.value.toString("utf8")) as ClosedMarker & { v: number };
      return { kind: "closed", workflowId: key, marker };
    }
    case "closed-snapshot": {
      const snapshot = JSON.parse(message.value.toString("utf8")) as {
        chunks: number;
        count: number;
        takenAt: number;
        seqFloor?: number;
      };
      return {
        kind: "closedSnapshot",
        chunks: snapshot.chunks,
        count: snapshot.count,
        takenAt: snapshot.takenAt,
        seqFloor: snapshot.seqFloor ?? 0,
      };
    }
    case "closed-chunk":
      return {
        kind: "closedChunk",
        index: Number(key.slice(CLOSED_SNAPSHOT_KEY.length + 1)),
        packed: message.value,
      };
    case "closed-delta":
      return {
        kind: "closedDelta",
        index: Number(key.slice(CLOSED_DELTA_KEY.length + 1)),
        packed: message.value,
      };
    case "partition": {
      const { builtAt } = JSON.parse(message.value.toString("utf8")) as { builtAt: number };
      return { kind: "partition", builtAt };
    }
    default:
      if (message.value.length === 0) return undefined;
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
