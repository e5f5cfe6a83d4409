import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { LogCorruptError } from "../../core/errors";
import { unknownTopicOrPartition } from "./errors";
import {
  encodeFrame,
  identityFrame,
  MAGIC,
  type Frame,
  type FrameFault,
  type OffsetEntry,
  type RecordEntry,
} from "./frames";
import { lockDirectory, type DirectoryLock } from "./lock";
import { scanLog } from "./log-scan";

export const LOG_FILE = "log.wal";

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
}

interface LogOpening {
  created: boolean;
  droppedTail: boolean;
  idAdded: boolean;
}

export interface StoredRecord {
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly [string, Buffer][];
  /** Bytes of key, value and headers: what fetch limits count. */
  readonly size: number;
}

interface PartitionLog {
  readonly records: StoredRecord[];
  readonly waiters: Set<() => void>;
  /** Compacted topics only: each live key → the offset of its last record. */
  readonly latest?: Map<string, number>;
}

/**
 * What a compacted topic's superseded record (or tombstone) becomes in memory: its offset
 * stays taken, as in Kafka, where compaction leaves gaps; readers see an empty record.
 */
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

/**
 * A durable, append-only log of topics with partitions, kept in memory and in one write-ahead
 * file. Every change (topic, records + offsets of a transaction, offset commit) is one frame,
 * written with one write before it becomes visible; opening replays the file. Offsets are the
 * index of a record in its partition: replay assigns them again, in the same order.
 *
 * One process owns the directory (see lock.ts). All methods are synchronous: appends are
 * atomic with respect to every other call in the process.
 */
export class EmbeddedLog {
  private readonly topics = new Map<string, PartitionLog[]>();
  /** group → "topic\0partition" → next offset to read */
  private readonly offsets = new Map<string, Map<string, number>>();
  private readonly epochs = new Map<string, number>();
  private fd: number | undefined;
  private size: number;
  private dirty = false;
  private syncTimer: NodeJS.Timeout | undefined;
  private readonly sync: SyncMode;
  private readonly syncIntervalMs: number;
  private recordCount = 0;
  private logId: string | undefined;

  private constructor(
    readonly directory: string,
    private readonly lock: DirectoryLock,
    fd: number,
    size: number,
    options: LogOptions,
    /** What opening found and did. */
    private opening: LogOpening,
  ) {
    this.fd = fd;
    this.size = size;
    this.sync = options.sync ?? "interval";
    this.syncIntervalMs = options.syncIntervalMs ?? 100;
  }

  static async open(options: LogOptions): Promise<EmbeddedLog> {
    mkdirSync(options.directory, { recursive: true });
    const directory = realpathSync(options.directory);
    const lock = await lockDirectory(directory);
    try {
      const file = join(directory, LOG_FILE);
      const fd = openSync(file, "a+");
      closeSync(fd);
      let data = readFileSync(file);
      // Empty, or cut short while it was being created: a new log.
      const created = data.length < MAGIC.length && data.equals(MAGIC.subarray(0, data.length));
      if (created) {
        // A new log: its name and its identity, in one write.
        data = Buffer.concat([MAGIC, encodeFrame(identityFrame())]);
        writeFileSync(file, data);
      }
      const scan = scanLog(checkMagic(file, data));
      const { damage } = scan;
      if (damage?.kind === "corrupt") throw new LogCorruptError({ file, directory, ...damage });
      const rw = openSync(file, "r+");
      if (damage?.kind === "torn") {
        // A write cut short by a crash: keep the bytes aside, drop them.
        const savedTo = `${file}.tail-${Date.now()}`;
        writeFileSync(savedTo, data.subarray(scan.validEnd));
        ftruncateSync(rw, scan.validEnd);
        fdatasyncSync(rw);
        options.onTornTail?.({
          validBytes: scan.validEnd,
          droppedBytes: damage.bytes,
          fault: damage.fault,
          savedTo,
        });
      }
      const log = new EmbeddedLog(directory, lock, rw, scan.validEnd, options, {
        created,
        droppedTail: damage?.kind === "torn",
        idAdded: false,
      });
      for (const frame of scan.frames) log.apply(frame);
      if (log.logId === undefined) {
        // A log made before identities existed gets one now.
        log.write(identityFrame());
        log.opening = { ...log.opening, idAdded: true };
      }
      return log;
    } catch (err) {
      await lock.release();
      throw err;
    }
  }

  /**
   * The log's identity: a random ID written in its first frame (and anew by a repair that cut
   * it). Another ID means another log, even in the same directory: the file was deleted, cut,
   * or replaced by another directory's.
   */
  get id(): string {
    return this.logId!;
  }

  /** True when this open created the log (the file was missing or empty). */
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

  get records(): number {
    return this.recordCount;
  }

  get bytes(): number {
    return this.size;
  }

  /**
   * Creates a topic. In a compacted one a record supersedes the earlier records of its key and
   * a tombstone (null value) removes the key: memory keeps the live keys' records only.
   */
  createTopic(topic: string, partitions: number, compacted = false): boolean {
    if (this.topics.has(topic)) return false;
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 10_000)
      throw new RangeError(`topic ${topic}: partitions must be 1–10000, got ${partitions}`);
    this.write(compacted ? [1, topic, partitions, true] : [1, topic, partitions]);
    return true;
  }

  topicNames(): string[] {
    return [...this.topics.keys()];
  }

  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.length;
  }

  /** The offset the next record of the partition gets (every record is committed). */
  highWatermark(topic: string, partition: number): number {
    return this.partition(topic, partition).records.length;
  }

  /** Records from `offset` on, at least one when there is one, up to about `maxBytes`. */
  read(topic: string, partition: number, offset: number, maxBytes: number): StoredRecord[] {
    const { records } = this.partition(topic, partition);
    let end = offset;
    let bytes = 0;
    while (end < records.length && (end === offset || bytes + records[end]!.size <= maxBytes)) {
      bytes += records[end]!.size;
      end++;
    }
    return records.slice(offset, end);
  }

  /**
   * Appends records and commits offsets in one frame: all become visible and durable
   * together, or (when the write fails) none does. Returns the offset each record got.
   */
  append(records: readonly AppendRecord[], commits: readonly OffsetCommit[]): number[] {
    for (const r of records) this.partition(r.topic, r.partition);
    if (records.length === 0 && commits.length === 0) return [];
    const offsets = records.map(() => 0);
    const next = new Map<PartitionLog, number>();
    records.forEach((r, i) => {
      const log = this.partition(r.topic, r.partition);
      const at = next.get(log) ?? log.records.length;
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
    return this.offsets.get(group)?.get(`${topic}\0${partition}`);
  }

  deleteGroup(group: string): boolean {
    if (!this.offsets.has(group)) return false;
    this.write([3, group]);
    return true;
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
    if (log.records.length > offset) return Promise.resolve();
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

  async close(): Promise<void> {
    if (this.fd === undefined) return;
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    if (this.dirty) fdatasyncSync(this.fd);
    closeSync(this.fd);
    this.fd = undefined;
    for (const partitions of this.topics.values())
      for (const p of partitions) for (const wake of [...p.waiters]) wake();
    await this.lock.release();
  }

  private partition(topic: string, partition: number): PartitionLog {
    const partitions = this.topics.get(topic);
    if (!partitions) throw unknownTopicOrPartition(topic);
    const log = partitions[partition];
    if (!log) throw unknownTopicOrPartition(topic, partition);
    return log;
  }

  /** Writes a frame (one write call), then applies it: nothing is visible before it is written. */
  private write(frame: Frame): void {
    if (this.fd === undefined) throw new Error(`the embedded log in ${this.directory} is closed`);
    const bytes = encodeFrame(frame);
    try {
      let done = 0;
      while (done < bytes.length)
        done += writeSync(this.fd, bytes, done, bytes.length - done, this.size + done);
    } catch (err) {
      // A partial write (disk full) must not stay in front of the next frame.
      try {
        ftruncateSync(this.fd, this.size);
      } catch {
        // The next open drops the torn frame anyway.
      }
      throw err;
    }
    this.size += bytes.length;
    if (this.sync === "always") fdatasyncSync(this.fd);
    else if (this.sync === "interval") this.scheduleSync();
    this.apply(frame);
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

  /** Before a compacted partition takes a record of `key`: the key's earlier record goes. */
  private compact(log: PartitionLog, key: Buffer, tombstone: boolean): void {
    const latest = log.latest!;
    const name = key.toString("latin1");
    const before = latest.get(name);
    if (before !== undefined) log.records[before] = COMPACTED;
    if (tombstone) latest.delete(name);
    else latest.set(name, log.records.length);
  }

  private apply(frame: Frame): void {
    switch (frame[0]) {
      case 1: {
        const [, topic, count, compacted] = frame;
        this.topics.set(
          topic,
          Array.from({ length: count }, () => ({
            records: [],
            waiters: new Set(),
            ...(compacted ? { latest: new Map<string, number>() } : {}),
          })),
        );
        return;
      }
      case 2: {
        const touched = new Set<PartitionLog>();
        for (const [topic, partition, timestamp, key, value, headers] of frame[1]) {
          const log = this.partition(topic, partition);
          let size = (key?.length ?? 0) + (value?.length ?? 0);
          for (const [k, v] of headers) size += k.length + v.length;
          if (log.latest && key) this.compact(log, key, value === null);
          log.records.push(
            log.latest && key && value === null
              ? COMPACTED
              : { timestamp, key, value, headers, size },
          );
          touched.add(log);
        }
        this.recordCount += frame[1].length;
        for (const [group, topic, partition, offset] of frame[2]) {
          let byPartition = this.offsets.get(group);
          if (!byPartition) this.offsets.set(group, (byPartition = new Map<string, number>()));
          byPartition.set(`${topic}\0${partition}`, offset);
        }
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
    }
  }
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
