/** The api role of startRuntime: migrates, listens and serves GraphQL over real HTTP. */
import { Pool } from "pg";
import { ConfigError } from "../../core/errors";
import { startRuntime, type Runtime } from "../../sdk/runtime";
import { isolatedConfig } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";

let db: TestSchema;
let runtime: Runtime | undefined;

beforeAll(async () => {
  db = await createTestSchema();
});

afterAll(async () => {
  await runtime?.stop();
  await db?.drop();
});

it("listens where told and accepts a start", async () => {
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  runtime = await startRuntime({ config, roles: ["api"], api: { port: 0 } });
  const address = runtime.api!.address;
  expect(address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(await (await fetch(`${address}/healthz`)).json()).toEqual({ status: "ok" });
  // As if a decider had registered the type (the role migrated the schema): no decider runs
  // here, so the start is accepted and waits in Kafka.
  const pool = new Pool({ connectionString: db.databaseUrl, max: 1 });
  try {
    await pool.query(
      `INSERT INTO weft_definitions (kind, name, hash, first_seen, last_seen)
       VALUES ('workflow', 'threeSteps', 'h', now(), now())`,
    );
  } finally {
    await pool.end();
  }
  const res = await fetch(`${address}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: `mutation { startWorkflow(type: "threeSteps", workflowId: "via-role") { workflowId waitingForDecider } }`,
    }),
  });
  expect(await res.json()).toEqual({
    data: { startWorkflow: { workflowId: "via-role", waitingForDecider: true } },
  });
  await runtime.stop();
  runtime = undefined;
});

it("refuses a PORT that is not a port", async () => {
  const config = isolatedConfig({ databaseUrl: db.databaseUrl });
  const previous = process.env.PORT;
  process.env.PORT = "eighty";
  try {
    await expect(startRuntime({ config, roles: ["api"] })).rejects.toBeInstanceOf(ConfigError);
  } finally {
    if (previous === undefined) delete process.env.PORT;
    else process.env.PORT = previous;
  }
});
