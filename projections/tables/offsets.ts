import type { ReadModelDb } from "../read-model-db";

export interface OffsetKey {
  consumerGroup: string;
  topic: string;
  partition: number;
}

/**
 * Locks the partition's offset row for the rest of the transaction and returns the next offset
 * to project (0 when there is no row yet). The lock is what serialises two projectors that both
 * believe they own the partition during a rebalance: the second sees what the first committed.
 * On SQLite the write takes the database's one write lock, which serialises them the same way.
 */
export async function lockOffset(db: ReadModelDb, key: OffsetKey): Promise<bigint> {
  const row = await db.db
    .insertInto("weft_projector_offsets")
    .values({
      consumer_group: key.consumerGroup,
      topic: key.topic,
      partition: key.partition,
      next_offset: 0,
    })
    .onConflict((oc) =>
      oc
        .columns(["consumer_group", "topic", "partition"])
        .doUpdateSet((eb) => ({ next_offset: eb.ref("weft_projector_offsets.next_offset") })),
    )
    .returning("next_offset")
    .executeTakeFirstOrThrow();
  return BigInt(row.next_offset);
}

export async function saveOffset(
  db: ReadModelDb,
  key: OffsetKey,
  nextOffset: bigint,
): Promise<void> {
  await db.db
    .updateTable("weft_projector_offsets")
    .set({ next_offset: nextOffset.toString() })
    .where("consumer_group", "=", key.consumerGroup)
    .where("topic", "=", key.topic)
    .where("partition", "=", key.partition)
    .execute();
}

/** The stored next offsets of some partitions; 0 for a partition never projected. */
export async function readOffsets(
  db: ReadModelDb,
  consumerGroup: string,
  topic: string,
  partitions: readonly number[],
): Promise<Map<number, bigint>> {
  const offsets = new Map<number, bigint>(partitions.map((p) => [p, 0n]));
  if (partitions.length === 0) return offsets;
  const rows = await db.db
    .selectFrom("weft_projector_offsets")
    .select(["partition", "next_offset"])
    .where("consumer_group", "=", consumerGroup)
    .where("topic", "=", topic)
    .where((eb) => db.dialect.inList(eb.ref("partition"), partitions))
    .execute();
  for (const row of rows) offsets.set(Number(row.partition), BigInt(row.next_offset));
  return offsets;
}
