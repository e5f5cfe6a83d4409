/**
 * Which version of a workflow's code each open run started under, through the API: a run's
 * `definitionHash`, and `definitions { openRuns }` per registered version. Runs of the fee
 * workflow started under feeV1 stay counted as feeV1's after feeV2 (with its ctx.patched) is
 * deployed, until they close; the new runs count for feeV2. That count is what tells an
 * operator when the old branch of a patch may go.
 */
import { definitionHash } from "../../producers/registration-publisher";
import type { WeftClient } from "../../sdk/client";
import type { AnyWorkflowDefinition } from "../../workflow/definitions";
import { feeV1, feeV2 } from "../fixtures/timeouts";
import { waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";

/** Roles with the API on the transport under test; each call reopens the same log and database. */
export type OpenStack = (
  workflows: readonly AnyWorkflowDefinition[],
) => Promise<{ client: WeftClient; address: string; stop(): Promise<void> }>;

const V1 = definitionHash(feeV1.fn, feeV1.options);
const V2 = definitionHash(feeV2.fn, feeV2.options);

/** Open runs per version of the fee workflow, as the API counts them. */
async function openRunsByVersion(address: string): Promise<Record<string, number | null>> {
  const res = await httpGql<{ definitions: { name: string; hash: string; openRuns: number }[] }>(
    address,
    `{ definitions(kind: WORKFLOW) { name hash openRuns } }`,
  );
  expect(res.errors).toBeUndefined();
  const fee = res.data!.definitions.filter((d) => d.name === "fee");
  return Object.fromEntries(fee.map((d) => [d.hash, d.openRuns]));
}

async function versionOf(address: string, workflowId: string): Promise<string | null> {
  const res = await httpGql<{ workflow: { definitionHash: string | null } | null }>(
    address,
    `query ($id: String!) { workflow(id: $id) { definitionHash } }`,
    { id: workflowId },
  );
  return res.data?.workflow?.definitionHash ?? null;
}

/** Waits until the API counts exactly these open runs per version of the fee workflow. */
async function untilCounted(address: string, expected: Record<string, number>): Promise<void> {
  const wanted = JSON.stringify(expected);
  await waitFor(`open runs per version ${wanted}`, async () => {
    const counted = await openRunsByVersion(address);
    return Object.keys(expected).every((hash) => counted[hash] === expected[hash]);
  });
}

export function definitionVersionsScenario(open: OpenStack): void {
  it("counts the open runs started under each version of a workflow, old ones included after a deploy", async () => {
    expect(V1).not.toBe(V2);
    const before = await open([feeV1]);
    const old: string[] = [];
    try {
      for (let i = 0; i < 2; i++)
        old.push((await before.client.start(feeV1, { input: { cents: 100 } })).workflowId);
      await untilCounted(before.address, { [V1]: 2 });
      expect(await versionOf(before.address, old[0]!)).toBe(V1);
    } finally {
      await before.stop();
    }

    const after = await open([feeV2]);
    try {
      const { workflowId: fresh } = await after.client.start(feeV2, { input: { cents: 100 } });
      await untilCounted(after.address, { [V1]: 2, [V2]: 1 });
      await waitFor(
        "the new run's version",
        async () => (await versionOf(after.address, fresh)) === V2,
      );
      // The old runs close (on their old branch, under the new code): feeV1 has none left open.
      for (const id of old) {
        await after.client.signal(id, "confirmed", {});
        expect(await after.client.result(id, { timeoutMs: 30_000 })).toMatchObject({
          branch: "flat",
        });
      }
      await untilCounted(after.address, { [V1]: 0, [V2]: 1 });
      expect(await versionOf(after.address, old[1]!)).toBe(V1);
    } finally {
      await after.stop();
    }
  });
}
