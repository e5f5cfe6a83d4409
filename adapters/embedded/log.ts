/**
 * The embedded log's storage: segments on disk, a few bytes per record in memory.
 *
 * Files (in the log's directory):
 * - `log-<n>.wal`, the segments: each starts with MAGIC and holds frames (frames.ts). Frames are
 *   appended to the last one, the active segment; once it would pass `segmentBytes` the log
 *   rolls: the next segment is written whole to a temporary file and renamed (so it exists
 *   whole or not at all), starting with a checkpoint frame (topics, each partition's end,
 *   committed offsets, the log's ID). A frame is never split: a transaction's records and
 *   offsets stay one frame in one segment, visible together or not at all.
 * - `log-<n>.idx`, beside each sealed segment (segment-index.ts): where each of its records is,
 *   and its compacted topics' keys. Written at the roll (also by temporary file and rename); a
 *   missing or bad one is rebuilt by scanning its segment.
 *
 * Opening replays the active segment (a bounded size) from its checkpoint a frame at a time,
 * and reads the sealed segments' indexes, not their records (history's blocks as ranges); the
 * compacted topics' live records come from the checkpoint, which carries them: restart time
 * follows the segments held and the open runs, not every record ever written. Only the active
 * segment can have a torn tail (a sealed one was complete before the next was created); a bad
 * frame anywhere else is corruption
 * (LogCorruptError naming the segment file and the byte offset), found at open in the active
 * segment or in a sealed one without a valid index, and by every read of a frame (each checks
 * its CRC), and by `weft repair`, which scans every segment.
 *
 * Memory: per partition, three typed arrays (segment, frame position, place in the frame: 12
 * bytes a record; partition-index.ts), shifted as retention forgets their oldest records, and
 * for history (kept for ever) only over the active segment: its sealed records' positions are
 * read back from their segment's index when read; for a compacted topic an entry per live
 * record only (compacted-index.ts: the runs changelog's offsets are almost all superseded); per
 * segment a few numbers per partition (segment.ts); compacted topics' live keys; a small cache
 * of decoded frames (frame-cache.ts), which spares the disk the reads of what was just written.
 * Records are read from disk (pread) when fetched.
 *
 * Retention (retention.ts), at each roll, every `retentionCheckMs` and at open, over sealed
 * segments only: a delete-policy topic's records (commands, tasks) are forgotten once every
 * consumer group that committed on their partition committed past them and their segment was
 * sealed `retentionMs` ago; a topic created with its own `retention.ms` (step logs) loses its
 * records that long after their segment was sealed, committed past or not; a compacted
 * topic's record is forgotten when a later record of its key (or a tombstone) supersedes it; a
 * topic with `retention.ms` -1 (history, the audit log) is kept for ever. A segment none of whose
 * records is held any more is deleted with its index. The metadata it recorded lives on in the
 * later segments' checkpoints.
 *
 * Offsets stay the index of a record in its partition: gone records leave gaps (read as empty
 * records, as compaction's do), and the partition's low watermark moves past a gone prefix.
 *
 * A log written by a Weft before segments (one `log.wal`) is renamed to the first segment at
 * its first open here (its frames are the same), and reported.
 */
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { LogCorruptError } from "../../core/errors";
import { unknownTopicOrPartition } from "./errors";
import { FrameCache } from "./frame-cache";
import {
  encodeFrame,
  HEADER_BYTES,
  identityFrame,
  MAGIC,
  readFrame,
  type CheckpointFrame,
  type CheckpointLive,
  type Frame,
  type FrameFault,
  type OffsetEntry,
  type RecordEntry,
} from "./frames";
import { lockDirectory, type DirectoryLock } from "./lock";
import { scanLog, scanLogFile, type LogExtent, type LogScan } from "./log-scan";
import { CompactedIndex } from "./compacted-index";
import { NO_SEGMENT, PartitionIndex, type SealedLocations } from "./partition-index";
import { applyRetention } from "./retention";
import { Segment, type PartitionState, type TopicState } from "./segment";
import {
  FIRST_SEGMENT,
  indexFile,
  LEGACY_LOG_FILE,
  leftoverTemporaryFiles,
  listSegments,
  readAll,
  segmentFile,
  syncDirectory,
  writeFileAtomically,
} from "./segment-files";
import {
  bytesOf,
  copyInto,
  encodeIndex,
  KeyCollector,
  NO_POSITION,
  extentOf,
  readIndex,
  type BlockHeader,
  type IndexBlock,
  type SegmentIndex,
} from "./segment-index";

export { FIRST_SEGMENT, LEGACY_LOG_FILE, segmentFile } from "./segment-files";

/** Past this size the active segment is sealed and a new one begun. */
export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;
/** How long delivered records of delete-policy topics are kept once their segment is sealed. */
export const DEFAULT_RETENTION_MS = 60_000;
const DEFAULT_RETENTION_CHECK_MS = 10_000;
const DEFAULT_CACHE_BYTES = 8 * 1024 * 1024;
/** What a first read of a frame asks of the disk; a larger frame takes a second read. */
const READ_AHEAD = 16 * 1024;

/**
 * When the log calls fdatasync. A killed process loses nothing in any mode (the OS page cache
 * survives it); these modes are about the machine crashing or losing power.
 * - "always": before a write is acknowledged (each append waits for the disk).
 * - "interval": at most `syncIntervalMs` after a write (default): a machine crash loses at
 *   most that much acknowledged work, never part of a transaction.
 * - "never": left to the OS.
 */
export type SyncMode = "always" | "interval" | "never";

export interface LogOptions {
  directory: string;
  sync?: SyncMode;
  syncIntervalMs?: number;
  /** Past this size the active segment is sealed and a new one begun (default 16 MiB). */
  segmentBytes?: number;
  /**
   * How long records of delete-policy topics that every consumer group committed past are
   * kept once their segment is sealed, for topics created without `retention.ms` (default
   * 60 s; -1: for ever).
   */
  retentionMs?: number;
  /** How often retention runs besides at each roll (default 10 s). */
  retentionCheckMs?: number;
  /** Bytes of decoded frames kept for reads (default 8 MiB). */
  cacheBytes?: number;
  /**
   * Told when opening dropped a torn last frame (a write cut short by a crash; the bytes are
   * kept aside). Damage before the end is not dropped: opening throws LogCorruptError.
   */
  onTornTail?(info: {
    validBytes: number;
    droppedBytes: number;
    fault: FrameFault;
    savedTo: string;
  }): void;
  /** Told when opening found a log of one file (`log.wal`) and made it the first segment. */
  onMigrated?(info: { from: string; to: string; bytes: number }): void;
}

interface LogOpening {
  created: boolean;
  droppedTail: boolean;
  idAdded: boolean;
  migrated: boolean;
  /**
   * Where this open found the compacted topics' live records: the active segment's checkpoint,
   * or every sealed segment's keys (a log from a Weft before checkpoints carried them, or one
   * a repair cut).
   */
  liveRecordsFrom?: "checkpoint" | "segments";
}

export interface StoredRecord {
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly [string, Buffer][];
  /** Bytes of key, value and headers: what fetch limits count. */
  readonly size: number;
}

/**
 * What an offset without a record reads as (compacted, dropped by retention, or in a deleted
 * segment): its offset stays taken, as in Kafka, where compaction leaves gaps.
 */
/** Sealed segments' indexes kept decoded for reads of history's sealed records (~1 MB each). */
const SEALED_INDEXES_CACHED = 4;

const NO_CHECKPOINT = "does not start with a checkpoint, as every segment after the first does";

/** The index's blocks of partitions `wanted` by "topic\0partition" (the others are let go). */
function blocksByPartition(
  index: SegmentIndex,
  wanted: (block: IndexBlock) => boolean,
): Map<string, IndexBlock> {
  return new Map(index.blocks.filter(wanted).map((b) => [offsetKey(b.topic, b.partition), b]));
}

/** Offsets one fetch looks at, at most: gaps cost a look each, so a fetch stays short. */
const MAX_SCAN = 1 << 18;

export interface LogFetch {
  records: StoredRecord[];
  /** The offset of each record. */
  offsets: number[];
  /** The offset after the last one scanned: the next fetch starts there. */
  end: number;
}

const COMPACTED: StoredRecord = Object.freeze({
  timestamp: 0,
  key: null,
  value: null,
  headers: Object.freeze([]),
  size: 0,
});

export interface AppendRecord {
  topic: string;
  partition: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer][];
}

export interface OffsetCommit {
  group: string;
  topic: string;
  partition: number;
  offset: number;
}

const offsetKey = (topic: string, partition: number) => `${topic}\0${partition}`;

/**
 * A durable, append-only log of topics with partitions, in segment files (see the top of this
 * file). Every change (topic, records + offsets of a transaction, offset commit) is one frame,
 * written with one write before it becomes visible. Offsets are the index of a record in its
 * partition.
 *
 * One process owns the directory (see lock.ts). All methods are synchronous: appends are
 * atomic with respect to every other call in the process.
 */
export class EmbeddedLog {
  private readonly topics = new Map<string, TopicState>();
  /** group → "topic\0partition" → next offset to read */
  private readonly offsets = new Map<string, Map<string, number>>();
  private readonly epochs = new Map<string, number>();
  /** Every segment on disk, oldest first; the last is the active one. */
  private readonly segments = new Map<number, Segment>();
  private active!: Segment;
  private fd: number | undefined;
  /** Frames in the active segment after its checkpoint: a roll needs at least one. */
  private activeFrames = 0;
  /** Bytes of the active segment before its first frame after the checkpoint. */
  private headBytes = 0;
  private dirty = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly sync: SyncMode;
  private readonly syncIntervalMs: number;
  private readonly segmentBytes: number;
  private readonly retentionMs: number;
  private readonly cache: FrameCache;
  private recordCount = 0;
  /**
   * The blocks of a few sealed segments' indexes, read back for partitions that keep their
   * sealed records on disk (history): segment → "topic\0partition" → block. Oldest first.
   */
  private readonly sealedIndexes = new Map<number, Map<string, IndexBlock>>();
  private logId: string | undefined;
  private readonly scratch = Buffer.allocUnsafe(READ_AHEAD);

  private constructor(
    readonly directory: string,
    private readonly lock: DirectoryLock,
    options: LogOptions,
    /** What opening found and did. */
    private opening: LogOpening,
  ) {
    this.sync = options.sync ?? "interval";
    this.syncIntervalMs = options.syncIntervalMs ?? 100;
    this.segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
    this.cache = new FrameCache(options.cacheBytes ?? DEFAULT_CACHE_BYTES);
  }

  static async open(options: LogOptions): Promise<EmbeddedLog> {
    mkdirSync(options.directory, { recursive: true });
    const directory = realpathSync(options.directory);
    const lock = await lockDirectory(directory);
    try {
      // A roll cut short: the segment or index it was writing was never renamed into place.
      for (const name of leftoverTemporaryFiles(directory)) unlinkSync(join(directory, name));
      const migrated = migrateLegacyLog(directory, options);
      let ids = listSegments(directory);
      let created = false;
      if (ids.length === 0) {
        // A new log: its first segment, with its identity, whole or not at all.
        writeFileAtomically(
          join(directory, FIRST_SEGMENT),
          Buffer.concat([MAGIC, encodeFrame(identityFrame())]),
          options.sync !== "never",
        );
        ids = [0];
        created = true;
      }
      const file = join(directory, segmentFile(ids[ids.length - 1]!));
      const fd = openSync(file, "r+");
      let log: EmbeddedLog;
      try {
        const size = fstatSync(fd).size;
        const head = Buffer.alloc(Math.min(size, MAGIC.length));
        readAll(fd, head, 0);
        if (ids.length === 1 && size < MAGIC.length && head.equals(MAGIC.subarray(0, size))) {
          // Empty, or cut short while it was being created (by a Weft before segments): a new log.
          const fresh = Buffer.concat([MAGIC, encodeFrame(identityFrame())]);
          writeSync(fd, fresh, 0, fresh.length, 0);
          created = true;
        } else {
          checkMagic(file, head);
        }
        log = new EmbeddedLog(directory, lock, options, {
          created,
          droppedTail: false,
          idAdded: false,
          migrated,
        });
        log.fd = fd;
      } catch (err) {
        closeSync(fd);
        throw err;
      }
      try {
        const { damage, validEnd, size } = log.load(ids);
        if (damage?.kind === "corrupt") throw new LogCorruptError({ file, directory, ...damage });
        if (damage?.kind === "torn") {
          // A write cut short by a crash: keep the bytes aside, drop them.
          const savedTo = `${file}.tail-${Date.now()}`;
          const tail = Buffer.alloc(size - validEnd);
          readAll(fd, tail, validEnd);
          writeFileSync(savedTo, tail);
          ftruncateSync(fd, validEnd);
          fdatasyncSync(fd);
          options.onTornTail?.({
            validBytes: validEnd,
            droppedBytes: damage.bytes,
            fault: damage.fault,
            savedTo,
          });
          log.opening = { ...log.opening, droppedTail: true };
        }
      } catch (err) {
        log.closeFiles();
        throw err;
      }
      if (log.logId === undefined) {
        // A log made before identities existed gets one now.
        log.write(identityFrame());
        log.opening = { ...log.opening, idAdded: true };
      }
      log.retain();
      const every = options.retentionCheckMs ?? DEFAULT_RETENTION_CHECK_MS;
      log.retentionTimer = setInterval(() => log.retain(), every);
      log.retentionTimer.unref();
      return log;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /**
   * The log's identity: a random ID written in its first frame (and anew by a repair that cut
   * it). Another ID means another log, even in the same directory: the files were deleted,
   * cut, or replaced by another directory's.
   */
  get id(): string {
    return this.logId!;
  }

  /** True when this open created the log (there were no segment files, or an empty one). */
  get created(): boolean {
    return this.opening.created;
  }

  /** True when this open dropped a torn last frame (a write cut short by a crash). */
  get droppedTail(): boolean {
    return this.opening.droppedTail;
  }

  /** True when the log predates identities and got its ID at this open. */
  get idAdded(): boolean {
    return this.opening.idAdded;
  }

  /** True when this open made a one-file log (`log.wal`) the first segment. */
  get migrated(): boolean {
    return this.opening.migrated;
  }

  /** Where this open found the compacted topics' live records (undefined: one segment only). */
  get liveRecordsFrom(): "checkpoint" | "segments" | undefined {
    return this.opening.liveRecordsFrom;
  }

  /** Records appended since open, plus those opening found in the segments. */
  get records(): number {
    return this.recordCount;
  }

  /** Bytes of the segment files. */
  get bytes(): number {
    let bytes = 0;
    for (const segment of this.segments.values()) bytes += segment.size;
    return bytes;
  }

  /** The numbers of the segments on disk, oldest first (the last is the active one). */
  segmentIds(): number[] {
    return [...this.segments.keys()];
  }

  /**
   * Creates a topic. In a compacted one a record supersedes the earlier records of its key and
   * a tombstone (null value) removes the key. `retentionMs`: see LogOptions.retentionMs.
   */
  createTopic(topic: string, partitions: number, compacted = false, retentionMs?: number): boolean {
    if (this.topics.has(topic)) return false;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000)
      throw new RangeError(`topic ${topic}: partitions must be 1–10000, got ${partitions}`);
    if (compacted) this.write([1, topic, partitions, true]);
    else if (retentionMs !== undefined) this.write([1, topic, partitions, false, retentionMs]);
    else this.write([1, topic, partitions]);
    return true;
  }

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length;
  }

  /**
   * What the log holds in memory to find a partition's records: offsets in its arrays, and
   * sealed ranges whose positions stay in their segment's index file (history's).
   */
  locationsHeld(topic: string, partition: number): { offsets: number; sealedRanges: number } {
    const { index } = this.partition(topic, partition);
    return { offsets: index.held, sealedRanges: index.sealedRanges };
  }

  /** The offset the next record of the partition gets (every record is committed). */
  highWatermark(topic: string, partition: number): number {
    return this.partition(topic, partition).index.end;
  }

  /** The first offset that may hold a record: those before are gone (retention, compaction). */
  lowWatermark(topic: string, partition: number): number {
    return this.partition(topic, partition).index.start;
  }

  /**
   * What a consumer's fetch gets, as from Kafka: the records still held from `offset` on (at
   * least one when there is one, up to about `maxBytes`), each with its offset, and `end`, the
   * offset after the last one scanned. Gaps (compacted, dropped, deleted) are skipped, not
   * returned: a compacted changelog read from 0 costs its live records, not every record it
   * ever had. A scan stops after `MAX_SCAN` offsets, so one fetch over a long run of gaps
   * stays short; its `end` then says how far it went.
   */
  fetch(topic: string, partition: number, offset: number, maxBytes: number): LogFetch {
    const { index } = this.partition(topic, partition);
    const records: StoredRecord[] = [];
    const offsets: number[] = [];
    let bytes = 0;
    const limit = Math.min(index.end, offset + MAX_SCAN);
    let o = index.nextHeld(offset, limit);
    for (; o < limit; o = index.nextHeld(o + 1, limit)) {
      const record = this.recordAt(index.segmentOf(o), index.positionOf(o), index.slotOf(o));
      if (records.length > 0 && bytes + record.size > maxBytes) break;
      bytes += record.size;
      records.push(record);
      offsets.push(o);
    }
    return { records, offsets, end: o };
  }

  /**
   * Every offset from `offset` on, gaps included (as empty records), up to about `maxBytes`:
   * for tools and tests that look at the offsets themselves. Consumers use `fetch`.
   */
  read(topic: string, partition: number, offset: number, maxBytes: number): StoredRecord[] {
    const { index } = this.partition(topic, partition);
    const out: StoredRecord[] = [];
    let bytes = 0;
    for (let o = offset; o < index.end; o++) {
      const segment = index.segmentOf(o);
      if (segment === NO_SEGMENT) {
        out.push(COMPACTED);
        continue;
      }
      const record = this.recordAt(segment, index.positionOf(o), index.slotOf(o));
      if (o !== offset && bytes + record.size > maxBytes) break;
      bytes += record.size;
      out.push(record);
    }
    return out;
  }

  /**
   * Appends records and commits offsets in one frame: all become visible and durable
   * together, or (when the write fails) none does. Returns the offset each record got.
   */
  append(records: readonly AppendRecord[], commits: readonly OffsetCommit[]): number[] {
    for (const r of records) this.partition(r.topic, r.partition);
    if (records.length === 0 && commits.length === 0) return [];
    const offsets = records.map(() => 0);
    const next = new Map<PartitionState, number>();
    records.forEach((r, i) => {
      const log = this.partition(r.topic, r.partition);
      const at = next.get(log) ?? log.index.end;
      offsets[i] = at;
      next.set(log, at + 1);
    });
    this.write([
      2,
      records.map((r): RecordEntry => [
        r.topic,
        r.partition,
        r.timestamp,
        r.key,
        r.value,
        r.headers,
      ]),
      commits.map((c): OffsetEntry => [c.group, c.topic, c.partition, c.offset]),
    ]);
    return offsets;
  }

  committedOffset(group: string, topic: string, partition: number): number | undefined {
    return this.offsets.get(group)?.get(offsetKey(topic, partition));
  }

  deleteGroup(group: string): boolean {
    if (!this.offsets.has(group)) return false;
    this.write([3, group]);
    return true;
  }

  /**
   * The lowest offset the consumer groups that commit on the partition committed there: every
   * record below it was delivered to all of them. Undefined when no group commits on it.
   */
  committedFloor(topic: string, partition: number): number | undefined {
    const key = offsetKey(topic, partition);
    let floor: number | undefined;
    for (const byPartition of this.offsets.values()) {
      const offset = byPartition.get(key);
      if (offset !== undefined && (floor === undefined || offset < floor)) floor = offset;
    }
    return floor;
  }

  /** Starts a new epoch for a transactional ID: producers of older epochs are fenced. */
  bumpEpoch(transactionalId: string): number {
    const epoch = (this.epochs.get(transactionalId) ?? -1) + 1;
    this.epochs.set(transactionalId, epoch);
    return epoch;
  }

  epoch(transactionalId: string): number | undefined {
    return this.epochs.get(transactionalId);
  }

  /** Resolves when the partition grows past `offset`, when `wake` is called, or after `ms`. */
  waitForRecords(
    topic: string,
    partition: number,
    offset: number,
    ms: number,
    wakers: Set<() => void>,
  ): Promise<void> {
    const log = this.partition(topic, partition);
    if (log.index.end > offset) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        log.waiters.delete(done);
        wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      log.waiters.add(done);
      wakers.add(done);
    });
  }

  /**
   * Applies retention now (it also runs at each roll and every `retentionCheckMs`): forgets
   * delivered records and deletes segments that hold nothing any more (see retention.ts).
   */
  retain(now = Date.now()): void {
    if (this.fd === undefined) return;
    const floors = new Map<string, number>();
    for (const byPartition of this.offsets.values())
      for (const [key, offset] of byPartition)
        floors.set(key, Math.min(offset, floors.get(key) ?? Infinity));
    const sealed = [...this.segments.values()].filter((s) => s !== this.active);
    const deletable = applyRetention(sealed, now, {
      committedFloor: (p) => floors.get(offsetKey(p.topic.name, p.partition)),
      retentionMs: (p) => this.retentionOf(p.topic),
      ownRetention: (p) => p.topic.retentionMs !== undefined,
    });
    for (const segment of deletable) this.deleteSegment(segment);
  }

  async close(): Promise<void> {
    if (this.fd === undefined) return;
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    clearInterval(this.retentionTimer);
    if (this.dirty) fdatasyncSync(this.fd);
    this.closeFiles();
    this.cache.clear();
    for (const topic of this.topics.values())
      for (const p of topic.partitions) for (const wake of [...p.waiters]) wake();
    await this.lock.release();
  }

  private closeFiles(): void {
    for (const segment of this.segments.values()) {
      if (segment.fd !== undefined && segment.fd !== this.fd) closeSync(segment.fd);
      segment.fd = undefined;
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private partition(topic: string, partition: number): PartitionState {
    const partitions = this.topics.get(topic)?.partitions;
    if (!partitions) throw unknownTopicOrPartition(topic);
    const log = partitions[partition];
    if (!log) throw unknownTopicOrPartition(topic, partition);
    return log;
  }

  private retentionOf(topic: TopicState): number {
    return topic.retentionMs ?? this.retentionMs;
  }

  /** Records of this topic keep their segment whatever consumers commit. */
  private pins(topic: TopicState): boolean {
    return topic.compacted || this.retentionOf(topic) < 0;
  }

  // ---- opening ---------------------------------------------------------------------------

  /**
   * Builds the state: the active segment's checkpoint (topics, ends, offsets, ID), the sealed
   * segments' indexes (records), then the active segment's frames after its checkpoint.
   */
  private load(ids: readonly number[]): LogExtent {
    const activeId = ids[ids.length - 1]!;
    const file = join(this.directory, segmentFile(activeId));
    this.active = new Segment(activeId, file, fstatSync(this.fd!).size);
    this.segments.set(activeId, this.active);
    let head = true;
    const extent = scanLogFile(this.fd!, this.active.size, (frame, position) => {
      if (head) {
        head = false;
        if (frame[0] === 5) {
          this.loadSealedSegments(ids, frame);
          return;
        }
        if (ids.length > 1) throw new Error(`${file} ${NO_CHECKPOINT}`);
      }
      if (this.activeFrames === 0) this.headBytes = position;
      this.apply(frame, position);
      this.activeFrames++;
    });
    if (this.activeFrames === 0) this.headBytes = extent.validEnd;
    if (head && ids.length > 1 && extent.damage?.kind !== "corrupt")
      throw new Error(`${file} ${NO_CHECKPOINT}`);
    this.active.size = extent.validEnd;
    // Segments are kept oldest first: the active one, there while the sealed ones were read, last.
    this.segments.delete(activeId);
    this.segments.set(activeId, this.active);
    return extent;
  }

  /**
   * The sealed segments' records, from their indexes, and the compacted topics' live records,
   * from the active segment's checkpoint when it has them and they can be trusted (see
   * `liveRecordsOf`); then the partitions' ends as the active segment began.
   */
  private loadSealedSegments(ids: readonly number[], checkpoint: CheckpointFrame): void {
    const ends = this.applyCheckpoint(checkpoint);
    const sealed = ids.slice(0, -1);
    const sizes = new Map(
      sealed.map((id) => [id, statSync(join(this.directory, segmentFile(id))).size]),
    );
    const live = this.liveRecordsOf(checkpoint, sizes);
    for (const id of sealed) this.loadSealed(id, sizes.get(id)!, live !== undefined);
    if (live) this.loadLive(live, checkpoint[6] ?? []);
    this.opening.liveRecordsFrom = live ? "checkpoint" : "segments";
    for (const [topic, partitionEnds] of ends) {
      const partitions = this.topics.get(topic)?.partitions ?? [];
      partitionEnds.forEach((end, p) => partitions[p]?.index.extendTo(end));
    }
  }

  private applyCheckpoint(frame: CheckpointFrame): [string, number[]][] {
    const [, topics, ends, offsets, logId] = frame;
    for (const [name, partitions, compacted, retentionMs] of topics)
      this.addTopic(name, partitions, compacted, retentionMs ?? undefined);
    for (const [group, topic, partition, offset] of offsets)
      this.setOffset(group, topic, partition, offset);
    if (logId !== null) this.logId = logId;
    return ends;
  }

  /**
   * The compacted topics' live records the checkpoint carries, decoded; undefined when it
   * carries none (a Weft before them wrote it) or they may not match the segments: an index
   * is missing (a repair cut its segment, and may have cut a record the checkpoint names) or a
   * record lies beyond its segment's end. Opening then rebuilds them from the sealed segments'
   * keys, as before. A record whose segment is gone was superseded in the active segment
   * (a segment is deleted once none of its records is held): it is left out.
   */
  private liveRecordsOf(
    checkpoint: CheckpointFrame,
    sizes: ReadonlyMap<number, number>,
  ): LiveRecords[] | undefined {
    const carried = checkpoint[5];
    if (!carried) return undefined;
    for (const id of sizes.keys())
      if (!existsSync(join(this.directory, indexFile(id)))) return undefined;
    const live = carried.map(decodeLive);
    for (const { segments, positions } of live) {
      for (let i = 0; i < segments.length; i++) {
        const size = sizes.get(segments[i]!);
        if (size !== undefined && positions[i]! >= size) return undefined;
      }
    }
    return live;
  }

  /** The compacted partitions' live records, as a checkpoint carried them. */
  private loadLive(live: readonly LiveRecords[], tombstoneSegments: readonly number[]): void {
    for (const { topic, partition, keys, lengths, offsets, segments, positions, slots } of live) {
      const p = this.topics.get(topic)?.partitions[partition];
      if (!p?.latest) continue;
      let at = 0;
      for (let i = 0; i < offsets.length; i++) {
        const name = keys.toString("latin1", at, at + lengths[i]!);
        at += lengths[i]!;
        const offset = offsets[i]!;
        const segment = this.segments.get(segments[i]!);
        if (!segment) continue;
        p.index.put(offset, segment.id, positions[i]!, slots[i]!);
        segment.addRecord(p, offset);
        segment.pinned++;
        p.latest.set(name, offset);
        this.recordCount++;
      }
    }
    for (const id of tombstoneSegments) {
      const segment = this.segments.get(id);
      if (segment) segment.tombstones = true;
    }
  }

  /**
   * Whether a sealed block of a delete-policy partition is one retention forgets as soon as the
   * log is open (delivered, and sealed long enough ago), by the offsets the checkpoint
   * recorded: opening skips it rather than put every command and task ever into the index only
   * to forget them.
   */
  private forgottenAtOpen(p: PartitionState, sealedAt: number, last: number): boolean {
    const topic = p.topic;
    const retention = this.retentionOf(topic);
    if (topic.compacted || retention < 0 || Date.now() - sealedAt < retention) return false;
    if (topic.retentionMs !== undefined) return true;
    const floor = this.committedFloor(topic.name, p.partition);
    return floor !== undefined && floor > last;
  }

  /**
   * A sealed segment's records, from its index (or, when that is not valid, its frames); its
   * compacted partitions' blocks are skipped when the checkpoint carried their live records.
   */
  private loadSealed(id: number, size: number, liveCarried: boolean): void {
    const file = join(this.directory, segmentFile(id));
    // History's blocks become ranges, and blocks retention forgets at once are skipped: their
    // extents are all opening needs of them.
    const extentOnly = (block: BlockHeader) => {
      const p = this.topics.get(block.topic)?.partitions[block.partition];
      if (!p || p.latest) return false;
      return p.index.keepsSealedOnDisk || this.forgottenAtOpen(p, block.sealedAt, block.last);
    };
    let index = readIndex(join(this.directory, indexFile(id)), extentOnly);
    if (!index || index.bytes !== size || index.segment !== id) index = this.indexByScan(id, file);
    const segment = new Segment(id, file, size);
    segment.sealedAt = index.sealedAt;
    segment.keys = undefined;
    this.segments.set(id, segment);
    for (const block of index.blocks) {
      const p = this.topics.get(block.topic)?.partitions[block.partition];
      if (!p) continue;
      const pins = this.pins(p.topic);
      if (p.latest && liveCarried) continue;
      if (p.index.keepsSealedOnDisk) {
        this.loadSealedRange(segment, p, block, pins);
        continue;
      }
      // Given as an extent, it is one retention forgets at once (history's went above).
      if (
        block.extent ||
        this.forgottenAtOpen(p, segment.sealedAt, block.first + block.positions.length - 1)
      ) {
        this.recordCount += block.extent?.count ?? block.positions.length;
        continue;
      }
      for (let i = 0; i < block.positions.length; i++) {
        const position = block.positions[i]!;
        if (position === NO_POSITION) continue;
        const offset = block.first + i;
        p.index.put(offset, id, position, block.slots[i]!);
        segment.addRecord(p, offset);
        if (pins) segment.pinned++;
        this.recordCount++;
      }
      const keys = block.keys;
      if (!keys || !p.latest) continue;
      let at = 0;
      for (let k = 0; k < keys.offsets.length; k++) {
        const name = keys.bytes.toString("latin1", at, at + keys.lengths[k]!);
        at += keys.lengths[k]!;
        if (keys.tombstones[k]) segment.tombstones = true;
        this.compact(p, name, keys.offsets[k]!, keys.tombstones[k] === 1);
      }
    }
  }

  /** A block of a partition keeping sealed records on disk: one range, no positions. */
  private loadSealedRange(
    segment: Segment,
    p: PartitionState,
    block: IndexBlock,
    pins: boolean,
  ): void {
    // An index rebuilt by scanning has the positions, not the extent.
    const { first, last, count } = block.extent ?? extentOf(block.first, block.positions);
    if (count === 0) return;
    segment.addRecord(p, first);
    segment.addRecord(p, last);
    p.index.putSealed(first, last + 1, segment.id);
    if (pins) segment.pinned += count;
    this.recordCount += count;
  }

  private keepsSealedOnDisk(block: IndexBlock): boolean {
    return (
      this.topics.get(block.topic)?.partitions[block.partition]?.index.keepsSealedOnDisk ?? false
    );
  }

  /** One sealed segment's block of one partition, from its index file (a few are cached). */
  private sealedBlock(id: number, topic: string, partition: number): SealedLocations | undefined {
    let blocks = this.sealedIndexes.get(id);
    if (blocks) {
      this.sealedIndexes.delete(id);
    } else {
      const file = join(this.directory, segmentFile(id));
      const size = this.segments.get(id)?.size ?? statSync(file).size;
      let index = readIndex(join(this.directory, indexFile(id)));
      if (!index || index.bytes !== size || index.segment !== id)
        index = this.indexByScan(id, file);
      blocks = blocksByPartition(index, (b) => this.keepsSealedOnDisk(b));
    }
    this.cacheSealedIndex(id, blocks);
    return blocks.get(offsetKey(topic, partition));
  }

  /** Keeps a sealed index's blocks as the most recent; the oldest beyond a few go. */
  private cacheSealedIndex(id: number, blocks: Map<string, IndexBlock>): void {
    this.sealedIndexes.set(id, blocks);
    for (const old of this.sealedIndexes.keys()) {
      if (this.sealedIndexes.size <= SEALED_INDEXES_CACHED) break;
      this.sealedIndexes.delete(old);
    }
  }

  /**
   * A sealed segment's index, made by reading all of it (its index was missing: the roll that
   * sealed it was cut short; or not valid). Any damage in a sealed segment is corruption: it
   * was whole before the next segment was begun. The index is written for the next open.
   */
  private indexByScan(id: number, file: string): SegmentIndex {
    const data = checkMagic(file, readFileSync(file));
    const scan = scanLog(data);
    if (scan.damage) {
      const { damage } = scan;
      throw new LogCorruptError({
        file,
        directory: this.directory,
        offset: damage.offset,
        bytes: damage.bytes,
        fault: damage.fault,
        ...(damage.kind === "corrupt"
          ? { nextFrame: damage.nextFrame, framesAfter: damage.framesAfter }
          : { framesAfter: 0 }),
      });
    }
    const index = indexFrames(id, data.length, statSync(file).mtimeMs, scan);
    writeFileAtomically(
      join(this.directory, indexFile(id)),
      encodeIndex(index),
      this.sync !== "never",
    );
    return index;
  }

  // ---- writing ---------------------------------------------------------------------------

  /** Writes a frame (one write call), then applies it: nothing is visible before it is written. */
  private write(frame: Frame): void {
    if (this.fd === undefined) throw new Error(`the embedded log in ${this.directory} is closed`);
    const bytes = encodeFrame(frame);
    // The checkpoint does not count: it grows with the compacted topics' live records.
    const written = this.active.size - this.headBytes;
    if (this.activeFrames > 0 && written + bytes.length > this.segmentBytes) this.roll();
    const fd = this.fd;
    const position = this.active.size;
    try {
      let done = 0;
      while (done < bytes.length)
        done += writeSync(fd, bytes, done, bytes.length - done, position + done);
    } catch (err) {
      // A partial write (disk full) must not stay in front of the next frame.
      try {
        ftruncateSync(fd, position);
      } catch {
        // The next open drops the torn frame anyway.
      }
      throw err;
    }
    this.active.size += bytes.length;
    this.activeFrames++;
    if (this.sync === "always") fdatasyncSync(fd);
    else if (this.sync === "interval") this.scheduleSync();
    if (frame[0] === 2) this.cache.set(this.active.id, position, frame[1], bytes.length);
    this.apply(frame, position);
  }

  /**
   * Seals the active segment and begins the next: written whole under a temporary name and
   * renamed, starting with a checkpoint; then the sealed segment's index; then retention.
   * A crash before the rename leaves the sealed segment active; after it, before the index,
   * the next open rebuilds the index from the segment.
   */
  private roll(): void {
    const sealed = this.active;
    const durable = this.sync !== "never";
    if (durable) {
      fdatasyncSync(this.fd!);
      this.dirty = false;
    }
    const id = sealed.id + 1;
    const file = join(this.directory, segmentFile(id));
    const head = Buffer.concat([MAGIC, encodeFrame(this.checkpoint())]);
    writeFileAtomically(file, head, durable);
    const fd = openSync(file, "r+");
    sealed.fd = this.fd;
    sealed.sealedAt = Date.now();
    this.fd = fd;
    this.active = new Segment(id, file, head.length);
    this.segments.set(id, this.active);
    this.activeFrames = 0;
    this.headBytes = head.length;
    const index = this.indexOf(sealed);
    writeFileAtomically(join(this.directory, indexFile(sealed.id)), encodeIndex(index), durable);
    sealed.keys = undefined;
    // Partitions kept for ever now read the sealed records' positions back from that index.
    for (const [p, range] of sealed.ranges) p.index.seal(range.last, sealed.id);
    this.cacheSealedIndex(
      sealed.id,
      blocksByPartition(index, (b) => this.keepsSealedOnDisk(b)),
    );
    this.retain();
  }

  private checkpoint(): CheckpointFrame {
    const topics = [...this.topics.values()];
    const offsets: OffsetEntry[] = [];
    for (const [group, byPartition] of this.offsets) {
      for (const [key, offset] of byPartition) {
        const at = key.lastIndexOf("\0");
        offsets.push([group, key.slice(0, at), Number(key.slice(at + 1)), offset]);
      }
    }
    const live: CheckpointLive[] = [];
    for (const t of topics) {
      if (!t.compacted) continue;
      for (const p of t.partitions) live.push(encodeLive(p));
    }
    const tombstoneSegments = [...this.segments.values()]
      .filter((s) => s.tombstones)
      .map((s) => s.id);
    return [
      5,
      topics.map((t) => [t.name, t.partitions.length, t.compacted, t.retentionMs ?? null]),
      topics.map((t) => [t.name, t.partitions.map((p) => p.index.end)]),
      offsets,
      this.logId ?? null,
      live,
      tombstoneSegments,
    ];
  }

  /** The index of a segment being sealed, from memory. */
  private indexOf(segment: Segment): SegmentIndex {
    const blocks: IndexBlock[] = [];
    for (const [p, range] of segment.ranges) {
      const count = range.last - range.first + 1;
      const positions = new Uint32Array(count);
      const slots = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const offset = range.first + i;
        if (p.index.segmentOf(offset) === segment.id) {
          positions[i] = p.index.positionOf(offset);
          slots[i] = p.index.slotOf(offset);
        } else {
          positions[i] = NO_POSITION;
        }
      }
      const keys = segment.keys?.get(p)?.done();
      blocks.push({
        topic: p.topic.name,
        partition: p.partition,
        first: range.first,
        positions,
        slots,
        ...(keys ? { keys } : {}),
      });
    }
    return { segment: segment.id, bytes: segment.size, sealedAt: segment.sealedAt!, blocks };
  }

  private deleteSegment(segment: Segment): void {
    for (const [p, range] of segment.ranges) p.index.forgetRange(range.first, range.last);
    this.sealedIndexes.delete(segment.id);
    if (segment.fd !== undefined) closeSync(segment.fd);
    segment.fd = undefined;
    this.segments.delete(segment.id);
    this.cache.dropSegment(segment.id);
    for (const file of [segment.file, join(this.directory, indexFile(segment.id))]) {
      try {
        unlinkSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
  }

  private scheduleSync(): void {
    this.dirty = true;
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (this.fd === undefined || !this.dirty) return;
      this.dirty = false;
      fdatasyncSync(this.fd);
    }, this.syncIntervalMs);
    this.syncTimer.unref();
  }

  // ---- reading ---------------------------------------------------------------------------

  private recordAt(segment: number, position: number, slot: number): StoredRecord {
    const entries = this.cache.get(segment, position) ?? this.readFrameAt(segment, position);
    const [, , timestamp, key, value, headers] = entries[slot]!;
    let size = (key?.length ?? 0) + (value?.length ?? 0);
    for (const [k, v] of headers) size += k.length + v.length;
    return { timestamp, key, value, headers, size };
  }

  /** Reads a records frame from disk (checking its CRC) into the cache. */
  private readFrameAt(id: number, position: number): RecordEntry[] {
    const segment = this.segments.get(id)!;
    const fd = segment === this.active ? this.fd! : (segment.fd ??= openSync(segment.file, "r"));
    // One read into a scratch buffer serves most frames; the frame's bytes are then copied to a
    // buffer of their own size, as the decoded keys and values are views of it and the cache
    // keeps them (a view of a 16 KiB buffer would keep all of it).
    const scratch = this.scratch;
    const got = readSync(fd, scratch, 0, scratch.length, position);
    let frame = scratch.subarray(0, got);
    if (got >= HEADER_BYTES) {
      const total = HEADER_BYTES + scratch.readUInt32LE(0);
      if (total <= got) {
        frame = Buffer.from(scratch.subarray(0, total));
      } else if (total <= segment.size - position) {
        frame = Buffer.allocUnsafe(total);
        scratch.copy(frame, 0, 0, got);
        readSync(fd, frame, got, total - got, position + got);
      } else {
        frame = Buffer.from(frame);
      }
    }
    const read = readFrame(frame, 0);
    if (!read.ok || read.frame[0] !== 2) {
      throw new LogCorruptError({
        file: segment.file,
        directory: this.directory,
        offset: position,
        bytes: segment.size - position,
        fault: read.ok ? "has a payload that does not decode" : read.fault,
        framesAfter: 0,
      });
    }
    this.cache.set(id, position, read.frame[1], read.end);
    return read.frame[1];
  }

  // ---- applying --------------------------------------------------------------------------

  private addTopic(
    name: string,
    count: number,
    compacted: boolean,
    retentionMs: number | undefined,
  ): void {
    if (this.topics.has(name)) return;
    const topic: TopicState = { name, compacted, retentionMs, partitions: [] };
    // A topic kept for ever (history) keeps its sealed records' positions on disk, not here.
    const keptForEver = !compacted && retentionMs !== undefined && retentionMs < 0;
    for (let partition = 0; partition < count; partition++) {
      topic.partitions.push({
        topic,
        partition,
        index: compacted
          ? new CompactedIndex()
          : new PartitionIndex(
              0,
              keptForEver ? (segment) => this.sealedBlock(segment, name, partition) : undefined,
            ),
        waiters: new Set(),
        ...(compacted ? { latest: new Map<string, number>() } : {}),
      });
    }
    this.topics.set(name, topic);
  }

  private setOffset(group: string, topic: string, partition: number, offset: number): void {
    let byPartition = this.offsets.get(group);
    if (!byPartition) this.offsets.set(group, (byPartition = new Map<string, number>()));
    byPartition.set(offsetKey(topic, partition), offset);
  }

  /** The record at `offset` is no longer held; its segment is released if it pinned it. */
  private release(p: PartitionState, offset: number): void {
    const id = p.index.segmentOf(offset);
    if (id === NO_SEGMENT) return;
    const segment = this.segments.get(id);
    if (segment && this.pins(p.topic)) segment.pinned--;
    p.index.forget(offset);
  }

  /** A compacted partition took the record of `key` at `offset`: the key's earlier one goes. */
  private compact(p: PartitionState, key: string, offset: number, tombstone: boolean): void {
    const latest = p.latest!;
    const before = latest.get(key);
    if (before !== undefined) this.release(p, before);
    if (tombstone) {
      latest.delete(key);
      this.release(p, offset);
    } else {
      latest.set(key, offset);
    }
  }

  private apply(frame: Frame, position: number): void {
    switch (frame[0]) {
      case 1: {
        const [, topic, count, compacted, retentionMs] = frame;
        this.addTopic(topic, count, compacted === true, retentionMs);
        return;
      }
      case 2: {
        const segment = this.active;
        const touched = new Set<PartitionState>();
        frame[1].forEach(([topic, partition, , key, value], slot) => {
          const p = this.partition(topic, partition);
          const offset = p.index.end;
          p.index.put(offset, segment.id, position, slot);
          segment.addRecord(p, offset);
          if (this.pins(p.topic)) segment.pinned++;
          if (p.latest && key) {
            const tombstone = value === null;
            if (tombstone) segment.tombstones = true;
            let keys = segment.keys!.get(p);
            if (!keys) segment.keys!.set(p, (keys = new KeyCollector()));
            const name = key.toString("latin1");
            keys.add(offset, name, tombstone);
            this.compact(p, name, offset, tombstone);
          }
          touched.add(p);
        });
        this.recordCount += frame[1].length;
        for (const [group, topic, partition, offset] of frame[2])
          this.setOffset(group, topic, partition, offset);
        for (const log of touched) for (const wake of [...log.waiters]) wake();
        return;
      }
      case 3:
        this.offsets.delete(frame[1]);
        return;
      case 4:
        // The last identity is the log's: a repair gives the cut log a new one.
        this.logId = frame[1];
        return;
      case 5:
        // Checkpoints are read where segments begin (load), not replayed.
        return;
    }
  }
}

/**
 * A log of one file from a Weft before segments (`log.wal`) becomes the first segment: the
 * frames are the same, so renaming it is the whole conversion. Returns whether it did.
 */
function migrateLegacyLog(directory: string, options: LogOptions): boolean {
  const legacy = join(directory, LEGACY_LOG_FILE);
  if (!existsSync(legacy)) return false;
  const ids = listSegments(directory);
  if (ids.length > 0) {
    throw new Error(
      `${directory} holds both ${LEGACY_LOG_FILE} (a log of one file, from an earlier Weft) and segment files (${segmentFile(ids[0]!)}…): move one of them away`,
    );
  }
  const to = join(directory, FIRST_SEGMENT);
  const bytes = statSync(legacy).size;
  renameSync(legacy, to);
  syncDirectory(directory);
  options.onMigrated?.({ from: legacy, to, bytes });
  return true;
}

/**
 * The index of a segment from its frames: offsets start at its checkpoint's ends (or 0 for the
 * first segment), topics are those of its checkpoint and of the topic frames in it.
 */
export function indexFrames(
  id: number,
  bytes: number,
  sealedAt: number,
  scan: LogScan,
): SegmentIndex {
  const compacted = new Map<string, boolean>();
  const next = new Map<string, number>();
  const blocks = new Map<
    string,
    {
      block: Omit<IndexBlock, "positions" | "slots" | "keys">;
      positions: number[];
      slots: number[];
      keys?: KeyCollector;
    }
  >();
  scan.frames.forEach((frame, i) => {
    if (frame[0] === 5) {
      for (const [name, , isCompacted] of frame[1]) compacted.set(name, isCompacted);
      for (const [name, ends] of frame[2])
        ends.forEach((end, p) => next.set(offsetKey(name, p), end));
    } else if (frame[0] === 1) {
      compacted.set(frame[1], frame[3] === true);
    } else if (frame[0] === 2) {
      frame[1].forEach(([topic, partition, , key, value], slot) => {
        const k = offsetKey(topic, partition);
        const offset = next.get(k) ?? 0;
        next.set(k, offset + 1);
        let entry = blocks.get(k);
        if (!entry) {
          entry = { block: { topic, partition, first: offset }, positions: [], slots: [] };
          if (compacted.get(topic)) entry.keys = new KeyCollector();
          blocks.set(k, entry);
        }
        const { first } = entry.block;
        entry.positions.push(scan.positions[i]!);
        entry.slots.push(slot);
        if (entry.keys && key) {
          // As at the roll: a key's earlier record here, and a tombstone, hold no record.
          const tombstone = value === null;
          const before = entry.keys.add(offset, key.toString("latin1"), tombstone);
          if (before !== undefined) entry.positions[before - first] = NO_POSITION;
          if (tombstone) entry.positions[offset - first] = NO_POSITION;
        }
      });
    }
  });
  return {
    segment: id,
    bytes,
    sealedAt,
    blocks: [...blocks.values()].map(({ block, positions, slots, keys }) => ({
      ...block,
      positions: Uint32Array.from(positions),
      slots: Int32Array.from(slots),
      ...(keys ? { keys: keys.done() } : {}),
    })),
  };
}

/** The file's content after checking it starts with MAGIC. */
export function checkMagic(file: string, data: Buffer): Buffer {
  if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new Error(
      `${file} is not a Weft embedded log (it does not start with ${MAGIC.toString("ascii")})`,
    );
  }
  return data;
}

/** A compacted partition's live records, as a checkpoint carries them, decoded. */
interface LiveRecords {
  topic: string;
  partition: number;
  keys: Buffer;
  lengths: Int32Array;
  offsets: Float64Array;
  segments: Int32Array;
  positions: Uint32Array;
  slots: Int32Array;
}

/** A compacted partition's live records in offset order, for a checkpoint. */
function encodeLive(p: PartitionState): CheckpointLive {
  const entries = [...p.latest!].sort((a, b) => a[1] - b[1]);
  const offsets = Float64Array.from(entries, ([, offset]) => offset);
  return [
    p.topic.name,
    p.partition,
    Buffer.from(entries.map(([key]) => key).join(""), "latin1"),
    bytesOf(Int32Array.from(entries, ([key]) => key.length)),
    bytesOf(offsets),
    bytesOf(Int32Array.from(offsets, (o) => p.index.segmentOf(o))),
    bytesOf(Uint32Array.from(offsets, (o) => p.index.positionOf(o))),
    bytesOf(Int32Array.from(offsets, (o) => p.index.slotOf(o))),
  ];
}

function decodeLive([topic, partition, keys, ...arrays]: CheckpointLive): LiveRecords {
  const [lengths, offsets, segments, positions, slots] = arrays;
  return {
    topic,
    partition,
    keys,
    lengths: copyInto(lengths, (b) => new Int32Array(b)),
    offsets: copyInto(offsets, (b) => new Float64Array(b)),
    segments: copyInto(segments, (b) => new Int32Array(b)),
    positions: copyInto(positions, (b) => new Uint32Array(b)),
    slots: copyInto(slots, (b) => new Int32Array(b)),
  };
}
