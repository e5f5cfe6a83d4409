/**
 * The workflows the chaos suite runs (`npm run chaos`): the role processes host this module with
 * `weft start chaos/workflows.ts`. Each type exercises one durable mechanism under faults:
 * chains of steps, durable sleeps, signal waits with timeouts, and steps that fail and retry.
 * Every input is chosen by the harness (seeded), so a run's shape is known when it is checked.
 */
import { defineStep, defineWorkflow } from "../sdk";
import type { RetryPolicy } from "../sdk";

/** Faults kill workers mid-attempt: steps retry often and soon rather than fail the run. */
const PATIENT: RetryPolicy = {
  maximumAttempts: 20,
  backoff: "exponential",
  initialIntervalMs: 200,
  maximumIntervalMs: 2000,
};

/** A short piece of work, as a call to another service would be. */
export const chaosWork = defineStep(
  "chaosWork",
  async (input: { n: number; ms: number }, step) => {
    await pause(input.ms, step.signal);
    return { n: input.n + 1 };
  },
  { retry: PATIENT },
);

/** Fails its first `failures` attempts on purpose, then succeeds. */
export const chaosFlaky = defineStep("chaosFlaky", (input: { failures: number }, step) => {
  if (step.attempt <= input.failures) {
    throw new Error(`attempt ${step.attempt} of ${input.failures + 1} fails on purpose`);
  }
  return { attempt: step.attempt };
});

export interface ChainInput {
  steps: number;
  ms: number;
}
export interface SleepInput {
  sleepMs: number;
  ms: number;
}
export interface SignalInput {
  timeoutMs: number;
  ms: number;
}
export interface RetryInput {
  failures: number;
  backoffMs: number;
  ms: number;
}

/** The name of the one signal a `chaosSignal` run waits for. */
export const CHAOS_SIGNAL = "go";

export const chaosChain = defineWorkflow("chaosChain", async (ctx, input: ChainInput) => {
  let n = 0;
  for (let i = 0; i < input.steps; i++) n = (await ctx.step(chaosWork, { n, ms: input.ms })).n;
  return { n };
});

export const chaosSleep = defineWorkflow("chaosSleep", async (ctx, input: SleepInput) => {
  const before = await ctx.step(chaosWork, { n: 0, ms: input.ms });
  await ctx.wait(input.sleepMs);
  return ctx.step(chaosWork, { n: before.n, ms: input.ms });
});

export const chaosSignal = defineWorkflow("chaosSignal", async (ctx, input: SignalInput) => {
  await ctx.step(chaosWork, { n: 0, ms: input.ms });
  const got = await ctx.waitForSignal<{ marker: string }>(CHAOS_SIGNAL, {
    timeoutMs: input.timeoutMs,
  });
  await ctx.step(chaosWork, { n: got ? 1 : 0, ms: input.ms });
  return { received: got?.marker ?? null };
});

export const chaosRetry = defineWorkflow("chaosRetry", async (ctx, input: RetryInput) => {
  const flaky = await ctx.step(
    chaosFlaky,
    { failures: input.failures },
    {
      retry: {
        maximumAttempts: input.failures + 10,
        backoff: "fixed",
        initialIntervalMs: input.backoffMs,
      },
    },
  );
  await ctx.step(chaosWork, { n: flaky.attempt, ms: input.ms });
  return { attempts: flaky.attempt };
});

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(new Error("aborted"));
    });
  });
}
