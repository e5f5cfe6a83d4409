/**
 * Decider memory per open sleeping run, measured in one process: N runs of `sleepy`
 * (a step, then a durable timer) are decided, a fresh state restores them from the
 * changelog records the deciding wrote, and the heap after a full GC is compared with the
 * heap before. Run with --expose-gc:
 *
 *   node --expose-gc --import tsx bench/run-memory.ts [N] [heap-snapshot-file]
 *
 * With a file, a V8 heap snapshot of the restored state is written there (what holds a run).
 */
import { writeHeapSnapshot } from "node:v8";
import { createLogger } from "../core/logger";
import { PartitionState } from "../deciders/partition-state";
import { Registry } from "../deciders/registry";
import { changelogEntry, changelogMessages, type ChangelogEntry } from "../deciders/run-changelog";
import type { PortConsumedMessage } from "../transport/port";
import { echo, sleepy, slow } from "../test/fixtures/workflows";

const N = Number(process.argv[2] ?? 20_000);
const maybeGc = (globalThis as { gc?: () => void }).gc;
if (!maybeGc) throw new Error("run with node --expose-gc");
const gc: () => void = maybeGc;

function asConsumed(m: ReturnType<typeof changelogMessages>[number]): PortConsumedMessage {
  const headers: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = Buffer.from(String(v));
  return {
    key: Buffer.from(String(m.key)),
    value: m.value === null ? null : Buffer.from(m.value),
    timestamp: "0",
    attributes: 0,
    offset: "0",
    headers,
  };
}

const log = createLogger("silent");
const registry = new Registry([sleepy], [echo, slow]);

/** The changelog records of N sleeping runs, decided by a state that is gone once this returns. */
async function decideSleepers(): Promise<PortConsumedMessage[]> {
  const live = new PartitionState(0, registry, log, { executionCacheSize: 0 });
  const latest = new Map<string, PortConsumedMessage>();
  let now = 1_000;
  for (let i = 0; i < N; i++) {
    const id = `sleepy-${String(i).padStart(8, "0")}-${"x".repeat(20)}`;
    await live.apply(
      {
        workflowId: id,
        sentAt: now,
        body: {
          type: "StartWorkflow",
          workflowType: "sleepy",
          input: JSON.stringify({ ms: 3_600_000, n: i }),
          idempotencyKey: null,
          requestId: `r-${i}`,
        },
      },
      now++,
    );
    for (const t of [{ type: "ReportStepStarted" }, { type: "ReportStepCompleted" }] as const) {
      await live.apply(
        {
          workflowId: id,
          sentAt: now,
          body:
            t.type === "ReportStepStarted"
              ? { type: t.type, stepSeq: 1, attempt: 1, workerId: "w", startedAt: now }
              : { type: t.type, stepSeq: 1, attempt: 1, workerId: "w", result: '{"before":true}' },
        },
        now++,
      );
    }
    for (const m of live.takeDecisions().changes.flatMap((c) => changelogMessages(c, 0)))
      latest.set(String(m.key), asConsumed(m));
  }
  return [...latest.values()];
}

async function main(): Promise<void> {
  const records = await decideSleepers();
  gc();
  const before = process.memoryUsage();
  const state = new PartitionState(0, registry, log, { executionCacheSize: 0 });
  const entries: ChangelogEntry[] = [];
  for (const r of records) {
    const entry = changelogEntry(r);
    if (entry) entries.push(entry);
  }
  state.restoreChangelog(entries);
  // The decoded records are the state's input, not part of it.
  entries.length = 0;
  gc();
  const after = process.memoryUsage();
  const perRun =
    (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / state.runs.size;
  process.stdout.write(
    `${state.runs.size} open sleeping runs restored: ${(perRun / 1024).toFixed(2)} KB of heap each ` +
      `(heap ${((after.heapUsed - before.heapUsed) / 1048576).toFixed(1)} MB, ` +
      `buffers ${((after.arrayBuffers - before.arrayBuffers) / 1048576).toFixed(1)} MB), ` +
      `${state.timers.size} timers pending\n`,
  );
  if (process.argv[3]) writeHeapSnapshot(process.argv[3]);
}

void main();
