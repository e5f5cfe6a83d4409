/**
 * Child process of crash.test.ts: writes to an embedded log in a loop until it is killed.
 * Each round commits one transaction of three records plus the offset `round + 1` of group
 * "g" on topic "in", then prints `committed <round>`; a second producer always holds an open
 * transaction with a record that must never be seen. A second argument sets the log's segment
 * size.
 */
import { EmbeddedKafka } from "../../adapters/embedded";
import type { PortTransaction } from "../../transport/port";

async function main(): Promise<void> {
  const directory = process.argv[2]!;
  // Optional: a small segment size, so that the log rolls every few rounds.
  const segmentBytes = process.argv[3] ? Number(process.argv[3]) : undefined;
  const kafka = await EmbeddedKafka.open({ directory, sync: "never", segmentBytes });
  const admin = kafka.admin();
  await admin.createTopics({
    topics: [
      { topic: "out", numPartitions: 2 },
      { topic: "in", numPartitions: 1 },
    ],
  });
  const [committed] = await admin.fetchOffsets({ groupId: "g", topics: ["in"] });
  let round = Math.max(0, Number(committed!.partitions[0]!.offset));
  const producer = kafka.producer({ transactionalId: "writer" });
  const dangling = kafka.producer({ transactionalId: "dangling" });
  await producer.connect();
  await dangling.connect();
  let open: PortTransaction | undefined;
  process.stdout.write("READY\n");
  for (;;) {
    await open?.abort();
    open = await dangling.transaction();
    await open.send({ topic: "out", messages: [{ value: `open-${round}`, partition: round % 2 }] });

    const tx = await producer.transaction();
    await tx.send({
      topic: "out",
      messages: [0, 1, 2].map((k) => ({ value: `tx-${round}-${k}`, partition: (round + k) % 2 })),
    });
    await tx.sendOffsets({
      consumerGroupId: "g",
      topics: [{ topic: "in", partitions: [{ partition: 0, offset: String(round + 1) }] }],
    });
    await tx.commit();
    process.stdout.write(`committed ${round}\n`);
    round++;
  }
}

void main();
