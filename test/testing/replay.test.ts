/**
 * checkReplay: recorded histories (test/golden/histories) against today's workflow code, and
 * against deliberately changed code, which must be reported with where and how it diverged.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createUserSignupFlow } from "../../examples/signup";
import { defineWorkflow, type HistoryEvent } from "../../sdk";
import {
  assertReplays,
  checkReplay,
  ReplayDivergenceError,
  type RecordedHistory,
} from "../../sdk/testing";
import type { AnyWorkflowDefinition } from "../../workflow/definitions";
import { countdown, echo, flaky, workflows } from "../fixtures/workflows";
import { familyWorkflows } from "../fixtures/children";
import { scopeWorkflows } from "../fixtures/scopes";
import { feeV2 } from "../fixtures/timeouts";
import { scheduleWorkflow } from "../../workflow/schedules/schedule-workflow";

const dir = join(__dirname, "..", "golden", "histories");
const definitions = new Map<string, AnyWorkflowDefinition>(
  [
    ...workflows,
    ...familyWorkflows,
    ...scopeWorkflows,
    feeV2,
    createUserSignupFlow({ waitMs: 0, confirmTimeoutMs: 0 }),
    scheduleWorkflow,
  ].map((w) => [w.name, w]),
);
const files = readdirSync(dir).filter((f) => f.endsWith(".json"));

/** The line of this file that holds `marker` (a comment after the call it names). */
function lineOf(marker: string): number {
  const lines = readFileSync(__filename, "utf8").split("\n");
  const index = lines.findIndex((l) => l.includes(`// ${marker}`));
  if (index < 0) throw new Error(`no line marked ${marker}`);
  return index + 1;
}

function golden(name: string): HistoryEvent[] {
  return JSON.parse(readFileSync(join(dir, name), "utf8")) as HistoryEvent[];
}

describe.each(files)("recorded history %s", (file) => {
  it("replays through today's code", async () => {
    const history = golden(file);
    const first = history[0]!.body;
    if (first.type !== "WorkflowStarted") throw new Error(`${file} has no start`);
    const report = await checkReplay(definitions.get(first.workflowType)!, history);
    expect(report.divergence).toBeNull();
    expect(report).toMatchObject({ ok: true, events: history.length });
  });
});

describe("checkReplay on runs continued as new", () => {
  const history = golden("countdown-continued.json");

  it("replays each run of the history in turn", async () => {
    expect(history.filter((e) => e.body.type === "WorkflowStarted")).toHaveLength(3);
    expect(await checkReplay(countdown, history)).toMatchObject({
      ok: true,
      events: history.length,
    });
  });

  it("names the event of a later run where the code diverged", async () => {
    // Runs after the first now sleep before their step; the rest is countdown's code.
    const changed = defineWorkflow(
      "countdown",
      async (ctx, input: Parameters<typeof countdown.fn>[1]) => {
        if (ctx.info.runStartSeq > 1) await ctx.sleep(1); // later runs sleep
        return countdown.fn(ctx, input);
      },
    );
    const report = await checkReplay(changed, history);
    const secondStart = history.filter((e) => e.body.type === "WorkflowStarted")[1]!;
    expect(report).toMatchObject({
      ok: false,
      divergence: {
        kind: "command",
        eventSeq: secondStart.seq + 1,
        eventType: "StepScheduled",
        // Calls of a later run are numbered after the history before it.
        position: secondStart.seq,
        expected: 'step "echo"',
        found: "wait",
        runStartSeq: secondStart.seq,
        source: { file: __filename, line: lineOf("later runs sleep") },
        sourceCall: "wait",
      },
    });
  });

  it("checks a history that opens at a later run's start", async () => {
    const starts = history.filter((e) => e.body.type === "WorkflowStarted");
    const fromSecond = history.slice(starts[1]!.seq - 1);
    expect(await checkReplay(countdown, fromSecond)).toMatchObject({
      ok: true,
      events: fromSecond.length,
    });
    // Cut inside a run, it is refused: the run's start must be there.
    await expect(checkReplay(countdown, history.slice(starts[1]!.seq))).rejects.toThrow(
      /starts with WorkflowStarted/,
    );
  });
});

describe("checkReplay on changed code", () => {
  const history = golden("three-steps.json");

  it("names a child call that changed, and where the code makes it", async () => {
    // The parent awaited a familyChild when its history was recorded.
    const changed = defineWorkflow("carefulParent", async (ctx) => {
      return ctx.child("otherChild", {}); // the changed child
    });
    const report = await checkReplay(changed, golden("child-failed-parent.json"));
    expect(report.divergence).toMatchObject({
      kind: "command",
      position: 1,
      expected: 'child workflow "familyChild"',
      found: 'child workflow "otherChild"',
      source: { file: __filename, line: lineOf("the changed child") },
    });
  });

  it("names the event, the position, what history has and what the code asks for", async () => {
    // The second step was echo when the history was recorded.
    const changed = defineWorkflow("threeSteps", async (ctx, input: { n: number }) => {
      const a = await ctx.step<{ n: number }>(echo, { n: input.n + 1 });
      await ctx.step(flaky, { failTimes: 0 }); // the changed call
      return ctx.step<{ n: number }>(echo, { n: a.n + 2 });
    });
    const report = await checkReplay(changed, history);
    const scheduled = history.filter((e) => e.body.type === "StepScheduled")[1]!;
    expect(report.ok).toBe(false);
    expect(report.divergence).toMatchObject({
      kind: "command",
      eventSeq: scheduled.seq,
      eventType: "StepScheduled",
      position: 2,
      expected: 'step "echo"',
      found: 'step "flaky"',
      runStartSeq: 1,
      // Where the code asks for it, from a stack captured at the ctx call.
      source: { file: __filename, line: lineOf("the changed call"), column: expect.any(Number) },
      sourceCall: 'step "flaky"',
    });
    expect((await checkReplay(changed, history, { callSites: false })).divergence).toMatchObject({
      position: 2,
      source: null,
      sourceCall: null,
    });
    expect(report.divergence!.message).toMatch(
      /^history event 5 \(StepScheduled\): .* at command 2: history has step "echo"/,
    );

    const thrown = await assertReplays(changed, history).catch((err: unknown) => err);
    expect(thrown).toBeInstanceOf(ReplayDivergenceError);
    expect(thrown).toMatchObject({ code: "DETERMINISM_VIOLATION" });
  });

  it("reports a wait where history has a step", async () => {
    const changed = defineWorkflow("threeSteps", async (ctx) => {
      await ctx.wait(1000);
      return { n: 0 };
    });
    expect((await checkReplay(changed, history)).divergence).toMatchObject({
      kind: "command",
      position: 1,
      expected: 'step "echo"',
      found: "wait",
    });
  });

  it("reports a command that history does not hold", async () => {
    const longer = defineWorkflow("threeSteps", async (ctx, input: { n: number }) => {
      const a = await ctx.step<{ n: number }>(echo, { n: input.n + 1 });
      const b = await ctx.step<{ n: number }>(echo, { n: a.n + 1 });
      const c = await ctx.step<{ n: number }>(echo, { n: b.n + 1 });
      await ctx.waitForSignal("audit"); // the added wait
      return c;
    });
    expect((await checkReplay(longer, history)).divergence).toMatchObject({
      kind: "unrecordedCommand",
      position: 4,
      expected: "nothing",
      found: 'signal "audit"',
      eventType: "WorkflowCompleted",
      source: { file: __filename, line: lineOf("the added wait") },
    });
  });

  it("reports a different outcome", async () => {
    const other = defineWorkflow("threeSteps", async (ctx, input: { n: number }) => {
      const a = await ctx.step<{ n: number }>(echo, { n: input.n + 1 });
      const b = await ctx.step<{ n: number }>(echo, { n: a.n + 1 });
      const c = await ctx.step<{ n: number }>(echo, { n: b.n + 1 });
      return { total: c.n };
    });
    expect((await checkReplay(other, history)).divergence).toMatchObject({
      kind: "outcome",
      expected: 'completed with {"n":4}',
      found: 'completed with {"total":4}',
    });
  });

  it("reports a command the code no longer issues", async () => {
    const shorter = defineWorkflow(
      "threeSteps",
      async (ctx, input: { n: number }) => ctx.step<{ n: number }>(echo, { n: input.n + 3 }), // the only call
    );
    expect((await checkReplay(shorter, history)).divergence).toMatchObject({
      kind: "command",
      position: 2,
      expected: 'step "echo"',
      found: "nothing",
      // Nothing is asked for there: the code's last call is named instead.
      source: { file: __filename, line: lineOf("the only call") },
      sourceCall: 'step "echo"',
    });
  });
});

describe("checkReplay on open runs", () => {
  const history = golden("three-steps.json");
  const upTo = (type: string, nth: number) =>
    history.slice(0, history.filter((e) => e.body.type === type)[nth - 1]!.seq);

  it("passes a history cut at a decision, and reports a command the cut does not hold", async () => {
    const definition = definitions.get("threeSteps")!;
    // After the second StepScheduled the run waits for that step: nothing more to ask for.
    expect((await checkReplay(definition, upTo("StepScheduled", 2))).ok).toBe(true);
    // Cut right after a completion, the code asks for the next step, which a decider would
    // have recorded in the same commit.
    expect((await checkReplay(definition, upTo("StepCompleted", 1))).divergence).toMatchObject({
      kind: "unrecordedCommand",
      position: 2,
    });
  });

  it("lets a blocked run resume: only the recorded part has to replay", async () => {
    const cut = upTo("StepCompleted", 1);
    const blocked: HistoryEvent = {
      workflowId: cut[0]!.workflowId,
      seq: cut.length + 1,
      at: cut.at(-1)!.at,
      body: { type: "WorkflowBlocked", code: "DETERMINISM_VIOLATION", reason: "an older deploy" },
    };
    expect((await checkReplay(definitions.get("threeSteps")!, [...cut, blocked])).ok).toBe(true);
  });
});

describe("checkReplay input", () => {
  it("takes the CLI's JSON form (seq, type, ISO time, body)", async () => {
    const history = golden("approval-timeout.json");
    const cliForm: RecordedHistory = history.map((e) => ({
      seq: e.seq,
      type: e.body.type,
      at: new Date(e.at).toISOString(),
      body: e.body,
    }));
    const report = await checkReplay(definitions.get("approval")!, cliForm, {
      workflowId: history[0]!.workflowId,
    });
    expect(report).toMatchObject({ ok: true, workflowId: history[0]!.workflowId });
  });

  it("refuses a history of another workflow type, or with gaps", async () => {
    const history = golden("three-steps.json");
    await expect(checkReplay(definitions.get("approval")!, history)).rejects.toThrow(
      /workflow type "threeSteps", the definition is "approval"/,
    );
    await expect(
      checkReplay(definitions.get("threeSteps")!, [history[0]!, history[2]!]),
    ).rejects.toThrow(/event 2 has seq 3/);
    await expect(checkReplay(definitions.get("threeSteps")!, [])).rejects.toThrow(/non-empty/);
  });
});
