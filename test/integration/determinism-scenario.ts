/**
 * Invariant 7, the same on every transport: a run recorded by one version of a workflow is
 * replayed by a decider whose code asks for a different step. The run is parked, its history
 * untouched.
 */
import { WorkflowBlockedError } from "../../core/errors";
import type { WeftClient } from "../../sdk/client";
import type { AnyWorkflowDefinition } from "../../workflow/definitions";
import { versionedV1, versionedV2 } from "../fixtures/workflows";
import { waitFor } from "../support/env";
import { types } from "../support/history";

/** A Weft hosting `workflow` on the transport under test, and a client on it. */
export type OpenWeft = (
  workflow: AnyWorkflowDefinition,
) => Promise<{ client: WeftClient; stop(): Promise<void> }>;

export function determinismScenario(open: OpenWeft): void {
  it("parks a run whose code changed, naming the expected and the found step", async () => {
    const v1 = await open(versionedV1);
    const { workflowId } = await v1.client.start(versionedV1);
    await waitFor("the run to wait for its signal", async () =>
      types(await v1.client.getHistory(workflowId)).includes("SignalWaitStarted"),
    );
    const recorded = await v1.client.getHistory(workflowId);
    await v1.stop();

    const v2 = await open(versionedV2);
    try {
      await v2.client.signal(workflowId, "continue", {});
      const error = await v2.client
        .result(workflowId, { timeoutMs: 60_000 })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowBlockedError);
      const message = (error as Error).message;
      expect(message).toContain('history has step "echo"');
      expect(message).toContain('the code now asks for step "flaky"');

      const after = await v2.client.getHistory(workflowId);
      // What was recorded stays exactly as it was; only the signal and the parking follow it.
      expect(after.slice(0, recorded.length)).toEqual(recorded);
      expect(types(after.slice(recorded.length))).toEqual(["SignalReceived", "WorkflowBlocked"]);
    } finally {
      await v2.stop();
    }
  });
}
