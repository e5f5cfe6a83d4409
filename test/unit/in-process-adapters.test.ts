/** The in-process adapters of embedded mode: leases, done-markers, migration lock, emitter. */
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { WaitTimeoutError } from "../../core/errors";
import { closeLiveEmitter } from "../../projections/live-changes";
import { DoneMarkerJournal, type DoneMarker } from "../../adapters/in-process/done-marker-journal";
import { createInProcessLiveEmitter } from "../../adapters/in-process/live-emitter";
import { InProcessMigrationLock } from "../../adapters/in-process/migration-lock";
import { InProcessStepLeaseStore } from "../../adapters/in-process/step-lease-store";
import { tempDir } from "../embedded/helpers";

const ref = { workflowId: "wf-1", stepSeq: 2, attempt: 1 };

describe("InProcessStepLeaseStore", () => {
  it("lets one holder at a time take an attempt's lease, and takes it back when it lapses", async () => {
    const store = new InProcessStepLeaseStore();
    const lock = await store.tryLock(ref, 300);
    expect(lock).toBeDefined();
    expect(await store.tryLock(ref, 300)).toBeUndefined();
    expect(await store.tryLock({ ...ref, attempt: 2 }, 300)).toBeDefined();
    const extended = await lock!.extend(300);
    await extended.release();
    const again = await store.tryLock(ref, 50);
    expect(again).toBeDefined();
    await new Promise((r) => setTimeout(r, 80));
    // Lapsed: someone else may take it, and the old holder can no longer extend it.
    expect(await store.tryLock(ref, 300)).toBeDefined();
    await expect(again!.extend(300)).rejects.toThrow(/lost/);
  });

  it("keeps done-markers in its file across a reopen, skipping a torn last line", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "done-markers");
      const first = await InProcessStepLeaseStore.open(path);
      expect(await first.isDone(ref)).toBe(false);
      await Promise.all([first.markDone(ref), first.markDone({ ...ref, stepSeq: 3 })]);
      expect(await first.isDone(ref)).toBe(true);
      await first.close();
      appendFileSync(path, "[17000000000");
      const second = await InProcessStepLeaseStore.open(path);
      expect(await second.isDone(ref)).toBe(true);
      expect(await second.isDone({ ...ref, stepSeq: 3 })).toBe(true);
      expect(await second.isDone({ ...ref, attempt: 2 })).toBe(false);
      await second.close();
      // Reopening compacted the file: the torn line is gone.
      expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(2);
    } finally {
      cleanup();
    }
  });
});

describe("done-markers that follow the tasks in flight", () => {
  const at = (offset: number) => ({ topic: "weft.tasks.default", partition: 0, offset });
  const attempt = (stepSeq: number) => ({ workflowId: "wf-2", stepSeq, attempt: 1 });

  it("forgets a marker once the workers committed past its task, in memory and on reopen", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "done-markers");
      let committed: number | undefined;
      const commits = () => committed;
      const first = await InProcessStepLeaseStore.open(path, commits);
      for (let seq = 0; seq < 5; seq++) await first.markDone(attempt(seq), "w", at(seq));
      // Nothing committed yet: every task may be delivered again, every marker holds.
      expect(first.markers).toBe(5);
      committed = 3;
      await first.markDone(attempt(5), "w", at(5));
      // Tasks 0-2 are below the committed offset: their markers went; 3-5 stay.
      expect(first.markers).toBe(3);
      expect(await first.isDone(attempt(2))).toBe(false);
      expect(await first.isDone(attempt(3))).toBe(true);
      await first.close();
      committed = 5;
      const second = await InProcessStepLeaseStore.open(path, commits);
      expect(second.markers).toBe(1);
      expect(await second.isDone(attempt(5))).toBe(true);
      await second.close();
      expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(1);
    } finally {
      cleanup();
    }
  });

  it("rewrites its file when it holds many more lines than live markers", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "done-markers");
      let committed = 0;
      const store = await InProcessStepLeaseStore.open(path, () => committed);
      // 30,000 attempts, the workers committing right behind them: a few markers live at a time.
      for (let seq = 0; seq < 30_000; seq++) {
        committed = Math.max(0, seq - 10);
        await store.markDone(attempt(seq), "w", at(seq));
      }
      expect(store.markers).toBeLessThanOrEqual(11);
      await store.close();
      const lines = readFileSync(path, "utf8").trim().split("\n").length;
      // Without the rewrite the file would hold all 30,000 lines.
      expect(lines).toBeLessThan(12_000);
      const reopened = await InProcessStepLeaseStore.open(path, () => committed);
      expect(await reopened.isDone(attempt(29_999))).toBe(true);
      expect(reopened.markers).toBeLessThanOrEqual(11);
      await reopened.close();
    } finally {
      cleanup();
    }
  });
});

describe("DoneMarkerJournal", () => {
  it("queues one rewrite at a time, however many markers ask for one while it waits", async () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, "done-markers");
      const journal = await DoneMarkerJournal.open(path, () => true);
      const live = new Map<string, DoneMarker>();
      const until = Date.now() + 60_000;
      // As the store does in a burst: every marker past the threshold asks for a rewrite
      // before the first has run.
      const written: Promise<void>[] = [];
      for (let i = 0; i < 2_000; i++) {
        live.clear();
        live.set(`k${i}`, { until });
        written.push(journal.append(`k${i}`, { until }));
        if (i >= 1_000) written.push(journal.compact(() => live));
      }
      await Promise.all(written);
      expect(journal.rewrites).toBeLessThanOrEqual(2);
      // The rewrite kept the live marker, and the lines appended after it follow.
      await journal.compact(() => live);
      await journal.close();
      expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(1);
      expect(readFileSync(path, "utf8")).toContain('"k1999"');
    } finally {
      cleanup();
    }
  });
});

describe("InProcessMigrationLock", () => {
  it("runs holders one after the other and times out a waiter", async () => {
    const lock = new InProcessMigrationLock();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const first = lock.hold(async () => {
      order.push("first in");
      await new Promise<void>((r) => (release = r));
      order.push("first out");
    }, 1000);
    const second = lock.hold(async () => {
      order.push("second");
      await Promise.resolve();
    }, 1000);
    await expect(lock.hold(() => Promise.resolve(), 20)).rejects.toBeInstanceOf(WaitTimeoutError);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(["first in", "first out", "second"]);
  });
});

describe("in-process live emitter", () => {
  it("delivers what the projector emits to the API's listeners", async () => {
    const emitter = createInProcessLiveEmitter();
    const got: unknown[] = [];
    await new Promise<void>((resolve) =>
      emitter.on(
        "weft/runs",
        (message, done) => {
          got.push(message.ids);
          done();
        },
        resolve,
      ),
    );
    await new Promise<void>((resolve) =>
      emitter.emit({ topic: "weft/runs", ids: ["a"] }, () => resolve()),
    );
    expect(got).toEqual([["a"]]);
    await closeLiveEmitter(emitter);
  });
});
