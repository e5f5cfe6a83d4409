/**
 * The embedded log on disk: it rolls into segment files with an index beside each sealed one,
 * reads records from any segment, forgets delivered records and deletes segments that hold
 * nothing (delete-policy topics once every group committed past them, compacted topics' records
 * once superseded), keeps history, refuses corruption naming the segment file, and opens a log
 * of one file from an earlier Weft. Real files, small segments.
 */
import {
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { LogCorruptError } from "../../core/errors";
import {
  EmbeddedKafka,
  FIRST_SEGMENT,
  LEGACY_LOG_FILE,
  repairLog,
  segmentFile,
} from "../../adapters/embedded";
import { encodeFrame, identityFrame, MAGIC, readFrame } from "../../adapters/embedded/frames";
import { indexFile } from "../../adapters/embedded/segment-files";
import { readIndex } from "../../adapters/embedded/segment-index";
import type { PortProducer } from "../../transport/port";
import { collect, tempDir, values } from "./helpers";
import { waitFor } from "../support/env";

const SEGMENT_BYTES = 4096;

let dir: string;
let cleanup: () => void;
let kafka: EmbeddedKafka | undefined;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  dir = realpathSync(dir);
});

afterEach(async () => {
  await kafka?.close();
  kafka = undefined;
  cleanup();
});

/** Opens the log with small segments; retention with no delay unless told. */
async function open(retentionMs = 0): Promise<EmbeddedKafka> {
  await kafka?.close();
  kafka = await EmbeddedKafka.open({
    directory: dir,
    sync: "never",
    segmentBytes: SEGMENT_BYTES,
    retentionMs,
  });
  return kafka;
}

async function producerOf(k: EmbeddedKafka): Promise<PortProducer> {
  const producer = k.producer();
  await producer.connect();
  return producer;
}

/** Sends `count` records of about 100 bytes, one send each, to `topic`. */
async function sendMany(
  k: EmbeddedKafka,
  topic: string,
  count: number,
  message: (i: number) => { key?: string; value: string | null; partition?: number },
): Promise<void> {
  const producer = await producerOf(k);
  for (let i = 0; i < count; i++) await producer.send({ topic, messages: [message(i)] });
}

const pad = (s: string) => s.padEnd(100, ".");
const segmentFiles = () => readdirSync(dir).filter((f) => /^log-\d{20}\.wal$/.test(f));
const indexFiles = () => readdirSync(dir).filter((f) => /^log-\d{20}\.idx$/.test(f));

function valuesOf(k: EmbeddedKafka, topic: string, partition = 0): (string | null)[] {
  return k.log
    .read(topic, partition, k.log.lowWatermark(topic, partition), Number.MAX_SAFE_INTEGER)
    .map((r) => r.value?.toString() ?? null);
}

describe("segments", () => {
  it("roll past the segment size, each sealed one with an index, and read back after reopening", async () => {
    let k = await open(-1);
    await k.admin().createTopics({ topics: [{ topic: "t", numPartitions: 2 }] });
    await sendMany(k, "t", 300, (i) => ({ value: pad(`v${i}`), partition: i % 2 }));
    const ids = k.log.segmentIds();
    expect(ids.length).toBeGreaterThan(5);
    expect(segmentFiles()).toEqual(ids.map((id) => segmentFile(id)));
    // Every segment but the active one has its index.
    expect(indexFiles()).toEqual(ids.slice(0, -1).map((id) => indexFile(id)));
    for (const id of ids)
      expect(readFileSync(join(dir, segmentFile(id))).length).toBeLessThanOrEqual(SEGMENT_BYTES);
    const expected = [0, 1].map((p) => Array.from({ length: 150 }, (_, n) => pad(`v${2 * n + p}`)));
    expect([valuesOf(k, "t", 0), valuesOf(k, "t", 1)]).toEqual(expected);

    k = await open(-1);
    expect(k.log.segmentIds()).toEqual(ids);
    expect(k.log.highWatermark("t", 0)).toBe(150);
    expect([valuesOf(k, "t", 0), valuesOf(k, "t", 1)]).toEqual(expected);
    // Appends go on from the ends the last segment's checkpoint recorded.
    await sendMany(k, "t", 2, (i) => ({ value: `after-${i}`, partition: 0 }));
    expect(k.log.highWatermark("t", 0)).toBe(152);
  });

  it("serve a consumer records from every segment, in offset order", async () => {
    const k = await open(-1);
    await k.admin().createTopics({ topics: [{ topic: "t", numPartitions: 1 }] });
    await sendMany(k, "t", 200, (i) => ({ value: pad(`v${i}`) }));
    expect(k.log.segmentIds().length).toBeGreaterThan(4);
    const c = await collect(k, "t", "reader");
    await waitFor("every record", () => c.messages.length === 200);
    expect(c.messages.map((m) => Number(m.offset))).toEqual(
      Array.from({ length: 200 }, (_, i) => i),
    );
    expect(values(c.messages)).toEqual(Array.from({ length: 200 }, (_, i) => pad(`v${i}`)));
    await c.consumer.disconnect();
  });

  it("open after a roll cut short: a segment never renamed is dropped, a missing index rebuilt", async () => {
    let k = await open(-1);
    await k.admin().createTopics({ topics: [{ topic: "t", numPartitions: 1 }] });
    await sendMany(k, "t", 150, (i) => ({ value: pad(`v${i}`) }));
    const ids = k.log.segmentIds();
    await k.close();
    const lastSealed = ids[ids.length - 2]!;
    rmSync(join(dir, indexFile(lastSealed)));
    writeFileSync(join(dir, `${segmentFile(ids[ids.length - 1]! + 1)}.tmp`), MAGIC);

    k = await open(-1);
    expect(k.log.segmentIds()).toEqual(ids);
    expect(existsSync(join(dir, indexFile(lastSealed)))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(valuesOf(k, "t")).toEqual(Array.from({ length: 150 }, (_, i) => pad(`v${i}`)));
  });
});

describe("retention", () => {
  it("forgets delivered commands and deletes their segments; undelivered ones stay", async () => {
    let k = await open(0);
    await k.admin().createTopics({ topics: [{ topic: "commands", numPartitions: 2 }] });
    // Partition 0 is consumed up to 200; partition 1 not at all.
    await sendMany(k, "commands", 300, (i) => ({
      value: pad(`c${i}`),
      partition: i < 250 ? 0 : 1,
    }));
    const before = k.log.segmentIds();
    const consumer = k.consumer({ groupId: "deciders" });
    await consumer.commitOffsets([
      { topic: "commands", partition: 0, offset: "200" },
      { topic: "commands", partition: 1, offset: "0" },
    ]);
    k.log.retain();

    const after = k.log.segmentIds();
    expect(after.length).toBeLessThan(before.length);
    // The oldest segments (partition 0's first records only) are gone from disk.
    expect(after[0]).toBeGreaterThan(before[0]!);
    expect(existsSync(join(dir, segmentFile(before[0]!)))).toBe(false);
    expect(existsSync(join(dir, indexFile(before[0]!)))).toBe(false);
    const low = k.log.lowWatermark("commands", 0);
    expect(low).toBeGreaterThan(0);
    expect(low).toBeLessThanOrEqual(200);
    // What no group committed past is all there.
    expect(valuesOf(k, "commands", 0).slice(200 - low)).toEqual(
      Array.from({ length: 50 }, (_, i) => pad(`c${200 + i}`)),
    );
    expect(valuesOf(k, "commands", 1)).toEqual(
      Array.from({ length: 50 }, (_, i) => pad(`c${250 + i}`)),
    );
    // Offsets stay: the next record takes the next offset.
    expect(k.log.highWatermark("commands", 0)).toBe(250);

    k = await open(0);
    expect(k.log.segmentIds()).toEqual(after);
    expect(k.log.lowWatermark("commands", 0)).toBe(low);
    expect(k.log.highWatermark("commands", 0)).toBe(250);
    expect(valuesOf(k, "commands", 1)).toHaveLength(50);
    // A new group reading from the beginning starts at the low watermark.
    const c = await collect(k, "commands", "late");
    await waitFor("partition 0's remaining records", () =>
      c.messages.some((m) => m.partition === 0 && m.offset === "249"),
    );
    expect(Number(c.messages.find((m) => m.partition === 0)!.offset)).toBe(low);
    await c.consumer.disconnect();
  });

  it("keeps delivered records while they are younger than the retention", async () => {
    const k = await open(60_000);
    await k.admin().createTopics({ topics: [{ topic: "tasks", numPartitions: 1 }] });
    await sendMany(k, "tasks", 200, (i) => ({ value: pad(`t${i}`) }));
    const ids = k.log.segmentIds();
    await k
      .consumer({ groupId: "workers" })
      .commitOffsets([{ topic: "tasks", partition: 0, offset: "200" }]);
    k.log.retain();
    expect(k.log.segmentIds()).toEqual(ids);
    expect(valuesOf(k, "tasks")).toHaveLength(200);
    // A minute later they go, but for the active segment's (never touched by retention).
    k.log.retain(Date.now() + 61_000);
    expect(k.log.segmentIds()).toEqual(ids.slice(-1));
    const low = k.log.lowWatermark("tasks", 0);
    expect(low).toBeGreaterThan(150);
    expect(valuesOf(k, "tasks")).toEqual(
      Array.from({ length: 200 - low }, (_, i) => pad(`t${low + i}`)),
    );
  });

  it("drops a topic's records its own retention.ms after their segment sealed, read or not", async () => {
    const k = await open(0);
    await k.admin().createTopics({
      topics: [
        {
          topic: "logs",
          numPartitions: 1,
          configEntries: [{ name: "retention.ms", value: "60000" }],
        },
      ],
    });
    await sendMany(k, "logs", 200, (i) => ({ value: pad(`l${i}`) }));
    const ids = k.log.segmentIds();
    expect(ids.length).toBeGreaterThan(1);
    // No group commits on the topic: within its retention everything stays.
    k.log.retain();
    expect(k.log.segmentIds()).toEqual(ids);
    expect(valuesOf(k, "logs")).toHaveLength(200);
    // Past it the sealed segments go; the active one stays.
    k.log.retain(Date.now() + 61_000);
    expect(k.log.segmentIds()).toEqual(ids.slice(-1));
    const low = k.log.lowWatermark("logs", 0);
    expect(low).toBeGreaterThan(150);
    expect(valuesOf(k, "logs")).toEqual(
      Array.from({ length: 200 - low }, (_, i) => pad(`l${low + i}`)),
    );
  });

  it("keeps history (retention.ms -1) for ever, and the segments holding it", async () => {
    const k = await open(0);
    await k.admin().createTopics({
      topics: [
        { topic: "commands", numPartitions: 1 },
        {
          topic: "history",
          numPartitions: 1,
          configEntries: [{ name: "retention.ms", value: "-1" }],
        },
      ],
    });
    const producer = await producerOf(k);
    for (let i = 0; i < 100; i++) {
      await producer.send({ topic: "commands", messages: [{ value: pad(`c${i}`) }] });
      // History in the first segment only.
      if (i < 10) await producer.send({ topic: "history", messages: [{ value: `h${i}` }] });
    }
    const ids = k.log.segmentIds();
    await k.consumer({ groupId: "g" }).commitOffsets([
      { topic: "commands", partition: 0, offset: "100" },
      { topic: "history", partition: 0, offset: "10" },
    ]);
    k.log.retain();
    // Commands went from memory; the segment holding history stays, the others go.
    expect(k.log.lowWatermark("commands", 0)).toBeGreaterThan(50);
    expect(k.log.segmentIds()[0]).toBe(ids[0]);
    expect(k.log.segmentIds().length).toBeLessThan(ids.length);
    expect(valuesOf(k, "history")).toEqual(Array.from({ length: 10 }, (_, i) => `h${i}`));
    const reopened = await open(0);
    expect(valuesOf(reopened, "history")).toEqual(Array.from({ length: 10 }, (_, i) => `h${i}`));
  });
});

describe("history kept for ever", () => {
  it("stays on disk once sealed: memory follows the segments, every record reads back", async () => {
    const k = await open(0);
    await k.admin().createTopics({
      topics: [
        {
          topic: "history",
          numPartitions: 2,
          configEntries: [{ name: "retention.ms", value: "-1" }],
        },
      ],
    });
    const count = 400;
    const expected = [0, 1].map((p) =>
      Array.from({ length: count / 2 }, (_, i) => pad(`p${p}-${i}`)),
    );
    await sendMany(k, "history", count, (i) => ({
      value: pad(`p${i % 2}-${Math.floor(i / 2)}`),
      partition: i % 2,
    }));
    // ~35 records a segment: more sealed segments than the log keeps indexes of decoded.
    expect(k.log.segmentIds().length).toBeGreaterThan(8);
    const expectOnDisk = (log: EmbeddedKafka["log"]) => {
      for (const p of [0, 1]) {
        const held = log.locationsHeld("history", p);
        expect(held.sealedRanges).toBeGreaterThan(8);
        expect(held.offsets).toBeLessThan(40);
      }
    };
    expectOnDisk(k.log);
    // Read back from every sealed segment (their indexes read again), both partitions in turn.
    for (const p of [0, 1]) expect(valuesOf(k, "history", p)).toEqual(expected[p]);
    const consumed = await collect(k, "history", "reader");
    await waitFor("every record", () => consumed.messages.length === count);
    for (const p of [0, 1])
      expect(consumed.messages.filter((m) => m.partition === p).map((m) => m.offset)).toEqual(
        expected[p]!.map((_, i) => String(i)),
      );
    await consumed.consumer.disconnect();

    const reopened = await open(0);
    expectOnDisk(reopened.log);
    for (const p of [0, 1]) expect(valuesOf(reopened, "history", p)).toEqual(expected[p]);
    // Appends after reopening land after the sealed ranges.
    await sendMany(reopened, "history", 2, (i) => ({ value: pad(`late-${i}`), partition: 0 }));
    expect(valuesOf(reopened, "history", 0).slice(-3)).toEqual([
      expected[0]!.at(-1),
      pad("late-0"),
      pad("late-1"),
    ]);
  });
});

/** A compacted topic "runs" and a topic "keep" kept for ever (whose records hold segments). */
async function createRunsAndKeep(k: EmbeddedKafka): Promise<void> {
  await k.admin().createTopics({
    topics: [
      {
        topic: "runs",
        numPartitions: 1,
        configEntries: [{ name: "cleanup.policy", value: "compact" }],
      },
      { topic: "keep", numPartitions: 1, configEntries: [{ name: "retention.ms", value: "-1" }] },
    ],
  });
}

describe("compacted topics on disk", () => {
  it("delete segments whose records were all superseded, and keep the last of each key", async () => {
    let k = await open(0);
    await k.admin().createTopics({
      topics: [
        {
          topic: "runs",
          numPartitions: 1,
          configEntries: [{ name: "cleanup.policy", value: "compact" }],
        },
      ],
    });
    // "gone" is written first, then tombstoned: deleting the tombstone's segment before the
    // first one would bring it back.
    await sendMany(k, "runs", 1, () => ({ key: "gone", value: pad("gone-1") }));
    await sendMany(k, "runs", 300, (i) => ({ key: `k${i % 5}`, value: pad(`k${i % 5}-${i}`) }));
    await sendMany(k, "runs", 1, () => ({ key: "gone", value: null }));
    await sendMany(k, "runs", 100, (i) => ({
      key: `k${i % 5}`,
      value: pad(`k${i % 5}-${300 + i}`),
    }));
    const live = (kk: EmbeddedKafka) =>
      valuesOf(kk, "runs")
        .filter((v): v is string => v !== null)
        .sort();
    const expected = [395, 396, 397, 398, 399].map((i) => pad(`k${i % 5}-${i}`)).sort();
    expect(live(k)).toEqual(expected);
    k.log.retain();
    const ids = k.log.segmentIds();
    // Only the last few segments hold live records (and the active one).
    expect(ids.length).toBeLessThanOrEqual(3);
    expect(existsSync(join(dir, FIRST_SEGMENT))).toBe(false);

    k = await open(0);
    expect(k.log.segmentIds()).toEqual(ids);
    expect(live(k)).toEqual(expected);
    expect(k.log.highWatermark("runs", 0)).toBe(402);
  });

  it("keep a segment with a tombstone while an older segment holds its key", async () => {
    let k = await open(0);
    await createRunsAndKeep(k);
    const producer = await producerOf(k);
    // The first segment is held by a record kept for ever, and holds "x".
    await producer.send({ topic: "keep", messages: [{ value: "kept" }] });
    await producer.send({ topic: "runs", messages: [{ key: "x", value: "x1" }] });
    await sendMany(k, "runs", 60, (i) => ({ key: `k${i % 3}`, value: pad(`${i}`) }));
    await producer.send({ topic: "runs", messages: [{ key: "x", value: null }] });
    await sendMany(k, "runs", 120, (i) => ({ key: `k${i % 3}`, value: pad(`${i}`) }));
    k.log.retain();
    const ids = k.log.segmentIds();
    expect(ids[0]).toBe(0);
    k = await open(0);
    expect(k.log.liveRecordsFrom).toBe("checkpoint");
    // Reopened (the checkpoint carrying which segments hold tombstones), it keeps them still.
    k.log.retain();
    expect(k.log.segmentIds()).toEqual(ids);
    const values = valuesOf(k, "runs").filter((v) => v !== null);
    expect(values).not.toContain("x1");
    expect(values).toHaveLength(3);
  });

  it("index each key once per sealed segment, at its last record, the same whether written at the roll or rebuilt", async () => {
    let k = await open(0);
    await createRunsAndKeep(k);
    const producer = await producerOf(k);
    // Each segment is held by a record kept for ever; keys change many times within one, and
    // some end in a tombstone.
    for (let i = 0; i < 240; i++) {
      if (i % 20 === 0) await producer.send({ topic: "keep", messages: [{ value: `kept-${i}` }] });
      const key = `run-${Math.floor(i / 8)}`;
      const value = i % 8 === 7 && i % 16 === 15 ? null : pad(`${key}-${i}`);
      await producer.send({ topic: "runs", messages: [{ key, value }] });
    }
    const live = (kk: EmbeddedKafka) => valuesOf(kk, "runs").filter((v) => v !== null);
    const expected = live(k);
    // The runs whose last record is not a tombstone, each at its last record.
    expect(expected).toEqual(
      Array.from({ length: 30 }, (_, r) => r)
        .filter((r) => r % 2 === 0)
        .map((r) => pad(`run-${r}-${r * 8 + 7}`)),
    );
    const sealed = k.log.segmentIds().slice(0, -1);
    expect(sealed.length).toBeGreaterThan(2);
    const runsBlocks = () =>
      sealed.map((id) => {
        const block = readIndex(join(dir, indexFile(id)))!.blocks.find((b) => b.topic === "runs");
        if (!block?.keys) return undefined;
        const { offsets, lengths, bytes, tombstones } = block.keys;
        const names: string[] = [];
        let at = 0;
        for (const length of lengths)
          names.push(bytes.toString("latin1", (at += length) - length, at));
        return {
          first: block.first,
          positions: [...block.positions],
          slots: [...block.slots],
          keys: names.map((name, i) => [name, offsets[i], tombstones[i]]),
        };
      });
    const written = runsBlocks();
    for (const block of written) {
      if (!block) continue;
      const names = block.keys.map(([name]) => name);
      expect(new Set(names).size).toBe(names.length);
    }
    expect(written.filter(Boolean).length).toBeGreaterThan(1);

    await k.close();
    kafka = undefined;
    for (const id of sealed) rmSync(join(dir, indexFile(id)));
    k = await open(0);
    expect(runsBlocks()).toEqual(written);
    expect(live(k)).toEqual(expected);
  });
});

describe("a compacted topic's live records carried by each checkpoint", () => {
  /** What a reopened log holds: each partition's live records, the segments kept, the ends. */
  function stateOf(k: EmbeddedKafka) {
    k.log.retain();
    return {
      live: [0, 1].map((p) =>
        k.log
          .read("runs", p, 0, Number.MAX_SAFE_INTEGER)
          .filter((r) => r.value !== null)
          .map((r) => `${r.key?.toString()}=${r.value?.toString()}`),
      ),
      ends: [0, 1].map((p) => k.log.highWatermark("runs", p)),
      segments: k.log.segmentIds(),
      kept: valuesOf(k, "keep"),
    };
  }

  /** The live records the active segment's checkpoint carries, per partition. */
  function carried(k: EmbeddedKafka): number[] | undefined {
    const active = k.log.segmentIds().at(-1)!;
    const data = readFileSync(join(dir, segmentFile(active)));
    const read = readFrame(data, MAGIC.length);
    if (!read.ok || read.frame[0] !== 5) throw new Error("the active segment has no checkpoint");
    return read.frame[5]?.map(([, , , lengths]) => lengths.length / 4);
  }

  it("opening from them holds what opening from every sealed segment's keys holds", async () => {
    const write = fc.array(
      fc.record({
        key: fc.nat(11),
        partition: fc.nat(1),
        tombstone: fc.boolean(),
        keep: fc.nat(9),
      }),
      { minLength: 60, maxLength: 200 },
    );
    let carriedRecords = 0;
    await fc.assert(
      fc.asyncProperty(write, async (writes) => {
        rmSync(dir, { recursive: true, force: true });
        let k = await open(0);
        await k.admin().createTopics({
          topics: [
            {
              topic: "runs",
              numPartitions: 2,
              configEntries: [{ name: "cleanup.policy", value: "compact" }],
            },
            { topic: "keep", configEntries: [{ name: "retention.ms", value: "-1" }] },
          ],
        });
        const producer = await producerOf(k);
        for (const [i, w] of writes.entries()) {
          // Now and then a record kept for ever, so that some segments stay whatever happens.
          if (w.keep === 0) await producer.send({ topic: "keep", messages: [{ value: `k${i}` }] });
          await producer.send({
            topic: "runs",
            messages: [
              {
                key: `run-${w.key}`,
                value: w.tombstone ? null : pad(`${w.key}-${i}`),
                partition: w.partition,
              },
            ],
          });
        }
        const before = stateOf(k);
        k = await open(0);
        const fromCheckpoint = stateOf(k);
        if (k.log.segmentIds().length > 1) expect(k.log.liveRecordsFrom).toBe("checkpoint");
        if (k.log.segmentIds().length > 1) {
          const counts = carried(k);
          expect(counts).toHaveLength(2);
          carriedRecords += counts!.reduce((a, b) => a + b, 0);
        }
        await k.close();
        kafka = undefined;
        // Without one sealed index (as after a repair), opening reads every sealed segment's
        // keys, as a Weft before checkpoints carried them did.
        const sealed = k.log.segmentIds().slice(0, -1);
        if (sealed.length > 0) rmSync(join(dir, indexFile(sealed[0]!)));
        k = await open(0);
        const fromKeys = stateOf(k);
        if (sealed.length > 0) expect(k.log.liveRecordsFrom).toBe("segments");
        expect(fromCheckpoint).toEqual(before);
        expect(fromKeys).toEqual(fromCheckpoint);
      }),
      { numRuns: 25 },
    );
    // The checkpoints did carry records: opening took them from there.
    expect(carriedRecords).toBeGreaterThan(0);
  });
});

describe("damage", () => {
  async function writeSegments(): Promise<number[]> {
    const k = await open(-1);
    await k.admin().createTopics({ topics: [{ topic: "t", numPartitions: 1 }] });
    await sendMany(k, "t", 150, (i) => ({ value: pad(`v${i}`) }));
    const ids = k.log.segmentIds();
    await k.close();
    kafka = undefined;
    return ids;
  }

  /** Byte position of the `n`th frame of a segment file. */
  function frameAt(file: string, n: number): number {
    const data = readFileSync(file);
    let pos = MAGIC.length;
    for (let i = 0; i < n; i++) {
      const read = readFrame(data, pos);
      if (!read.ok) throw new Error(`no frame ${i} in ${file}`);
      pos = read.end;
    }
    return pos;
  }

  function corrupt(file: string, at: number): void {
    const data = readFileSync(file);
    data[at + 12] = data[at + 12]! ^ 0xff;
    writeFileSync(file, data);
  }

  async function openError(): Promise<unknown> {
    return open(-1).then(
      () => undefined,
      (err: unknown) => err,
    );
  }

  it("in a sealed segment: reads refuse it naming the file and offset, and so does opening without its index", async () => {
    const ids = await writeSegments();
    const file = join(dir, segmentFile(ids[1]!));
    const at = frameAt(file, 2);
    corrupt(file, at);

    // With its index, opening does not read the segment: the read of that frame refuses.
    const k = await open(-1);
    let refused: unknown;
    try {
      k.log.read("t", 0, 0, Number.MAX_SAFE_INTEGER);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(LogCorruptError);
    expect((refused as LogCorruptError).message).toContain(`${file} is corrupt at byte ${at}`);
    await k.close();
    kafka = undefined;

    // Without it, opening scans the segment and refuses to start.
    rmSync(join(dir, indexFile(ids[1]!)));
    const err = await openError();
    expect(err).toBeInstanceOf(LogCorruptError);
    expect((err as LogCorruptError).message).toContain(`${file} is corrupt at byte ${at}`);

    // `weft repair` finds it, and cuts there only when asked.
    const report = await repairLog(dir);
    expect(report).toMatchObject({ file, validEnd: at, segments: 2 });
    expect(report.damage).toMatchObject({ kind: "corrupt", offset: at });
    const repaired = await repairLog(dir, { truncate: true });
    expect(repaired.keptAside).toMatch(/log-0{19}1\.wal\.corrupt-\d+$/);
    const reopened = await open(-1);
    expect(reopened.log.id).toBe(repaired.newLogId);
    // The records cut off are gaps; the others and later segments stay.
    expect(reopened.log.highWatermark("t", 0)).toBe(150);
    expect(valuesOf(reopened, "t").filter((v) => v !== null).length).toBeLessThan(150);
    expect(valuesOf(reopened, "t").at(-1)).toBe(pad("v149"));
  });

  it("in the active segment: refused in the middle, a torn tail dropped", async () => {
    const ids = await writeSegments();
    const file = join(dir, segmentFile(ids[ids.length - 1]!));
    const data = readFileSync(file);
    const at = frameAt(file, 1);
    corrupt(file, at);
    const err = await openError();
    expect(err).toBeInstanceOf(LogCorruptError);
    expect((err as LogCorruptError).message).toContain(`${file} is corrupt at byte ${at}`);

    // A last frame cut short instead: dropped, the rest opens.
    writeFileSync(file, data.subarray(0, data.length - 5));
    const k = await open(-1);
    expect(k.log.droppedTail).toBe(true);
    expect(k.log.highWatermark("t", 0)).toBe(149);
    expect(valuesOf(k, "t").at(-1)).toBe(pad("v148"));
  });
});

it("opens a log of one file (log.wal) from an earlier Weft as its first segment", async () => {
  const identity = identityFrame();
  const frames = [
    encodeFrame(identity),
    encodeFrame([1, "t", 1]),
    ...Array.from({ length: 50 }, (_, i) =>
      encodeFrame([2, [["t", 0, 1000 + i, null, Buffer.from(pad(`old${i}`)), []]], []]),
    ),
    encodeFrame([2, [], [["g", "t", 0, 50]]]),
  ];
  writeFileSync(join(dir, LEGACY_LOG_FILE), Buffer.concat([MAGIC, ...frames]));
  const info: string[] = [];
  kafka = await EmbeddedKafka.open({
    directory: dir,
    sync: "never",
    segmentBytes: SEGMENT_BYTES,
    logger: { warn: () => undefined, info: (_o, msg) => info.push(msg) },
  });
  const k = kafka;
  expect(k.log.migrated).toBe(true);
  expect(info).toEqual([expect.stringContaining("is now the first segment of the log")]);
  expect(existsSync(join(dir, LEGACY_LOG_FILE))).toBe(false);
  expect(existsSync(join(dir, FIRST_SEGMENT))).toBe(true);
  expect(k.log.id).toBe(identity[1]);
  expect(k.log.committedOffset("g", "t", 0)).toBe(50);
  expect(valuesOf(k, "t")).toEqual(Array.from({ length: 50 }, (_, i) => pad(`old${i}`)));
  // It goes on as a segmented log: more records roll it.
  await sendMany(k, "t", 100, (i) => ({ value: pad(`new${i}`) }));
  expect(k.log.segmentIds().length).toBeGreaterThan(1);
  const reopened = await open(-1);
  expect(reopened.log.migrated).toBe(false);
  expect(valuesOf(reopened, "t")).toHaveLength(150);
});
