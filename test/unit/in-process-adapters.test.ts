/** The in-process adapters of embedded mode: leases, done-markers, migration lock, emitter. */
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { WaitTimeoutError } from "../../core/errors";
import { closeLiveEmitter, createInProcessLiveEmitter } from "../../projections/live-changes";
import { InProcessMigrationLock } from "../../projections/migration-lock";
import { InProcessStepLeaseStore } from "../../workers/lease-store";
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
