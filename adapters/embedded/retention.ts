import type { PartitionState, Segment } from "./segment";

/** What retention asks of the log. */
export interface RetentionContext {
  /** The lowest offset any consumer group committed on the partition; undefined when none did. */
  committedFloor(partition: PartitionState): number | undefined;
  /** The retention of a delete-policy topic's records, in ms; -1: for ever. */
  retentionMs(partition: PartitionState): number;
  /**
   * Whether the topic was given its own `retention.ms`: then its records go that long after
   * their segment was sealed, read or not, as Kafka's retention does.
   */
  ownRetention(partition: PartitionState): boolean;
}

/**
 * Retention of the sealed segments (oldest first; the active segment is never touched):
 * - a delete-policy topic's records in a segment are forgotten (dropped from the partition's
 *   index) once every consumer group that committed on their partition committed past them
 *   and the segment was sealed at least the log's retention ago. A partition no group
 *   commits on keeps its records: someone may still read them. A topic created with its own
 *   `retention.ms` (the step logs, which the projector reads without committing) loses its
 *   records that long after their segment was sealed, whoever read them, as on a broker.
 * - a segment none of whose records is held any more (dropped, superseded in a compacted topic,
 *   none of a topic kept for ever) can be deleted; one holding a tombstone only once it is the
 *   oldest, since deleting it first would bring the key's older record back at the next open.
 * Returns the segments to delete.
 */
export function applyRetention(
  sealed: readonly Segment[],
  now: number,
  context: RetentionContext,
): Segment[] {
  const deletable: Segment[] = [];
  let oldest = true;
  for (const segment of sealed) {
    let held = segment.pinned > 0;
    for (const [partition, range] of segment.ranges) {
      if (range.dropped || partition.topic.compacted) continue;
      const retention = context.retentionMs(partition);
      if (retention < 0) continue;
      const floor = context.committedFloor(partition);
      const delivered =
        context.ownRetention(partition) || (floor !== undefined && floor > range.last);
      if (delivered && now - segment.sealedAt! >= retention) {
        partition.index.forgetRange(range.first, range.last);
        range.dropped = true;
      } else {
        held = true;
      }
    }
    if (!held && (!segment.tombstones || oldest)) deletable.push(segment);
    else oldest = false;
  }
  return deletable;
}
