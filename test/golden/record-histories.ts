/**
 * Records real histories of the fixture workflows for the golden replay test. Run it (with the
 * local services up) only when adding a scenario: the committed files are the point, since
 * every engine change must still replay them.
 *
 *   npx tsx test/golden/record-histories.ts [name …]   (only the scenarios named)
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createUserSignupFlow, sendFollowupEmail, sendWelcomeEmail } from "../../examples/signup";
import {
  approval,
  closeFixtures,
  countdown,
  parallel,
  resumableAcrossWorkers,
  retryExponential,
  steps,
  terminalFailure,
  threeSteps,
} from "../fixtures/workflows";
import { feeV2, flatFee, percentFee } from "../fixtures/timeouts";
import { carefulParent, familySteps, familyWorkflows } from "../fixtures/children";
import { napOrWake, scopeSteps, scopeWorkflows, stopWork } from "../fixtures/scopes";
import { isolatedConfig, waitFor } from "../support/env";
import { types } from "../support/history";
import { startTestWeft } from "../support/weft";

async function main(): Promise<void> {
  const signup = createUserSignupFlow({ waitMs: 200, confirmTimeoutMs: 10_000 });
  const weft = await startTestWeft(isolatedConfig(), {
    workflows: [
      signup,
      threeSteps,
      parallel,
      retryExponential,
      terminalFailure,
      approval,
      countdown,
      resumableAcrossWorkers,
      feeV2,
      ...familyWorkflows,
      ...scopeWorkflows,
    ],
    steps: [
      ...steps,
      sendWelcomeEmail,
      sendFollowupEmail,
      flatFee,
      percentFee,
      ...familySteps,
      ...scopeSteps,
    ],
  });
  const scenarios: [string, () => Promise<string>][] = [
    [
      "three-steps",
      async () => (await weft.client.start(threeSteps, { input: { n: 1 } })).workflowId,
    ],
    ["parallel", async () => (await weft.client.start(parallel)).workflowId],
    [
      "countdown-continued",
      async () => (await weft.client.start(countdown, { input: { n: 2 } })).workflowId,
    ],
    ["retry-exponential", async () => (await weft.client.start(retryExponential)).workflowId],
    ["terminal-failure", async () => (await weft.client.start(terminalFailure)).workflowId],
    [
      "approval-timeout",
      async () => (await weft.client.start(approval, { input: { timeoutMs: 100 } })).workflowId,
    ],
    [
      "signup-confirmed",
      async () => {
        const { workflowId } = await weft.client.start(signup, {
          input: { email: "ada@example.com" },
        });
        await waitFor("the signal wait", async () =>
          types(await weft.client.getHistory(workflowId)).includes("SignalWaitStarted"),
        );
        await weft.client.signal(workflowId, "confirmed", { by: "link" });
        return workflowId;
      },
    ],
    [
      // History v6: a heartbeat, an attempt lost to its heartbeat timeout, the retry.
      "heartbeat-retry",
      async () =>
        (
          await weft.client.start(resumableAcrossWorkers, {
            input: { key: "golden", pages: 3 },
          })
        ).workflowId,
    ],
    [
      // History v6: a run that took a patch (PatchMarked), then its new branch.
      "fee-patched",
      async () => {
        const { workflowId } = await weft.client.start(feeV2, { input: { cents: 1000 } });
        await waitFor("the signal wait", async () =>
          types(await weft.client.getHistory(workflowId)).includes("SignalWaitStarted"),
        );
        await weft.client.signal(workflowId, "confirmed", {});
        return workflowId;
      },
    ],
    [
      // History v7: a reset to step 2 of a completed run; step 1's result is reused (reusedFrom).
      "three-steps-reset",
      async () => {
        const { workflowId } = await weft.client.start(threeSteps, { input: { n: 1 } });
        await weft.client.result(workflowId, { timeoutMs: 30_000 });
        return (await weft.client.reset(workflowId, 2, { requestId: "golden" })).workflowId;
      },
    ],
    [
      // History v7: a run waiting for a signal, terminated (WorkflowCancelled with terminated).
      "approval-terminated",
      async () => {
        const { workflowId } = await weft.client.start(approval, {
          input: { timeoutMs: 600_000 },
        });
        await waitFor("the signal wait", async () =>
          types(await weft.client.getHistory(workflowId)).includes("SignalWaitStarted"),
        );
        await weft.client.terminate(workflowId, "no longer needed");
        return workflowId;
      },
    ],
    [
      // History v7: a parent whose child failed (ChildWorkflowScheduled, ChildWorkflowFailed).
      "child-failed-parent",
      async () =>
        (
          await weft.client.start(carefulParent, {
            workflowId: "golden-careful",
            input: { fail: true },
          })
        ).workflowId,
    ],
    [
      // History v7: that child, its WorkflowStarted linked to its parent.
      "child-failed-child",
      async () => {
        await weft.client.result("golden-careful", { timeoutMs: 30_000 });
        return "golden-careful/1";
      },
    ],
    [
      // History v8: a running step's scope cancelled after a signal (StepCancelled), its
      // aborted attempt's report ignored, and the code going on.
      "scope-step-cancelled",
      async () => {
        const { workflowId } = await weft.client.start(stopWork, {
          workflowId: "golden-stop",
          input: { key: "golden" },
        });
        await waitFor("the step's start", async () =>
          types(await weft.client.getHistory(workflowId)).includes("StepStarted"),
        );
        await weft.client.signal(workflowId, "stop", { why: "golden" });
        await waitFor("the aborted attempt's report", async () =>
          types(await weft.client.getHistory(workflowId)).includes("StepResultIgnored"),
        );
        return workflowId;
      },
    ],
    [
      // History v8: a month's sleep in a scope, cancelled when a signal came (TimerCancelled).
      "scope-nap-cancelled",
      async () => {
        const { workflowId } = await weft.client.start(napOrWake, { workflowId: "golden-nap" });
        await waitFor("the signal wait", async () =>
          types(await weft.client.getHistory(workflowId)).includes("SignalWaitStarted"),
        );
        await weft.client.signal(workflowId, "wake", {});
        return workflowId;
      },
    ],
  ];
  const only = process.argv.slice(2);
  for (const [name, run] of scenarios) {
    if (only.length > 0 && !only.includes(name)) continue;
    const workflowId = await run();
    await weft.client.result(workflowId, { timeoutMs: 30_000 }).catch(() => undefined);
    const history = await weft.client.getHistory(workflowId);
    writeFileSync(
      join(__dirname, "histories", `${name}.json`),
      `${JSON.stringify(history, null, 1)}\n`,
    );
    console.log(`${name}: ${history.length} events`);
  }
  await weft.stop();
  await closeFixtures();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
