/**
 * Run state end to end, one scenario for every transport: a run that counts approvals with
 * ctx.onSignal and ctx.condition publishes the count with ctx.setState, and a GraphQL
 * subscription (a real WebSocket) sees each new count arrive while the run goes on; the row's
 * `state` and `client.getState` agree; signalWithStart starts the run once and delivers its
 * signal, and a second call signals the running run. Each test file gives the harness (Kafka
 * with PostgreSQL, the embedded log with SQLite).
 */
import type { WeftClient } from "../../sdk/client";
import type { ApprovalState } from "../fixtures/run-state";
import { waitFor } from "../support/env";
import { httpGql, subscribe, type Subscription } from "../support/graphql-client";

export { runStateWorkflows } from "../fixtures/run-state";

export interface RunStateHarness {
  client: WeftClient;
  /** The API's base URL (`http://127.0.0.1:<port>`). */
  address: string;
}

interface Update {
  workflowUpdated: { id: string; status: string; state: ApprovalState | null };
}

const SIGNAL_WITH_START = `mutation ($id: String!, $payload: JSON) {
  signalWithStart(type: "approvalCounter", workflowId: $id, name: "approve",
                  payload: $payload, input: { needed: 3 }) { workflowId requestId }
}`;

/** Waits until the API knows the workflow type (the decider's registration is projected). */
export async function untilRegistered(address: string): Promise<void> {
  await waitFor("the decider's registration", async () => {
    const res = await httpGql<{ definitions: { name: string }[] }>(
      address,
      `{ definitions(kind: WORKFLOW) { name } }`,
    );
    return res.data?.definitions.some((d) => d.name === "approvalCounter") === true;
  });
}

export function runStateScenarios(harness: () => RunStateHarness): void {
  let updates: Subscription<Update> | undefined;

  afterEach(async () => {
    await updates?.close();
    updates = undefined;
  });

  it("pushes each setState over a GraphQL subscription while the run counts approvals", async () => {
    const { client, address } = harness();
    const workflowId = `approvals-${Date.now().toString(36)}`;
    updates = await subscribe<Update>(
      address,
      `subscription ($f: WorkflowFilter) { workflowUpdated(filter: $f) { id status state } }`,
      { f: { text: workflowId } },
    );
    const states = () =>
      updates!.values
        .filter((u) => u.workflowUpdated.id === workflowId)
        .map((u) => u.workflowUpdated.state);

    // signalWithStart starts the run and the handler counts its signal at once.
    const started = await httpGql<{ signalWithStart: { workflowId: string } }>(
      address,
      SIGNAL_WITH_START,
      { id: workflowId, payload: { by: "ada" } },
    );
    expect(started.errors).toBeUndefined();
    await updates.until("the first approval's state", () =>
      states().some((s) => s?.approvals === 1),
    );
    expect(states().at(-1)).toEqual({
      approvals: 1,
      needed: 3,
      by: ["ada"],
      phase: "collecting",
    });
    expect(updates.values.at(-1)!.workflowUpdated.status).toBe("RUNNING");

    // Again: the run is open, so this signals it (no second start).
    const again = await httpGql(address, SIGNAL_WITH_START, {
      id: workflowId,
      payload: { by: "bob" },
    });
    expect(again.errors).toBeUndefined();
    await updates.until("the second approval's state", () =>
      states().some((s) => s?.approvals === 2),
    );
    expect(updates.values.at(-1)!.workflowUpdated.status).toBe("RUNNING");

    await client.signal(workflowId, "approve", { by: "cy" });
    expect(await client.result(workflowId, { timeoutMs: 30_000 })).toEqual({
      approved: true,
      approvals: 3,
      by: ["ada", "bob", "cy"],
    });
    const final: ApprovalState = {
      approvals: 3,
      needed: 3,
      by: ["ada", "bob", "cy"],
      phase: "approved",
    };
    await updates.until("the completed run's state", (v) =>
      v.some((u) => u.workflowUpdated.status === "COMPLETED"),
    );
    expect(updates.values.at(-1)!.workflowUpdated.state).toEqual(final);
    // The counts arrived in order, none skipped backwards.
    const counts = states().map((s) => s?.approvals ?? 0);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(new Set(counts)).toEqual(new Set([0, 1, 2, 3].filter((n) => counts.includes(n))));
    expect(counts).toContain(3);

    const row = await httpGql<{ workflow: { state: ApprovalState; status: string } }>(
      address,
      `query ($id: String!) { workflow(id: $id) { status state } }`,
      { id: workflowId },
    );
    expect(row.data?.workflow).toEqual({ status: "COMPLETED", state: final });
    expect(await client.getState(workflowId)).toEqual(final);

    const history = await client.getHistory(workflowId);
    const kinds = history.map((e) => e.body.type);
    expect(kinds.filter((t) => t === "WorkflowStarted")).toHaveLength(1);
    expect(kinds.filter((t) => t === "SignalReceived")).toHaveLength(3);
    expect(kinds.slice(0, 2)).toEqual(["WorkflowStarted", "SignalReceived"]);
  });
}
