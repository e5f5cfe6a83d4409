/**
 * Run operations through the API, the same on Kafka with PostgreSQL and on the embedded log
 * with SQLite: a bulk terminate by filter counts first (a dry run sends nothing), then
 * terminates at most its limit per call, the rest on the next call, a retried call records
 * nothing twice; a reset of a failed run to a step reuses the results before it; a read-only
 * token may do none of it.
 */
import { WorkflowCancelledError, WorkflowFailedError } from "../../core/errors";
import type { WeftClient } from "../../sdk/client";
import { brokenCarriers, orderFlow, orderInvocations } from "../fixtures/orders-reset";
import { invocationsOf, transfer } from "../fixtures/transfer";
import { waitFor } from "../support/env";
import { httpGql, type GraphQLResponse } from "../support/graphql-client";
import { count } from "../support/history";

export const ADMIN = "run-ops-admin-token";
export const READER = "run-ops-read-token";

/** Roles with the API (tokens ADMIN and READER) on the transport under test. */
export type OpenStack = () => Promise<{
  client: WeftClient;
  address: string;
  stop(): Promise<void>;
}>;

interface BulkResult {
  dryRun: boolean;
  matched: number;
  sample: string[];
  applied: { workflowId: string; requestId: string; error: string | null }[];
  remaining: number;
  requestId: string;
}

const TERMINATE = `mutation ($filter: WorkflowFilter!, $dryRun: Boolean, $limit: Int, $requestId: String) {
  terminateWorkflows(filter: $filter, reason: "stale approvals", dryRun: $dryRun, limit: $limit, requestId: $requestId) {
    dryRun matched sample applied { workflowId requestId error } remaining requestId
  }
}`;

function codeOf(res: GraphQLResponse<unknown>): string | undefined {
  return res.errors?.[0]?.extensions?.code;
}

export function runOperationsApiScenario(name: string, open: OpenStack): void {
  it("terminates by filter: a dry-run count first, then at most the limit per call", async () => {
    const stack = await open();
    const gql = <T>(query: string, variables: Record<string, unknown> = {}, token = ADMIN) =>
      httpGql<T>(stack.address, query, variables, token);
    try {
      const tag = `${name}-bulk`;
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const { workflowId } = await stack.client.start(transfer, {
          workflowId: `${tag}-${i}`,
          input: { transfer: `${tag}-${i}`, cents: 10, awaitApproval: true },
        });
        ids.push(workflowId);
      }
      // A closed run of the same filter: a terminate never counts it.
      const { workflowId: done } = await stack.client.start(transfer, {
        workflowId: `${tag}-done`,
        input: { transfer: `${tag}-done`, cents: 10 },
      });
      await stack.client.result(done, { timeoutMs: 30_000 });
      const filter = { type: "transfer", text: tag };
      await waitFor("the API to show the runs", async () => {
        const res = await gql<{ workflows: { nodes: { status: string }[] } }>(
          `query ($filter: WorkflowFilter) { workflows(filter: $filter, first: 10) { nodes { status } } }`,
          { filter },
        );
        const statuses = res.data?.workflows.nodes.map((n) => n.status) ?? [];
        return (
          statuses.filter((s) => s === "RUNNING").length === 3 && statuses.includes("COMPLETED")
        );
      });

      // Refused before anything is read: a limit over the cap, a read-only token.
      const tooMany = await gql(TERMINATE, { filter, dryRun: true, limit: 1001 });
      expect(codeOf(tooMany)).toBe("INVALID_INPUT");
      const readOnly = await gql(TERMINATE, { filter, dryRun: false }, READER);
      expect(codeOf(readOnly)).toBe("FORBIDDEN");
      expect(
        codeOf(
          await gql(
            `mutation { terminateWorkflow(workflowId: "${ids[0]}") { accepted } }`,
            {},
            READER,
          ),
        ),
      ).toBe("FORBIDDEN");

      const dry = await gql<{ terminateWorkflows: BulkResult }>(TERMINATE, { filter });
      expect(dry.errors).toBeUndefined();
      expect(dry.data!.terminateWorkflows).toMatchObject({
        dryRun: true,
        matched: 3,
        applied: [],
        remaining: 3,
      });
      expect([...dry.data!.terminateWorkflows.sample].sort()).toEqual([...ids].sort());

      const first = await gql<{ terminateWorkflows: BulkResult }>(TERMINATE, {
        filter,
        dryRun: false,
        limit: 2,
        requestId: `${tag}-call-1`,
      });
      expect(first.errors).toBeUndefined();
      const firstResult = first.data!.terminateWorkflows;
      expect(firstResult).toMatchObject({ dryRun: false, matched: 3, remaining: 1 });
      expect(firstResult.applied.map((a) => a.error)).toEqual([null, null]);
      const taken = firstResult.applied.map((a) => a.workflowId);
      for (const id of taken)
        await expect(stack.client.result(id, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
          WorkflowCancelledError,
        );
      await waitFor("the API to count one open run", async () => {
        const res = await gql<{ terminateWorkflows: BulkResult }>(TERMINATE, { filter });
        return res.data?.terminateWorkflows.matched === 1;
      });

      const second = await gql<{ terminateWorkflows: BulkResult }>(TERMINATE, {
        filter,
        dryRun: false,
        requestId: `${tag}-call-2`,
      });
      expect(second.data!.terminateWorkflows).toMatchObject({ matched: 1, remaining: 0 });
      const last = second.data!.terminateWorkflows.applied[0]!.workflowId;
      expect([...taken, last].sort()).toEqual([...ids].sort());
      await expect(stack.client.result(last, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowCancelledError,
      );

      // Terminated: no cleanup ran, each recorded one terminate, and the read models say so.
      for (const id of ids) {
        const history = await stack.client.getHistory(id);
        expect(count(history, "WorkflowCancelled")).toBe(1);
        expect(history.at(-1)!.body).toMatchObject({ type: "WorkflowCancelled", terminated: true });
        expect(invocationsOf("refund", id)).toBe(0);
      }
      await waitFor("the API to show them terminated", async () => {
        const res = await gql<{
          workflow: { status: string; error: { terminated?: boolean } | null };
        }>(`query ($id: String!) { workflow(id: $id) { status error } }`, { id: last });
        return (
          res.data?.workflow.status === "CANCELLED" && res.data.workflow.error?.terminated === true
        );
      });
      // The first call again (a retry): its runs have closed; nothing is matched or sent.
      const retried = await gql<{ terminateWorkflows: BulkResult }>(TERMINATE, {
        filter,
        dryRun: false,
        limit: 2,
        requestId: `${tag}-call-1`,
      });
      expect(retried.data!.terminateWorkflows).toMatchObject({ matched: 0, applied: [] });
    } finally {
      await stack.stop();
    }
  }, 90_000);

  it("resets a failed run to a step through the API, and re-runs it in bulk once", async () => {
    const stack = await open();
    const gql = <T>(query: string, variables: Record<string, unknown> = {}, token = ADMIN) =>
      httpGql<T>(stack.address, query, variables, token);
    try {
      const order = `${name}-api-reset`;
      brokenCarriers.add(order);
      const { workflowId } = await stack.client.start(orderFlow, {
        workflowId: order,
        input: { order, cents: 900 },
      });
      await expect(stack.client.result(workflowId, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
        WorkflowFailedError,
      );
      await waitFor("the API to show the run failed", async () => {
        const res = await gql<{ workflow: { status: string } | null }>(
          `query ($id: String!) { workflow(id: $id) { status } }`,
          { id: workflowId },
        );
        return res.data?.workflow?.status === "FAILED";
      });
      const RESET = `mutation ($id: String!, $seq: Int!) {
        resetWorkflow(workflowId: $id, toStepSeq: $seq) { workflowId sourceWorkflowId reusedSteps }
      }`;
      const badPoint = await gql(RESET, { id: workflowId, seq: 7 });
      expect(codeOf(badPoint)).toBe("INVALID_RESET_POINT");
      expect(codeOf(await gql(RESET, { id: workflowId, seq: 3 }, READER))).toBe("FORBIDDEN");

      brokenCarriers.delete(order);
      const res = await gql<{
        resetWorkflow: { workflowId: string; sourceWorkflowId: string; reusedSteps: number };
      }>(RESET, { id: workflowId, seq: 3 });
      expect(res.errors).toBeUndefined();
      expect(res.data!.resetWorkflow).toMatchObject({
        sourceWorkflowId: workflowId,
        reusedSteps: 2,
      });
      await expect(
        stack.client.result(res.data!.resetWorkflow.workflowId, { timeoutMs: 30_000 }),
      ).resolves.toEqual({ reservation: `${order}-r1`, charged: 900 });
      expect(orderInvocations("reserve", order)).toBe(1);
      expect(orderInvocations("charge", order)).toBe(1);
      expect(orderInvocations("ship", order)).toBe(2);

      // The failed run again, in bulk: a retried call starts no second run.
      const RERUN = `mutation ($filter: WorkflowFilter!, $requestId: String) {
        rerunWorkflows(filter: $filter, dryRun: false, requestId: $requestId) {
          matched applied { workflowId newWorkflowId error }
        }
      }`;
      const filter = { text: order, status: "FAILED" };
      const calls: { matched: number; applied: { newWorkflowId: string }[] }[] = [];
      for (let i = 0; i < 2; i++) {
        const bulk = await gql<{ rerunWorkflows: (typeof calls)[number] }>(RERUN, {
          filter,
          requestId: `${order}-rerun-all`,
        });
        expect(bulk.errors).toBeUndefined();
        calls.push(bulk.data!.rerunWorkflows);
      }
      expect(calls.map((c) => c.matched)).toEqual([1, 1]);
      const newId = calls[0]!.applied[0]!.newWorkflowId;
      expect(calls[1]!.applied[0]!.newWorkflowId).toBe(newId);
      await expect(stack.client.result(newId, { timeoutMs: 30_000 })).resolves.toEqual({
        reservation: `${order}-r2`,
        charged: 900,
      });
      expect(count(await stack.client.getHistory(newId), "WorkflowStarted")).toBe(1);
      expect(orderInvocations("reserve", order)).toBe(2);
    } finally {
      await stack.stop();
    }
  }, 90_000);

  it("resets every failed run a filter matches to its failed step, counted first", async () => {
    const stack = await open();
    const gql = <T>(query: string, variables: Record<string, unknown> = {}) =>
      httpGql<T>(stack.address, query, variables, ADMIN);
    try {
      const orders = [`${name}-bulk-reset-a`, `${name}-bulk-reset-b`];
      for (const order of orders) {
        brokenCarriers.add(order);
        await stack.client.start(orderFlow, { workflowId: order, input: { order, cents: 5 } });
      }
      for (const order of orders) {
        await expect(stack.client.result(order, { timeoutMs: 30_000 })).rejects.toBeInstanceOf(
          WorkflowFailedError,
        );
      }
      const filter = { text: `${name}-bulk-reset-`, status: "FAILED" };
      await waitFor("the API to show both runs failed", async () => {
        const res = await gql<{ workflows: { nodes: { id: string }[] } }>(
          `query ($filter: WorkflowFilter) { workflows(filter: $filter) { nodes { id } } }`,
          { filter },
        );
        expect(res.errors).toBeUndefined();
        return res.data?.workflows.nodes.length === 2;
      });
      const RESET = `mutation ($filter: WorkflowFilter!, $dryRun: Boolean, $requestId: String) {
        resetWorkflows(filter: $filter, dryRun: $dryRun, requestId: $requestId) {
          dryRun matched sample applied { workflowId newWorkflowId error }
        }
      }`;
      type Reset = {
        dryRun: boolean;
        matched: number;
        sample: string[];
        applied: { workflowId: string; newWorkflowId: string; error: string | null }[];
      };
      const counted = await gql<{ resetWorkflows: Reset }>(RESET, { filter });
      expect(counted.errors).toBeUndefined();
      expect(counted.data!.resetWorkflows).toMatchObject({ dryRun: true, matched: 2, applied: [] });
      expect([...counted.data!.resetWorkflows.sample].sort()).toEqual(orders);

      for (const order of orders) brokenCarriers.delete(order);
      const applied = await gql<{ resetWorkflows: Reset }>(RESET, {
        filter,
        dryRun: false,
        requestId: `${name}-bulk-reset`,
      });
      expect(applied.errors).toBeUndefined();
      const items = applied.data!.resetWorkflows.applied;
      expect(items.map((i) => i.workflowId).sort()).toEqual(orders);
      expect(items.map((i) => i.error)).toEqual([null, null]);
      for (const item of items) {
        await expect(
          stack.client.result(item.newWorkflowId, { timeoutMs: 30_000 }),
        ).resolves.toEqual({
          reservation: `${item.workflowId}-r1`,
          charged: 5,
        });
        // Reserve and charge came from the failed run; only the failed step ran again.
        expect(orderInvocations("reserve", item.workflowId)).toBe(1);
        expect(orderInvocations("charge", item.workflowId)).toBe(1);
        expect(orderInvocations("ship", item.workflowId)).toBe(2);
      }
    } finally {
      await stack.stop();
    }
  }, 90_000);
}
