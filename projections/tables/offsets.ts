import type { Queryable } from "../database";

export interface OffsetKey {
  consumerGroup: string;
  topic: string;
  partition: number;
}

/**
 * Locks the partition's offset row for the rest of the transaction and returns the next offset
 * to project (0 when there is no row yet). The lock is what serialises two projectors that both
 * believe they own the partition during a rebalance: the second sees what the first committed.
 */
export async function lockOffset(db: Queryable, key: OffsetKey): Promise<bigint> {
  const { rows } = await db.query<{ next_offset: string }>(
    `INSERT INTO weft_projector_offsets AS o (consumer_group, topic, partition, next_offset)
     VALUES ($1, $2, $3, 0)
     ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET next_offset = o.next_offset
     RETURNING next_offset`,
    [key.consumerGroup, key.topic, key.partition],
  );
  return BigInt(rows[0]!.next_offset);
}

export async function saveOffset(db: Queryable, key: OffsetKey, nextOffset: bigint): Promise<void> {
  await db.query(
    `UPDATE weft_projector_offsets SET next_offset = $4
      WHERE consumer_group = $1 AND topic = $2 AND partition = $3`,
    [key.consumerGroup, key.topic, key.partition, nextOffset.toString()],
  );
}

/** The stored next offsets of some partitions; 0 for a partition never projected. */
export async function readOffsets(
  db: Queryable,
  consumerGroup: string,
  topic: string,
  partitions: readonly number[],
): Promise<Map<number, bigint>> {
  const offsets = new Map<number, bigint>(partitions.map((p) => [p, 0n]));
  if (partitions.length === 0) return offsets;
  const { rows } = await db.query<{ partition: number; next_offset: string }>(
    `SELECT partition, next_offset FROM weft_projector_offsets
      WHERE consumer_group = $1 AND topic = $2 AND partition = ANY($3::int[])`,
    [consumerGroup, topic, partitions],
  );
  for (const row of rows) offsets.set(row.partition, BigInt(row.next_offset));
  return offsets;
}
