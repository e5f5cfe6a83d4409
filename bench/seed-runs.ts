/**
 * Fills the read models with N synthetic runs through the projector's own fold and writers (no
 * Kafka): the rows are what projecting such histories would store. A mix of statuses, five
 * workflow types, retries, failures, sleeps, signals; start times spread over the last week.
 */
import type { Logger } from "../core/logger";
import { foldEvents } from "../projections/fold-events";
import type { ReadModelDb } from "../projections/read-model-db";
import { writeChanges } from "../projections/write-changes";
import type { EventBody, HistoryEvent } from "../schemas/types";

export const SEED_TYPES = ["orderFlow", "userSignupFlow", "invoiceRun", "reportBuild", "sync"];
const WEEK_MS = 7 * 24 * 3600 * 1000;

/** One run's synthetic history; `i` picks its shape, so the same i gives the same run. */
function seedHistory(i: number, now: number, prefix = "seed"): HistoryEvent[] {
  const workflowId = `${prefix}-${i.toString(36).padStart(6, "0")}`;
  const type = SEED_TYPES[i % SEED_TYPES.length]!;
  const shape = i % 20;
  const bodies: EventBody[] = [
    {
      type: "WorkflowStarted",
      workflowType: type,
      input: `{"n":${i}}`,
      idempotencyKey: null,
      requestId: `r${i}`,
    },
  ];
  let seq = 0;
  const step = (stepSeq: number, attempts: number, fail: boolean) => {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const last = attempt === attempts;
      bodies.push(
        {
          type: "StepScheduled",
          stepSeq,
          stepName: stepSeq % 2 ? "charge" : "notify",
          attempt,
          input: `{"n":${i}}`,
          taskQueue: stepSeq % 2 ? "payments" : "default",
          timeoutMs: null,
          retryPolicy: '{"maximumAttempts":3}',
        },
        { type: "StepStarted", stepSeq, attempt, workerId: `worker-${i % 7}`, startedAt: 0 },
      );
      if (last && !fail) {
        bodies.push({
          type: "StepCompleted",
          stepSeq,
          attempt,
          workerId: `worker-${i % 7}`,
          result: `{"ok":${i}}`,
        });
      } else {
        bodies.push({
          type: "StepFailed",
          stepSeq,
          attempt,
          workerId: `worker-${i % 7}`,
          error: {
            name: "Error",
            message: `attempt ${attempt} of run ${i} failed`,
            stack: null,
            terminal: false,
            code: null,
          },
          willRetry: !last,
        });
        if (!last) {
          bodies.push({
            type: "StepRetryScheduled",
            stepSeq,
            nextAttempt: attempt + 1,
            delayMs: 100,
            dueAt: 0,
          });
        }
      }
    }
  };
  step(++seq, 1, false);
  if (shape < 13) {
    step(++seq, shape === 3 ? 2 : 1, false);
    step(++seq, 1, false);
    bodies.push({ type: "WorkflowCompleted", result: `{"done":${i}}` });
  } else if (shape < 15) {
    step(++seq, 3, true);
    bodies.push({
      type: "WorkflowFailed",
      error: {
        name: "StepFailedError",
        message: `step failed for good in run ${i}`,
        stack: null,
        terminal: false,
        code: "STEP_FAILED",
      },
    });
  } else if (shape < 18) {
    // Still running: asleep on a timer, or waiting for a signal.
    const timerSeq = ++seq;
    if (shape === 17) {
      bodies.push({
        type: "SignalWaitStarted",
        waitSeq: timerSeq,
        signalName: "approve",
        timeoutMs: null,
        dueAt: null,
      });
    } else {
      bodies.push({ type: "TimerStarted", timerSeq, durationMs: 3600_000, dueAt: 0 });
    }
  } else if (shape === 18) {
    bodies.push({
      type: "SignalReceived",
      signalName: "cancelled-by-user",
      payload: "null",
      requestId: `s${i}`,
    });
    bodies.push({ type: "WorkflowCancelled", reason: "seeded", requestId: `c${i}` });
  } else {
    step(++seq, 1, false);
    bodies.push({ type: "WorkflowCompleted", result: "null" });
  }
  // Newest runs have the highest i; each run's events 50 ms apart.
  const t0 = now - WEEK_MS + Math.floor((i * 7919) % WEEK_MS);
  return bodies.map((body, k) => {
    const at = t0 + k * 50;
    return { workflowId, seq: k + 1, at, body: timed(body, at) };
  });
}

/** The body with its times (placeholders above) taken from the event's own time. */
function timed(body: EventBody, at: number): EventBody {
  if (body.type === "TimerStarted") return { ...body, dueAt: at + body.durationMs };
  if (body.type === "StepRetryScheduled") return { ...body, dueAt: at + body.delayMs };
  if (body.type === "StepStarted") return { ...body, startedAt: at };
  return body;
}

/** Writes runs `from`…`from + count - 1`; 500 runs per transaction. Returns the events written. */
export async function seedRuns(
  db: ReadModelDb,
  count: number,
  logger: Logger,
  options: {
    from?: number;
    now?: number;
    prefix?: string;
    onProgress?: (done: number) => void;
  } = {},
): Promise<number> {
  const from = options.from ?? 0;
  const now = options.now ?? Date.now();
  let events = 0;
  for (let start = from; start < from + count; start += 500) {
    const batch: HistoryEvent[] = [];
    for (let i = start; i < Math.min(from + count, start + 500); i++) {
      batch.push(...seedHistory(i, now, options.prefix));
    }
    events += batch.length;
    const changes = foldEvents(new Map(), batch, logger);
    await db.transaction((tx) => writeChanges(tx, changes));
    options.onProgress?.(start + 500 - from);
  }
  await db.query("ANALYZE");
  return events;
}
