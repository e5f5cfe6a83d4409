import type { PartitionState, Segment } from "./segment";

/** What retention asks of the log. */
export interface RetentionContext {
  /** The lowest offset any consumer group committed on the partition; undefined when none did. */
  committedFloor(partition: PartitionState): number | undefined;
  /** The retention of a delete-policy topic's records, in ms; -1: for ever. */
  retentionMs(partition: PartitionState): number;
}

/**
 * Retention of the sealed segments (oldest first; the active segment is never touched):
 * - a delete-policy topic's records in a segment are forgotten (dropped from the partition's
 *   index) once every consumer group that committed on their partition committed past them
 *   and the segment was sealed at least the topic's retention ago. A partition no group
 *   commits on keeps its records: someone may still read them.
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
      if (floor !== undefined && floor > range.last && now - segment.sealedAt! >= retention) {
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
