/** dashboard/src/stack.ts: which frames of a recorded stack are the user's and which Weft's. */
import { framePath, isWeftFrame, splitStack, weftRoots } from "../../dashboard/src/stack";

const installed = [
  "CardDeclinedError: card 4242 was declined",
  "    at validateCard (/home/ada/shop/src/payments.ts:12:11)",
  "    at Object.handler (/home/ada/shop/src/steps.ts:30:5)",
  "    at /home/ada/shop/node_modules/@weft-engine/weft/dist/workers/step-runner.js:237:59",
  "    at new Promise (<anonymous>)",
  "    at StepRunner.run (/home/ada/shop/node_modules/@weft-engine/weft/dist/workers/step-runner.js:236:22)",
  "    at process.processTicksAndRejections (node:internal/process/task_queues:105:5)",
].join("\n");

it("shows the user's frames and folds the installed package's and Node's", () => {
  const split = splitStack(installed, {
    name: "CardDeclinedError",
    message: "card 4242 was declined",
  });
  // The header only repeats the name and message the page shows above the stack.
  expect(split.header).toEqual([]);
  expect(split.groups.map((g) => [g.kind, g.lines.length])).toEqual([
    ["user", 2],
    ["weft", 4],
  ]);
  expect(split.userFrames).toBe(2);
  expect(split.weftFrames).toBe(4);
});

it("recognises a Weft checkout by the files a failure runs through, and only that one", () => {
  const stack = [
    "Error: attempt 1 failed on purpose",
    "    at Object.handler (/work/weft/test/fixtures/workflows.ts:24:13)",
    "    at /work/weft/workers/step-runner.ts:237:59",
    "    at StepRunner.execute (/work/weft/workers/step-runner.ts:240:7)",
    "    at Worker.onTask (/work/weft/workers/worker.ts:88:5)",
  ].join("\n");
  expect(weftRoots(stack.split("\n"))).toEqual(["/work/weft"]);
  const split = splitStack(stack, { name: "Error", message: "attempt 1 failed on purpose" });
  expect(split.groups.map((g) => [g.kind, g.lines.length])).toEqual([
    ["user", 1],
    ["weft", 3],
  ]);
  // A user's own workers/ folder is theirs: no Weft file runs through it.
  const own =
    "Error: x\n    at f (/home/ada/app/workers/billing.ts:3:9)\n    at g (/home/ada/app/core/db.ts:1:1)";
  expect(splitStack(own, { name: "Error", message: "x" }).weftFrames).toBe(0);
  // The built package in a checkout (dist/) and file:// URLs (ES modules) count too.
  const roots = ["/work/weft"];
  expect(isWeftFrame("    at run (file:///work/weft/dist/deciders/run.js:1:1)", roots)).toBe(true);
  expect(isWeftFrame("    at run (/work/weft/examples/signup.ts:1:1)", roots)).toBe(false);
});

it("keeps a workflow's own frames between Weft's, in order", () => {
  const stack = [
    "Error: no stock left",
    "    at reserve (/srv/app/workflows/order.ts:20:11)",
    "    at /srv/app/node_modules/@weft-engine/weft/dist/workflow/execution.js:80:20",
    "    at Promise.all (index 0)",
    "    at orderFlow (/srv/app/workflows/order.ts:12:3)",
    "    at async Execution.run (/srv/app/node_modules/@weft-engine/weft/dist/workflow/execution.js:60:5)",
  ].join("\n");
  const split = splitStack(stack, { name: "Error", message: "no stock left" });
  // The frame with no file goes with the user's frame after it.
  expect(split.groups.map((g) => [g.kind, g.lines.length])).toEqual([
    ["user", 1],
    ["weft", 1],
    ["user", 2],
    ["weft", 1],
  ]);
});

it("keeps a header that says more than the name and message", () => {
  const stack =
    "TypeError: Cannot read properties of undefined (reading 'id')\n    at f (/a/b.ts:1:1)";
  expect(splitStack(stack, { name: "Error", message: "something else" }).header).toEqual([
    "TypeError: Cannot read properties of undefined (reading 'id')",
  ]);
  expect(
    splitStack(stack, {
      name: "TypeError",
      message: "Cannot read properties of undefined (reading 'id')",
    }).header,
  ).toEqual([]);
  // No frames at all: the text is all there is.
  expect(splitStack("just text", {}).header).toEqual(["just text"]);
});

it("reads the file of every frame form", () => {
  expect(framePath("    at f (/a/b.ts:1:2)")).toBe("/a/b.ts:1:2");
  expect(framePath("    at /a/b.ts:1:2")).toBe("/a/b.ts:1:2");
  expect(framePath("    at async /a/b.ts:1:2")).toBe("/a/b.ts:1:2");
  expect(framePath("    at f (file:///a/b.js:1:2)")).toBe("/a/b.js:1:2");
  expect(framePath("    at f (C:\\app\\b.js:1:2)")).toBe("/C:/app/b.js:1:2");
  expect(framePath("f@http://x/b.js:1:2")).toBe("http://x/b.js:1:2");
  expect(
    isWeftFrame("    at f (C:\\app\\node_modules\\@weft-engine\\weft\\dist\\sdk\\client.js:1:2)"),
  ).toBe(true);
  expect(isWeftFrame("    at emit (node:events:519:28)")).toBe(true);
});
