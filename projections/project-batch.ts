import type { KafkaMessage } from "kafkajs";
import type { Pool } from "pg";
import type { Logger } from "../core/logger";
import { historyCodec } from "../schemas/codec";
import type { HistoryEvent } from "../schemas/types";
import { inTransaction } from "./database";
import { foldEvents } from "./fold-events";
import type { ProjectionChanges } from "./rows";
import { lockOffset, saveOffset, type OffsetKey } from "./tables/offsets";
import { loadRunStates } from "./tables/runs";
import { writeChanges } from "./write-changes";

export interface DeadRecord {
  message: KafkaMessage;
  reason: string;
}

export interface BatchInput {
  key: OffsetKey;
  /** Records of one partition, in offset order. */
  records: readonly KafkaMessage[];
  /** The offset after the batch: its last record (control records included) + 1. */
  nextOffset: bigint;
  /**
   * Where this projector believes the stored offset is. A stored offset below it means the
   * read models were emptied under it (`replay projections`): it must read again from there.
   */
  expectedOffset: bigint;
  /** False once the partition was sought or revoked since the batch was fetched. */
  isCurrent(): boolean;
  /** Sends records to the DLQ; called inside the transaction, so a failed send projects nothing. */
  deadLetter(records: readonly DeadRecord[]): Promise<void>;
  /** Dead-letter every record with this reason instead of projecting it. */
  poisonReason?: string;
}

export type BatchOutcome =
  | { kind: "committed"; nextOffset: bigint; changes: ProjectionChanges }
  /** The stored offset went back (the tables were emptied): read again from `storedOffset`. */
  | { kind: "rewound"; storedOffset: bigint }
  /** Another seek or assignment superseded the batch: nothing was written. */
  | { kind: "stale" };

/**
 * Projects one batch of a partition in one PostgreSQL transaction: rows and the partition's
 * next offset commit together or not at all (exactly once). Records below the stored offset
 * were projected already, by this process before a crash or by another during a rebalance,
 * and are skipped.
 */
export async function projectBatch(
  pool: Pool,
  input: BatchInput,
  log: Logger,
): Promise<BatchOutcome> {
  return inTransaction(pool, async (client): Promise<BatchOutcome> => {
    const stored = await lockOffset(client, input.key);
    if (!input.isCurrent()) return { kind: "stale" };
    if (stored < input.expectedOffset) return { kind: "rewound", storedOffset: stored };
    const fresh = input.records.filter((m) => BigInt(m.offset) >= stored);
    const events: HistoryEvent[] = [];
    const dead: DeadRecord[] = [];
    for (const message of fresh) {
      if (input.poisonReason !== undefined) {
        dead.push({ message, reason: input.poisonReason });
        continue;
      }
      try {
        events.push(historyCodec.decode(message.value, message.headers));
      } catch (err) {
        dead.push({ message, reason: (err as Error).message });
      }
    }
    const workflowIds = [...new Set(events.map((e) => e.workflowId))];
    const changes = foldEvents(await loadRunStates(client, workflowIds), events, log);
    // After the fold, which may refuse the batch, so a refused batch sends nothing twice.
    if (dead.length > 0) await input.deadLetter(dead);
    await writeChanges(client, changes);
    const next = input.nextOffset > stored ? input.nextOffset : stored;
    if (next !== stored) await saveOffset(client, input.key, next);
    return { kind: "committed", nextOffset: next, changes };
  });
}

/**
 * Whether an error is about the data of the batch, so that projecting its records one by one
 * finds the record at fault: a PostgreSQL data exception (class 22), integrity violation (23) or
 * program limit (54), or an event time out of range. Anything else (connection lost, server
 * restarting) is retried as it is.
 */
export function isDataError(err: unknown): boolean {
  if (err instanceof RangeError) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}
