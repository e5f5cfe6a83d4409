import { defineStep, defineWorkflow } from "../../sdk";
import { createTestEnvironment } from "../../sdk/testing";

const DAY = 86_400_000;
const hello = defineStep("hello", (input: { name: string }) => `hello ${input.name}`);
const month = defineWorkflow("month", async (ctx, input: { name: string }) => {
  const a = await ctx.step<string>(hello, input);
  await ctx.wait(30 * DAY);
  return { a, at: ctx.now() };
});

it("smoke", async () => {
  const t0 = performance.now();
  const env = await createTestEnvironment({ workflows: [month], steps: [hello], startTime: 0 });
  const created = performance.now() - t0;
  const t1 = performance.now();
  const id = await env.start(month, { name: "ada" });
  const result = await env.result(id);
  const ran = performance.now() - t1;
  console.log({ created, ran, result });
  console.log((await env.history(id)).map((e) => `${e.seq} ${e.at} ${e.body.type}`));
  await env.close();
});
