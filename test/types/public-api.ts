/**
 * Compile-time checks of the public API as a user's strict code sees it (imports by package
 * name). Never run: test/unit/public-types.test.ts compiles it, and every `@ts-expect-error`
 * below must still meet an error, or the compiler reports the directive as unused.
 */
import {
  ChildWorkflowFailedError,
  defineStep,
  defineWorkflow,
  ScopeCancelledError,
  type AcceptedRequest,
  type CancellationScope,
  type ChildHandle,
  type NewRunOptions,
  type StepDefinition,
  type WeftClient,
  type WorkflowDefinition,
} from "@weft-engine/weft";
import { createTestEnvironment } from "@weft-engine/weft/testing";
import { expectTypeOf } from "expect-type";

// A handler that returns a promise: the step resolves with what the promise does.
const greet = defineStep("greet", (input: { name: string }) =>
  Promise.resolve({ greeting: `hello ${input.name}` }),
);
const tick = defineStep("tick", () => 42);
// A step that heartbeats its progress and resumes from an earlier attempt's.
export const pages = defineStep(
  "pages",
  async (_input: undefined, step) => {
    expectTypeOf(step.lastHeartbeatDetails).toBeUnknown();
    expectTypeOf(step.heartbeat({ page: 1 })).toEqualTypeOf<Promise<void>>();
    await step.heartbeat();
    return 1;
  },
  { heartbeatTimeoutMs: 10_000 },
);
export const bounded = defineWorkflow("bounded", () => Promise.resolve(1), {
  executionTimeoutMs: 60_000,
});
const echo = defineStep("echo", (input: unknown) => input);
const maybe = defineStep("maybe", (input: { name: string } | undefined) => input?.name ?? "");

expectTypeOf(greet).toEqualTypeOf<StepDefinition<{ name: string }, { greeting: string }>>();

export const greetFlow = defineWorkflow("greetFlow", async (ctx, input: { name: string }) => {
  // The handler's awaited result, not `never` or `unknown`.
  const result = await ctx.step(greet, input);
  expectTypeOf(result).toEqualTypeOf<{ greeting: string }>();
  expectTypeOf((await ctx.step(greet, input, { timeoutMs: 1000 })).greeting).toBeString();
  // Cleanup that a cancel does not reach resolves with what its function does.
  expectTypeOf(await ctx.nonCancellable(() => ctx.step(greet, input))).toEqualTypeOf<{
    greeting: string;
  }>();
  expectTypeOf(ctx.isCancelRequested()).toBeBoolean();
  // A scope the code cancels: returned at once, its result typed as its function's.
  const scope = ctx.cancellable(() => ctx.step(greet, input));
  expectTypeOf(scope).toEqualTypeOf<CancellationScope<{ greeting: string }>>();
  expectTypeOf(scope.cancel).parameters.toEqualTypeOf<[reason?: string]>();
  expectTypeOf(scope.cancelRequested).toBeBoolean();
  expectTypeOf(await scope.result()).toEqualTypeOf<{ greeting: string }>();
  // The function gets the scope itself.
  ctx.cancellable((self) => {
    expectTypeOf(self.cancel).toBeFunction();
    return 1;
  });
  // @ts-expect-error: a reason is text
  scope.cancel(42);
  try {
    await scope.result();
  } catch (error) {
    if (error instanceof ScopeCancelledError) {
      expectTypeOf(error.reason).toEqualTypeOf<string | null>();
      expectTypeOf(error.operation).toEqualTypeOf<string | null>();
    }
  }
  // Versioning: patched answers at once; deprecatePatch returns nothing.
  expectTypeOf(ctx.patched("greeting-v2")).toBeBoolean();
  expectTypeOf(ctx.deprecatePatch("greeting-v1")).toBeVoid();
  // Step timeouts go in a call's options like its start-to-close limit.
  await ctx.step(greet, input, { heartbeatTimeoutMs: 5000, scheduleToStartTimeoutMs: 60_000 });

  // The input is checked against the handler's, and required when it cannot be undefined.
  // @ts-expect-error: `wrong` is no property of { name: string }
  await ctx.step(greet, { wrong: 1 });
  // @ts-expect-error: `name` is missing
  await ctx.step(greet, {});
  // @ts-expect-error: the input is required
  await ctx.step(greet);
  expectTypeOf(await ctx.step(maybe)).toEqualTypeOf<string>();
  expectTypeOf(await ctx.step(tick)).toEqualTypeOf<number>();

  // A typed step's result is its own: the caller cannot name another.
  // @ts-expect-error: greet resolves with { greeting: string }
  await ctx.step<{ n: number }>(greet, input);

  // A step that takes `unknown`: any input, the result `unknown` or the type the caller names.
  expectTypeOf(await ctx.step(echo, { n: 1 })).toEqualTypeOf<unknown>();
  expectTypeOf(await ctx.step<{ n: number }>(echo, { n: 1 })).toEqualTypeOf<{ n: number }>();

  // By name: nothing to check against.
  expectTypeOf(await ctx.step("greet", { any: "thing" })).toEqualTypeOf<unknown>();
  expectTypeOf(await ctx.step<string>("greet", input)).toEqualTypeOf<string>();

  expectTypeOf(await ctx.waitForSignal<{ by: string }>("confirmed")).toEqualTypeOf<
    { by: string } | undefined
  >();
  return result.greeting;
});

expectTypeOf(greetFlow).toEqualTypeOf<WorkflowDefinition<{ name: string }, string>>();

// A child run: its input is checked against the child's, its result is the child's.
export const family = defineWorkflow("family", async (ctx) => {
  expectTypeOf(await ctx.child(greetFlow, { name: "ada" })).toEqualTypeOf<string>();
  const handle = await ctx.startChild(
    greetFlow,
    { name: "bo" },
    { parentClosePolicy: "abandon", workflowId: "bo" },
  );
  expectTypeOf(handle).toEqualTypeOf<ChildHandle<string>>();
  expectTypeOf(await handle.result()).toEqualTypeOf<string>();
  // @ts-expect-error: the child's input is checked against the workflow's
  await ctx.child(greetFlow, { wrong: 1 });
  // @ts-expect-error: no such parent-close policy
  await ctx.child(greetFlow, { name: "cy" }, { parentClosePolicy: "orphan" });
  expectTypeOf(await ctx.child<number>("counter", { from: 1 })).toEqualTypeOf<number>();
  try {
    await ctx.child("counter");
  } catch (error) {
    if (error instanceof ChildWorkflowFailedError) expectTypeOf(error.status).toBeString();
  }
});

export async function startRuns(client: WeftClient): Promise<void> {
  await client.start(greetFlow, { input: { name: "ada" } });
  // @ts-expect-error: the run's input is checked against the workflow's
  await client.start(greetFlow, { input: { wrong: 1 } });
  await client.start("greetFlow", { input: { anything: true } });

  const env = await createTestEnvironment({ workflows: [greetFlow], steps: [greet, tick, echo] });
  const id = await env.start(greetFlow, { name: "ada" });
  // @ts-expect-error: the run's input is checked against the workflow's
  await env.start(greetFlow, { wrong: 1 });
  expectTypeOf(await env.result<string>(id)).toEqualTypeOf<string>();
  await env.close();
}

// Run operations: terminate takes what cancel does; a re-run and a reset answer the new run.
export async function operateOnRuns(client: WeftClient): Promise<void> {
  await client.terminate("order-7", "stuck", { requestId: "t-1" });
  const reset = await client.reset("order-7", 3, { workflowId: "order-7", requestId: "r-1" });
  expectTypeOf(reset).toEqualTypeOf<AcceptedRequest>();
  const options: NewRunOptions = { requestId: "r-2" };
  await client.rerun("order-7", options);
  // @ts-expect-error: a reset names the step to run again
  await client.reset("order-7");
}
