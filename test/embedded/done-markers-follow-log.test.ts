/**
 * The workers' done-markers follow the embedded log they speak of (real files): kept per log
 * ID, so the markers of another log (a new, replaced or repaired one) are removed; dropped when
 * opening dropped a torn last frame; a log that predates IDs keeps its `done-markers` file.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { doneMarkersFile } from "../../adapters/embedded-done-markers";
import { FIRST_SEGMENT, LEGACY_LOG_FILE } from "../../adapters/embedded";
import { encodeFrame, MAGIC } from "../../adapters/embedded/frames";
import { openLog, tempDir } from "./helpers";

let dir: string;
let cleanup: () => void;

beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const MARKER = `${JSON.stringify([Date.now() + 60_000, "run-1/2/1"])}\n`;
const markers = () =>
  readdirSync(dir)
    .filter((f) => f.startsWith("done-markers"))
    .sort();

it("keeps the markers of this log and removes those of any other", async () => {
  const kafka = await openLog(dir);
  try {
    const file = doneMarkersFile(dir, kafka.log);
    expect(file).toBe(join(dir, `done-markers.${kafka.log.id}`));
    writeFileSync(file, MARKER);
    writeFileSync(join(dir, "done-markers.00000000-0000-4000-8000-000000000000"), MARKER);
    expect(doneMarkersFile(dir, kafka.log)).toBe(file);
    expect(markers()).toEqual([`done-markers.${kafka.log.id}`]);
    expect(readFileSync(file, "utf8")).toBe(MARKER);
  } finally {
    await kafka.close();
  }
});

it("drops them when opening dropped a torn last frame", async () => {
  let kafka = await openLog(dir);
  writeFileSync(doneMarkersFile(dir, kafka.log), MARKER);
  await kafka.close();
  appendFileSync(join(dir, FIRST_SEGMENT), Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 0x93, 2, 0x91]));
  kafka = await openLog(dir);
  try {
    expect(kafka.log.droppedTail).toBe(true);
    const file = doneMarkersFile(dir, kafka.log);
    expect(existsSync(file)).toBe(false);
  } finally {
    await kafka.close();
  }
});

it("keeps the done-markers file of a log made before IDs existed", async () => {
  // A log of one file, from a Weft before segments and before IDs.
  writeFileSync(join(dir, LEGACY_LOG_FILE), Buffer.concat([MAGIC, encodeFrame([1, "t", 1])]));
  writeFileSync(join(dir, "done-markers"), MARKER);
  const kafka = await openLog(dir);
  try {
    expect(kafka.log.idAdded).toBe(true);
    const file = doneMarkersFile(dir, kafka.log);
    expect(markers()).toEqual([`done-markers.${kafka.log.id}`]);
    expect(readFileSync(file, "utf8")).toBe(MARKER);
  } finally {
    await kafka.close();
  }
});
