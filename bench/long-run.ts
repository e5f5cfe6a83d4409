/**
 * One long run through the decider's core (PartitionState, no broker): a workflow of N
 * sequential steps, each step's result applied as a worker's report would be, with the
 * execution cache on (the default) and off (executionCacheSize 0: every decision replays the
 * run's code over its history, as after a decider restart or an eviction). Prints the time of
 * a decision for the first 100 steps and for each later 100-step window, the ratio of the last
 * to the first, and the load average beside it.
 *
 *   npm run bench:long-run -- [--steps 10000]
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { createLogger } from "../core/logger";
import { PartitionState } from "../deciders/partition-state";
import { Registry } from "../deciders/registry";
import type { CommandBody } from "../schemas/types";
import { defineStep, defineWorkflow } from "../sdk";

const { values } = parseArgs({ options: { steps: { type: "string", default: "10000" } } });
const STEPS = Number(values.steps);

const add = defineStep("add", (n: number) => n + 1);
const chain = defineWorkflow("chain", async (ctx, input: { steps: number }) => {
  let n = 0;
  for (let i = 0; i < input.steps; i++) n = await ctx.step(add, n);
  return n;
});

async function measure(cacheSize: number): Promise<number[]> {
  const state = new PartitionState(0, new Registry([chain], [add]), createLogger("silent"), {
    executionCacheSize: cacheSize,
  });
  let clock = 1_000;
  const apply = async (body: CommandBody) => {
    clock += 1;
    await state.apply({ workflowId: "long", sentAt: clock, body }, clock);
    return state.takeDecisions();
  };
  await apply({
    type: "StartWorkflow",
    workflowType: "chain",
    input: JSON.stringify({ steps: STEPS }),
    idempotencyKey: null,
    requestId: "r",
  });
  const perStep: number[] = [];
  for (let seq = 1, n = 0; n < STEPS; n++) {
    const began = process.hrtime.bigint();
    const out = await apply({
      type: "ReportStepCompleted",
      stepSeq: seq,
      attempt: 1,
      workerId: "w",
      result: JSON.stringify(n + 1),
    });
    perStep.push(Number(process.hrtime.bigint() - began) / 1e6);
    const next = out.tasks[0]?.task.stepSeq;
    if (next === undefined && n < STEPS - 1) throw new Error(`no next step after step ${n + 1}`);
    seq = next ?? seq;
  }
  return perStep;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(" ");
  console.log(`long-run: ${STEPS} sequential steps, load ${load()}`);
  for (const [label, cache] of [
    ["cache on", 10_000],
    ["cache off", 0],
  ] as const) {
    const perStep = await measure(cache);
    const windows: string[] = [];
    const every = Math.max(100, Math.floor(STEPS / 10));
    for (let from = 0; from < STEPS; from += every)
      windows.push(
        `${from + 1}-${from + 100}: ${mean(perStep.slice(from, from + 100)).toFixed(3)}`,
      );
    const first = mean(perStep.slice(0, 100));
    const last = mean(perStep.slice(-100));
    console.log(
      `${label}: ms per decision by step window (${windows.join(", ")}); last 100 / first 100 = ${(last / first).toFixed(1)}x; total ${(perStep.reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s [load ${load()}]`,
    );
  }
}

void main();
