/**
 * The embedded log tells a torn tail from corruption: a last frame cut short or bad with nothing
 * valid after it (a crash mid-write) is dropped at open and kept aside; a bad frame with more
 * data after it refuses to open (LOG_CORRUPT, naming the file, the offset and what follows) and
 * changes nothing. `repairLog` reports, and cuts only when asked, keeping the cut bytes aside.
 * The log has an ID, kept across reopens and renewed by a repair that cuts it. Real files.
 */
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  readdirSync,
  readFileSync,
  realpathSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { LogCorruptError, WeftError } from "../../core/errors";
import { EmbeddedKafka, FIRST_SEGMENT, repairLog } from "../../adapters/embedded";
import { encodeFrame, MAGIC, readFrame } from "../../adapters/embedded/frames";
import { openLog, tempDir } from "./helpers";

const SENDS = 400;

let dir: string;
let cleanup: () => void;
let file: string;

beforeEach(() => {
  ({ dir, cleanup } = tempDir());
  file = join(realpathSync(dir), FIRST_SEGMENT);
});

afterEach(() => cleanup());

/** A log of SENDS frames of one record each over two partitions; returns its ID. */
async function writeLog(): Promise<string> {
  const kafka = await openLog(dir);
  try {
    await kafka.admin().createTopics({ topics: [{ topic: "t", numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < SENDS; i++) {
      await producer.send({ topic: "t", messages: [{ value: `v${i}`, partition: i % 2 }] });
    }
    return kafka.log.id;
  } finally {
    await kafka.close();
  }
}

/** Where each frame of the file starts, and where the last one ends. */
function frameStarts(data: Buffer): number[] {
  const starts: number[] = [];
  for (let pos = MAGIC.length; pos < data.length;) {
    const read = readFrame(data, pos);
    if (!read.ok) throw new Error(`no frame at ${pos}`);
    starts.push(pos);
    pos = read.end;
  }
  return starts;
}

/** Values of every record in the log, partition 0 then 1. */
async function readValues(): Promise<string[]> {
  const kafka = await openLog(dir);
  try {
    return [0, 1].flatMap((p) =>
      kafka.log.read("t", p, 0, Number.MAX_SAFE_INTEGER).map((r) => r.value!.toString()),
    );
  } finally {
    await kafka.close();
  }
}

async function openError(): Promise<unknown> {
  return openLog(dir).then(
    async (kafka) => {
      await kafka.close();
      return undefined;
    },
    (err: unknown) => err,
  );
}

function flip(at: number, bytes: Buffer = Buffer.from([0xde, 0xad, 0xbe, 0xef])): Buffer {
  const data = readFileSync(file);
  const damaged = Buffer.from(data);
  bytes.copy(damaged, at);
  writeFileSync(file, damaged);
  return data;
}

describe("corruption in the middle", () => {
  it("refuses to open with LOG_CORRUPT naming the file, the offset and what follows; changes nothing", async () => {
    await writeLog();
    const original = readFileSync(file);
    const starts = frameStarts(original);
    expect(starts.length).toBeGreaterThan(SENDS);
    const bad = starts[Math.floor(starts.length / 2)]!;
    flip(bad + 12); // inside the payload

    const error = await openError();
    expect(error).toBeInstanceOf(LogCorruptError);
    expect(WeftError.is(error) && error.code).toBe("LOG_CORRUPT");
    const message = (error as Error).message;
    expect(message).toContain(file);
    expect(message).toContain(`at byte ${bad}`);
    expect(message).toContain(`${original.length - bad} bytes`);
    expect(message).toContain(`weft repair ${realpathSync(dir)}`);
    expect((error as LogCorruptError).details).toMatchObject({
      file,
      offset: bad,
      bytes: original.length - bad,
      fault: "fails its checksum",
      framesAfter: starts.length - starts.indexOf(bad) - 1,
    });
    // Nothing was cut or set aside, and the directory was given back.
    expect(readFileSync(file).length).toBe(original.length);
    expect(readdirSync(dir).filter((f) => f.startsWith(`${FIRST_SEGMENT}.`))).toEqual([]);
    writeFileSync(file, original);
    expect(await readValues()).toHaveLength(SENDS);
  });

  it.each([
    [
      "an impossible length",
      Buffer.from([0xde, 0xad, 0xbe, 0xef]),
      "has an impossible length field",
    ],
    ["a shorter length", Buffer.from([4, 0, 0, 0]), "fails its checksum"],
    ["a longer length", Buffer.from([0, 1, 0, 0]), "fails its checksum"],
  ])("refuses a frame whose length field was overwritten with %s", async (_, bytes, fault) => {
    await writeLog();
    const starts = frameStarts(readFileSync(file));
    const bad = starts[Math.floor(starts.length / 3)]!;
    flip(bad, bytes);
    const error = await openError();
    expect(error).toBeInstanceOf(LogCorruptError);
    expect((error as LogCorruptError).details).toMatchObject({ offset: bad, fault });
    expect((error as LogCorruptError).details.framesAfter).toBeGreaterThan(100);
  });

  it("refuses a bad last frame followed by bytes beyond its own end", async () => {
    await writeLog();
    const starts = frameStarts(readFileSync(file));
    const last = starts[starts.length - 1]!;
    flip(last + 10, Buffer.from([1, 2]));
    appendFileSync(file, Buffer.from([7, 7, 7]));
    const error = await openError();
    expect(error).toBeInstanceOf(LogCorruptError);
    expect((error as LogCorruptError).details).toMatchObject({ offset: last, framesAfter: 0 });
    expect((error as LogCorruptError).details.nextFrame).toBeUndefined();
  });

  it.each([
    ["an impossible length", 0xdeadbeef],
    ["a length beyond the end of the file", 16 * 1024 * 1024],
  ])(
    "takes megabytes of garbage after the last frame, opening with %s, for corruption, quickly",
    async (_, length) => {
      await writeLog();
      const size = readFileSync(file).length;
      const garbage = randomBytes(8 * 1024 * 1024);
      garbage.writeUInt32LE(length, 0);
      garbage.writeUInt16LE(0, 8); // not how a frame's payload opens
      appendFileSync(file, garbage);
      const started = Date.now();
      const error = await openError();
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toBeInstanceOf(LogCorruptError);
      expect((error as LogCorruptError).details).toMatchObject({ offset: size, framesAfter: 0 });
    },
  );
});

describe("a torn tail", () => {
  it.each([
    ["cut in its header", (start: number) => start + 3],
    ["cut in its payload", (start: number, end: number) => start + Math.floor((end - start) / 2)],
  ])("drops a last frame %s, keeps it aside and loses nothing else", async (_, cutAt) => {
    const id = await writeLog();
    const original = readFileSync(file);
    const starts = frameStarts(original);
    const last = starts[starts.length - 1]!;
    const cut = cutAt(last, original.length);
    truncateSync(file, cut);

    const warnings: string[] = [];
    const kafka = await EmbeddedKafka.open({
      directory: dir,
      sync: "never",
      logger: { warn: (_obj, msg) => warnings.push(msg) },
    });
    try {
      expect(kafka.log.droppedTail).toBe(true);
      expect(kafka.log.id).toBe(id);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain("a write cut short by a crash");
    } finally {
      await kafka.close();
    }
    expect(readFileSync(file).length).toBe(last);
    const aside = readdirSync(dir).filter((f) => f.startsWith(`${FIRST_SEGMENT}.tail-`));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0]!)).equals(original.subarray(last, cut))).toBe(true);
    const values = await readValues();
    expect(values).toHaveLength(SENDS - 1);
    expect(values).not.toContain(`v${SENDS - 1}`);
  });

  it("drops a whole last frame that fails its checksum when nothing follows it", async () => {
    await writeLog();
    const starts = frameStarts(readFileSync(file));
    flip(starts[starts.length - 1]! + 14, Buffer.from([0xff]));
    expect(await readValues()).toHaveLength(SENDS - 1);
  });
});

describe("repairLog", () => {
  it("reports without --truncate, and with it cuts at the last good frame keeping the rest aside", async () => {
    const id = await writeLog();
    const original = readFileSync(file);
    const starts = frameStarts(original);
    const index = Math.floor(starts.length / 2);
    const bad = starts[index]!;
    flip(bad + 20);
    const damaged = readFileSync(file);

    const report = await repairLog(dir);
    expect(report).toMatchObject({
      file,
      size: original.length,
      frames: index,
      validEnd: bad,
      logId: id,
      damage: { kind: "corrupt", offset: bad, bytes: original.length - bad },
    });
    expect(report.keptAside).toBeUndefined();
    expect(readFileSync(file).equals(damaged)).toBe(true);

    const repaired = await repairLog(dir, { truncate: true });
    expect(repaired.keptAside).toMatch(new RegExp(`${FIRST_SEGMENT}\\.corrupt-\\d+$`));
    expect(readFileSync(repaired.keptAside!).equals(damaged.subarray(bad))).toBe(true);
    expect(repaired.newLogId).toBeDefined();
    expect(repaired.newLogId).not.toBe(id);

    expect(await repairLog(dir)).toMatchObject({ damage: undefined, logId: repaired.newLogId });
    const kafka = await openLog(dir);
    try {
      expect(kafka.log.id).toBe(repaired.newLogId);
      const kept = [0, 1].reduce((n, p) => n + kafka.log.highWatermark("t", p), 0);
      // Frames before the bad one: the identity, the topic, then one send each.
      expect(kept).toBe(index - 2);
    } finally {
      await kafka.close();
    }
  });

  it("refuses a directory without a log, and one a running Weft holds", async () => {
    await expect(repairLog(join(dir, "nowhere"))).rejects.toThrow(/no embedded log/);
    await writeLog();
    const kafka = await openLog(dir);
    try {
      await expect(repairLog(dir)).rejects.toThrow(/in use by process/);
    } finally {
      await kafka.close();
    }
  });
});

describe("the log's ID", () => {
  it("is written when the log is created and kept across reopens", async () => {
    let kafka = await openLog(dir);
    const id = kafka.log.id;
    expect(kafka.log.created).toBe(true);
    await kafka.close();
    kafka = await openLog(dir);
    expect(kafka.log.id).toBe(id);
    expect(kafka.log.created).toBe(false);
    await kafka.close();
  });

  it("is written to a log whose creation was cut short", async () => {
    writeFileSync(file, MAGIC.subarray(0, 5));
    const kafka = await openLog(dir);
    expect(kafka.log.created).toBe(true);
    expect(kafka.log.id).toMatch(/^[0-9a-f-]{36}$/);
    await kafka.close();
    expect(readFileSync(file).subarray(0, MAGIC.length).equals(MAGIC)).toBe(true);
  });

  it("is given once to a log made before IDs existed", async () => {
    writeFileSync(
      file,
      Buffer.concat([
        MAGIC,
        encodeFrame([1, "t", 1]),
        encodeFrame([2, [["t", 0, 1, null, Buffer.from("old"), []]], []]),
      ]),
    );
    let kafka = await openLog(dir);
    const id = kafka.log.id;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(kafka.log.idAdded).toBe(true);
    expect(kafka.log.read("t", 0, 0, 100).map((r) => r.value!.toString())).toEqual(["old"]);
    await kafka.close();
    kafka = await openLog(dir);
    expect(kafka.log.id).toBe(id);
    expect(kafka.log.idAdded).toBe(false);
    await kafka.close();
  });
});
