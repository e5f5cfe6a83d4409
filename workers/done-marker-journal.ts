import { open, readFile, rename, type FileHandle } from "node:fs/promises";

/**
 * Done-markers on local disk, for embedded mode: one JSON line `[expiresAtMs, attempt]` per
 * marker, appended in batches. Opening reads the live markers back and rewrites the file
 * without the expired ones; a torn last line (a crash mid-write) is skipped. A marker is in
 * the kernel before `append` resolves, so it survives the process being killed.
 */
export class DoneMarkerJournal {
  private pending: string[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    /** The live markers found on opening: attempt → expiry. */
    readonly loaded: ReadonlyMap<string, number>,
  ) {}

  static async open(path: string, now = Date.now()): Promise<DoneMarkerJournal> {
    const loaded = new Map<string, number>();
    const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return "";
      throw err;
    });
    for (const line of text.split("\n")) {
      if (line === "") continue;
      try {
        const [until, key] = JSON.parse(line) as [number, string];
        if (typeof until === "number" && typeof key === "string" && until > now)
          loaded.set(key, until);
      } catch {
        // A torn line from a crash mid-append: that marker was never acknowledged.
      }
    }
    // Compact: only live markers, written aside and renamed over (atomic on POSIX).
    const tmp = `${path}.tmp`;
    const fresh = await open(tmp, "w");
    try {
      const lines = [...loaded].map(([key, until]) => JSON.stringify([until, key]) + "\n");
      if (lines.length > 0) await fresh.writeFile(lines.join(""));
      await fresh.sync();
    } finally {
      await fresh.close();
    }
    await rename(tmp, path);
    return new DoneMarkerJournal(await open(path, "a"), loaded);
  }

  /** Resolves once the marker is written (with the others of its batch). */
  append(key: string, until: number): Promise<void> {
    if (this.closed) return Promise.reject(new Error("the done-marker journal is closed"));
    this.pending.push(JSON.stringify([until, key]) + "\n");
    this.flushing ??= this.flush();
    return this.flushing;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flushing?.catch(() => undefined);
    await this.file.close();
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
