/**
 * The lint rules users add to their own flat config (`@weft-engine/weft/eslint`), run through
 * ESLint's Linter on a module that holds a step and a workflow, as docs/workflows.md shows.
 */
import { Linter } from "eslint";
import tseslint from "typescript-eslint";
import { workflowDeterminism, workflowFiles } from "@weft-engine/weft/eslint";

const SAMPLE = `import { defineStep, defineWorkflow } from "@weft-engine/weft";

export const poll = defineStep("poll", async () => {
  await new Promise((r) => setTimeout(r, Math.random() * 100));
  return { at: Date.now(), on: new Date().toISOString() };
});

export const flow = defineWorkflow("flow", async (ctx) => {
  const at = Date.now();
  const coin = Math.random();
  const today = new Date();
  const later = new Date(ctx.now() + 1000);
  await new Promise((r) => setTimeout(r, 10));
  const id = crypto.randomUUID();
  await fetch("https://example.com");
  return { at, coin, today, later, id, tick: performance.now(), text: Date(), ok: ctx.random() };
});
`;

const typescript: Linter.Config = {
  files: ["**/*.ts"],
  languageOptions: { parser: tseslint.parser },
};

function lint(config: Linter.Config): string[] {
  const messages = new Linter({ configType: "flat" }).verify(
    SAMPLE,
    [typescript, config],
    "src/flow.ts",
  );
  return messages.map((m) => `${m.line}: ${m.message}`);
}

it("flags the clock, randomness, timers and I/O inside defineWorkflow, not in steps", () => {
  expect(lint(workflowDeterminism)).toEqual([
    "9: Date.now() in workflow code: it differs on replay; use ctx.now().",
    "10: Math.random() in workflow code: it differs on replay; use ctx.random() (or ctx.uuid()).",
    "11: new Date() in workflow code: it differs on replay; use new Date(ctx.now()).",
    "13: A timer of the process in workflow code is not durable and parks the run (NON_DETERMINISTIC_AWAIT); use ctx.sleep(ms).",
    "14: random bytes or IDs in workflow code: it differs on replay; use ctx.uuid() or ctx.random().",
    "15: I/O in workflow code is not replayed and parks the run (NON_DETERMINISTIC_AWAIT); do it in a step: ctx.step(…).",
    "16: performance.now() in workflow code: it differs on replay; use ctx.now().",
    "16: Date() in workflow code: it differs on replay; use new Date(ctx.now()).toString().",
  ]);
});

it("flags them anywhere in the files given to workflowFiles, and nowhere else", () => {
  const whole = lint(workflowFiles(["src/**/*.ts"]));
  expect(whole.map((m) => Number(m.split(":")[0]))).toEqual([
    4, 4, 5, 5, 9, 10, 11, 13, 14, 15, 16, 16,
  ]);
  expect(lint(workflowFiles(["other/**"]))).toEqual([]);
  expect(() => workflowFiles([])).toThrow(TypeError);
});
