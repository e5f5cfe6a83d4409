/**
 * A start sent while its broker is frozen (SIGSTOP, as a long pause or a stalled disk freezes
 * one) is answered NOT_ACKNOWLEDGED within `commandAckTimeoutMs`, with the workflow ID to send
 * it again with, instead of holding the caller for as long as the broker stays silent. The
 * send goes on: once the broker thaws, the command is written; the caller sends the start again
 * with that workflow ID and the run is started once and completes. A webhook delivery meets
 * the same bound as 503 NOT_ACKNOWLEDGED with Retry-After; delivered again, it is one run. The
 * broker is a private one (the shared broker is never frozen).
 */
import { topics, type WeftConfig } from "../../core/config";
import { WeftError } from "../../core/errors";
import { withAdmin } from "../../transport/topics";
import { defineStep, defineWorkflow } from "../../sdk";
import { defineTrigger } from "../../triggers/definition";
import { isolatedConfig, waitFor } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";
import { count, expectGapless } from "../support/history";
import { readPartitions } from "../support/partition-reader";
import { PrivateBroker } from "../support/private-broker";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

const ACK_TIMEOUT_MS = 1_500;

const greet = defineStep("ackGreet", (input: { name: string }) => `hello ${input.name}`);
const greeting = defineWorkflow("ackGreeting", async (ctx, input: { name: string }) =>
  ctx.step(greet, input),
);

const HOOK_TOKEN = "ack-hook-token-0123456789abcdef";
const hook = defineTrigger("ack-hook", {
  webhook: { token: HOOK_TOKEN },
  action: "start",
  workflow: greeting,
  workflowId: "delivery",
});

let broker: PrivateBroker;
let schema: TestSchema;
let config: WeftConfig;
let weft: TestWeft | undefined;

beforeAll(async () => {
  broker = await PrivateBroker.reserve();
  await broker.start();
  schema = await createTestSchema();
  config = isolatedConfig({
    kafkaBrokers: broker.address,
    databaseUrl: schema.databaseUrl,
    commandPartitions: 1,
    taskPartitions: 1,
    commandAckTimeoutMs: ACK_TIMEOUT_MS,
  });
  weft = await startTestWeft(config, {
    roles: ["decider", "worker", "api"],
    workflows: [greeting],
    steps: [greet],
    triggers: [hook],
    api: { port: 0 },
  });
});

afterAll(async () => {
  broker?.thaw();
  await weft?.stop();
  await broker?.destroy();
  await schema?.drop();
});

/** Delivers `{ name }` to the hook under `delivery`. */
function deliver(delivery: string, name: string) {
  return weft!.runtime.api!.server.inject({
    method: "POST",
    url: `/hooks/${hook.name}`,
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${HOOK_TOKEN}`,
      "x-weft-delivery": delivery,
    },
    payload: JSON.stringify({ name }),
  });
}

it("answers NOT_ACKNOWLEDGED within the bound while the broker is frozen; sent again with its workflow ID, the run starts once", async () => {
  const { client } = weft!;
  // The broker answers before it is frozen.
  const before = await client.start(greeting, { input: { name: "before" } });
  await expect(client.result(before.workflowId, { timeoutMs: 60_000 })).resolves.toBe(
    "hello before",
  );

  broker.freeze();
  const sentAt = Date.now();
  const refused = await client.start(greeting, { input: { name: "frozen" } }).then(
    () => undefined,
    (err: unknown) => err,
  );
  const waited = Date.now() - sentAt;
  broker.thaw();

  expect(WeftError.is(refused)).toBe(true);
  const error = refused as WeftError;
  expect(error.code).toBe("NOT_ACKNOWLEDGED");
  // Answered at the bound, not when the broker came back (kafkajs would wait 30 s a try).
  expect(waited).toBeGreaterThanOrEqual(ACK_TIMEOUT_MS - 50);
  expect(waited).toBeLessThan(ACK_TIMEOUT_MS + 5_000);
  const workflowId = error.details.workflowId as string;
  expect(workflowId).toEqual(expect.any(String));
  expect(error.message).toContain(workflowId);

  // The caller sends it again with the workflow ID it was given.
  const again = await client.start(greeting, { workflowId, input: { name: "frozen" } });
  expect(again.workflowId).toBe(workflowId);
  await expect(client.result(workflowId, { timeoutMs: 60_000 })).resolves.toBe("hello frozen");

  // The first send went on and was written too, ahead of the second: two starts of the run in
  // the commands topic.
  const kafka = kafkaFor(config);
  const commands = await readPartitions(
    kafka,
    `${config.topicPrefix}.check`,
    topics.commands(config),
  );
  try {
    await waitFor(
      "both starts in the commands topic",
      () => commands.seen.get(0)?.filter((r) => r.key === workflowId).length === 2,
    );
  } finally {
    await commands.consumer.disconnect();
  }
  // Once the decider has decided every command, history holds one start of the two.
  await withAdmin(kafka, async (admin) => {
    const [end] = await admin.fetchTopicOffsets(topics.commands(config));
    await waitFor("the decider to decide every command", async () => {
      const [group] = await admin.fetchOffsets({
        groupId: topics.deciderGroup(config),
        topics: [topics.commands(config)],
      });
      return Number(group?.partitions[0]?.offset ?? -1) >= Number(end!.high);
    });
  });
  const history = await client.getHistory(workflowId);
  expectGapless(history);
  expect(count(history, "WorkflowStarted")).toBe(1);
  expect(count(history, "StepCompleted")).toBe(1);
});

it("answers a webhook delivery 503 NOT_ACKNOWLEDGED with Retry-After while the broker is frozen; delivered again, it is one run", async () => {
  const { client } = weft!;
  broker.freeze();
  const sentAt = Date.now();
  const refused = await deliver("frozen-1", "hooked").finally(() => broker.thaw());
  expect(Date.now() - sentAt).toBeLessThan(ACK_TIMEOUT_MS + 5_000);
  expect(refused.statusCode).toBe(503);
  expect(refused.headers["retry-after"]).toBe("5");
  const body = refused.json<{ errors: { message: string; extensions: { code: string } }[] }>();
  expect(body.errors[0]!.extensions.code).toBe("NOT_ACKNOWLEDGED");

  // The sender delivers again, as it does after a 5xx: the delivery's run, once.
  const again = await deliver("frozen-1", "hooked");
  expect(again.statusCode).toBe(202);
  const workflowId = again.json<{ workflowId: string }>().workflowId;
  expect(workflowId).toBe("ack-hook/frozen-1");
  await expect(client.result(workflowId, { timeoutMs: 60_000 })).resolves.toBe("hello hooked");
  expect(count(await client.getHistory(workflowId), "WorkflowStarted")).toBe(1);
});
