/**
 * Parent and children through the API, on Kafka and PostgreSQL and on the embedded log and
 * SQLite: `Workflow.parent`, `parentId` and `children` from the projector's parent column
 * (WorkflowStarted.parent, or a pending child's start command).
 */
import { join } from "node:path";
import type { WeftConfig } from "../../core/config";
import { openReadModelDb } from "../../projections/read-model-db";
import { startEmbedded } from "../../sdk/embedded";
import { WeftClient } from "../../sdk/client";
import { startRuntime } from "../../sdk/runtime";
import { tempDir } from "../embedded/helpers";
import { familyParent, familySteps, familyWorkflows } from "../fixtures/children";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { httpGql } from "../support/graphql-client";
import { createTestSchema, type TestSchema } from "../support/postgres";

type OpenStack = () => Promise<{ client: WeftClient; address: string; stop(): Promise<void> }>;

interface Linked {
  id: string;
  status: string;
  parentId: string | null;
  parent: { id: string; status: string } | null;
  children: { id: string; status: string; parentId: string }[];
}

async function linked(address: string, id: string): Promise<Linked | null> {
  const res = await httpGql<{ workflow: Linked | null }>(
    address,
    `query ($id: String!) {
      workflow(id: $id) { id status parentId parent { id status } children(first: 10) { id status parentId } }
    }`,
    { id },
  );
  expect(res.errors).toBeUndefined();
  return res.data!.workflow;
}

function scenario(open: OpenStack): void {
  it("links a parent and its children both ways", async () => {
    const stack = await open();
    try {
      const parentId = `graph-parent-${Date.now()}`;
      await stack.client.start(familyParent, {
        workflowId: parentId,
        input: { count: 3, done: 3, policy: "cancel" },
      });
      expect(await stack.client.result(parentId, { timeoutMs: 30_000 })).toBe(6);
      const parent = await waitFor("the parent and its children in the read models", async () => {
        const row = await linked(stack.address, parentId);
        const closed = row?.children.filter((c) => c.status === "COMPLETED").length;
        return row?.status === "COMPLETED" && closed === 3 ? row : undefined;
      });
      expect(parent.parent).toBeNull();
      expect(parent.parentId).toBeNull();
      // Oldest first: the children started in one decision, on partitions of their own.
      expect(parent.children.map((c) => c.id).sort()).toEqual(
        [1, 2, 3].map((n) => `${parentId}/${n}`),
      );
      expect(parent.children.every((c) => c.parentId === parentId)).toBe(true);
      const child = await linked(stack.address, `${parentId}/2`);
      expect(child).toMatchObject({
        parentId,
        parent: { id: parentId, status: "COMPLETED" },
        children: [],
      });
    } finally {
      await stack.stop();
    }
  });
}

describe("on Kafka and PostgreSQL", () => {
  let db: TestSchema;
  let config: WeftConfig | undefined;
  beforeAll(async () => {
    db = await createTestSchema();
  });
  afterAll(async () => {
    await db?.drop();
  });

  scenario(async () => {
    config ??= isolatedConfig({ databaseUrl: db.databaseUrl });
    const logger = testLogger(config);
    const runtime = await startRuntime({
      config,
      logger,
      roles: ["decider", "worker", "projector", "api"],
      workflows: familyWorkflows,
      steps: familySteps,
      api: { port: 0 },
    });
    const client = await WeftClient.connect({ config, logger });
    return {
      client,
      address: runtime.api!.address,
      async stop() {
        await client.close();
        await runtime.stop();
      },
    };
  });
});

describe("on the embedded log and SQLite", () => {
  const { dir, cleanup } = tempDir();
  afterAll(() => cleanup());
  const config = isolatedConfig({
    databaseUrl: `sqlite:${join(dir, "read-models.db")}`,
    redisUrl: "redis://127.0.0.1:1",
  });

  scenario(async () => {
    const logger = testLogger(config);
    const weft = await startEmbedded({
      dir: join(dir, "log"),
      workflows: familyWorkflows,
      steps: familySteps,
      api: { port: 0 },
      database: (options) => openReadModelDb(config, logger, options),
      sync: "never",
      config,
      logger,
    });
    const client = await weft.connectClient();
    return {
      client,
      address: weft.api!.address,
      async stop() {
        await client.close();
        await weft.stop();
      },
    };
  });
});
