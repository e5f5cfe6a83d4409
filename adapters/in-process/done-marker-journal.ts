import { open, readFile, rename, type FileHandle } from "node:fs/promises";
import type { TaskPosition } from "../../workers/task-position";

/** A done-marker: until when it holds, and the task it was set for (when known). */
export interface DoneMarker {
  readonly until: number;
  readonly task?: TaskPosition;
}

/** A marker still needed when opened: not expired, and its task not committed past. */
export type MarkerLive = (marker: DoneMarker) => boolean;

type Line = [number, string] | [number, string, string, number, number];

/**
 * Done-markers on local disk, for embedded mode: one JSON line per marker, `[until, attempt]`
 * or `[until, attempt, topic, partition, offset]`, appended in batches. Opening reads the live
 * markers back and rewrites the file with them only; so does `compact`, which the store calls
 * when the file holds many more lines than live markers, so that the file follows the markers
 * still needed rather than every attempt ever run. A torn last line (a crash mid-write) is
 * skipped. A marker is in the kernel before `append` resolves, so it survives the process being
 * killed.
 */
export class DoneMarkerJournal {
  private pending: string[] = [];
  /** Every write to the file, in order: appends and compactions never interleave. */
  private chain: Promise<void> = Promise.resolve();
  private flushing: Promise<void> | undefined;
  /** A rewrite queued and not yet begun (see `compact`). */
  private compacting: Promise<void> | undefined;
  /** Rewrites of the file since it was opened (by `compact`). */
  rewrites = 0;
  private closed = false;
  /** Lines in the file now (live or not): what `compact` is weighed against. */
  private lines: number;

  private constructor(
    private file: FileHandle,
    private readonly path: string,
    /** The live markers found on opening. */
    readonly loaded: ReadonlyMap<string, DoneMarker>,
  ) {
    this.lines = loaded.size;
  }

  static async open(path: string, live: MarkerLive): Promise<DoneMarkerJournal> {
    const loaded = new Map<string, DoneMarker>();
    const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return "";
      throw err;
    });
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const parsed = parseLine(line);
      if (!parsed) continue;
      const [key, marker] = parsed;
      if (live(marker)) loaded.set(key, marker);
      else loaded.delete(key);
    }
    await writeAtomically(path, loaded);
    return new DoneMarkerJournal(await open(path, "a"), path, loaded);
  }

  /** Lines written to the file since it was last rewritten, live markers included. */
  get lineCount(): number {
    return this.lines;
  }

  /** Resolves once the marker is written (with the others of its batch). */
  append(key: string, marker: DoneMarker): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the done-marker journal is closed"));
    this.pending.push(JSON.stringify(toLine(key, marker)) + "\n");
    this.lines++;
    this.flushing ??= this.enqueue(() => this.flush());
    return this.flushing;
  }

  /**
   * Rewrites the file with `live()`'s markers only (taken when the rewrite runs, after the
   * appends before it). Lines appended meanwhile follow in the new file.
   */
  compact(live: () => ReadonlyMap<string, DoneMarker>): Promise<void> {
    // One rewrite queued at a time: the line count falls only when it runs, so every marker
    // appended before then would otherwise queue a whole rewrite of its own (measured: a
    // burst of 5,000 runs queued hundreds, 7 % of the engine's allocations).
    this.compacting ??= this.enqueue(async () => {
      this.compacting = undefined;
      const markers = live();
      await writeAtomically(this.path, markers);
      await this.file.close();
      this.file = await open(this.path, "a");
      this.lines = markers.size + this.pending.length;
      this.rewrites++;
    });
    return this.compacting;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain.catch(() => undefined);
    await this.file.close();
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async flush(): Promise<void> {
    // Let the markers of this tick join the batch.
    await Promise.resolve();
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.join("");
        this.pending = [];
        await this.file.write(batch);
      }
    } finally {
      this.flushing = undefined;
    }
  }
}

function toLine(key: string, marker: DoneMarker): Line {
  const { task } = marker;
  return task ? [marker.until, key, task.topic, task.partition, task.offset] : [marker.until, key];
}

function parseLine(line: string): [string, DoneMarker] | undefined {
  try {
    const [until, key, topic, partition, offset] = JSON.parse(line) as Partial<Line>;
    if (typeof until !== "number" || typeof key !== "string") return undefined;
    if (typeof topic === "string" && typeof partition === "number" && typeof offset === "number")
      return [key, { until, task: { topic, partition, offset } }];
    return [key, { until }];
  } catch {
    // A torn line from a crash mid-append: that marker was never acknowledged.
    return undefined;
  }
}

/** The markers written aside, synced and renamed over the file (atomic on POSIX). */
async function writeAtomically(
  path: string,
  markers: ReadonlyMap<string, DoneMarker>,
): Promise<void> {
  const tmp = `${path}.tmp`;
  const fresh = await open(tmp, "w");
  try {
    const lines = [...markers].map(([key, marker]) => JSON.stringify(toLine(key, marker)) + "\n");
    if (lines.length > 0) await fresh.writeFile(lines.join(""));
    await fresh.sync();
  } finally {
    await fresh.close();
  }
  await rename(tmp, path);
}
