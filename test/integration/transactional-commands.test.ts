/**
 * Commands written to `weft.commands` in Kafka transactions (as a Kafka trigger writes them)
 * leave offsets no command holds: each transaction's marker, and an aborted transaction's
 * records and marker. The decider reads them as what they are, not as commands skipped on the
 * way: every run starts, and no partition is reset for an offset gap (before, each marker cost
 * a reset and a reopen of the partition).
 */
import type { WeftConfig } from "../../core/config";
import { topics } from "../../core/config";
import { startWorkflowCommand } from "../../producers/workflow-commands";
import { commandCodec, commandHeaders } from "../../schemas/codec";
import { partitionForKey } from "../../transport/partitioning";
import type { PortProducer } from "../../transport/port";
import { closeFixtures, steps, threeSteps } from "../fixtures/workflows";
import { isolatedConfig } from "../support/env";
import { kafkaFor, startTestWeft, type TestWeft } from "../support/weft";

let config: WeftConfig;
let weft: TestWeft;
let producer: PortProducer;

beforeAll(async () => {
  config = isolatedConfig();
  weft = await startTestWeft(config, { workflows: [threeSteps], steps });
  producer = kafkaFor(config).producer({
    transactionalId: `${config.topicPrefix}.test-writer`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await weft?.stop();
  await closeFixtures();
});

function startMessage(workflowId: string, n: number) {
  const command = startWorkflowCommand(threeSteps.name, { workflowId, input: { n } });
  return {
    key: workflowId,
    partition: partitionForKey(topics.commands(config), workflowId, config.commandPartitions),
    value: commandCodec.encode(command),
    headers: commandHeaders(command),
  };
}

async function resetsForGaps(): Promise<number> {
  const metric = await weft.runtime.metrics
    .getSingleMetric("weft_decider_partition_resets_total")
    ?.get();
  return (metric?.values ?? [])
    .filter((v) => v.labels.reason === "offset-gap")
    .reduce((sum, v) => sum + v.value, 0);
}

it("starts every run committed in a transaction, without resetting a partition for the markers", async () => {
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const tx = await producer.transaction();
    const id = `tx-${i}`;
    await tx.send({ topic: topics.commands(config), messages: [startMessage(id, i)] });
    if (i % 5 === 4) {
      // An aborted transaction: its record and marker are offsets the decider never sees.
      await tx.abort();
      continue;
    }
    await tx.commit();
    ids.push(id);
  }
  const results = await Promise.all(
    ids.map((id) => weft.client.result<{ n: number }>(id, { timeoutMs: 60_000 })),
  );
  expect(results.map((r) => r.n)).toEqual(ids.map((id) => Number(id.slice("tx-".length)) + 3));
  expect(await resetsForGaps()).toBe(0);
  for (const aborted of [4, 9, 14, 19])
    expect(await weft.client.getHistory(`tx-${aborted}`)).toEqual([]);
});
