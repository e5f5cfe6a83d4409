/** The api role of startRuntime: migrates, listens and serves GraphQL over real HTTP. */
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
  const res = await fetch(`${address}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: `mutation { startWorkflow(type: "threeSteps", workflowId: "via-role") { workflowId } }`,
    }),
  });
  expect(await res.json()).toEqual({ data: { startWorkflow: { workflowId: "via-role" } } });
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
