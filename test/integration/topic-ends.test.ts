/**
 * A topic's ends, asked the moment it is created. The broker names a new partition's leader
 * in its metadata a moment before that leader answers ListOffsets (NOT_LEADER meanwhile), and
 * kafkajs's admin gave up on the first such answer: every role's first read of a fresh
 * topic's ends failed, and a stats subscription begun then ended with an error (seen in CI).
 * Through the adapter's admin, against the real broker.
 */
import { createLogger } from "../../core/logger";
import { createKafka } from "../../adapters/kafka/client";
import { createTopicsWithLeaders } from "../../transport/topics";
import { isolatedConfig } from "../support/env";

const TOPICS = 6;
const PARTITIONS = 4;

it("the ends of topics just created are answered, not refused with NOT_LEADER", async () => {
  const config = isolatedConfig();
  const admin = createKafka(config, createLogger("silent")).admin();
  await admin.connect();
  const names = Array.from({ length: TOPICS }, (_, i) => `${config.topicPrefix}.ends-${i}`);
  try {
    await createTopicsWithLeaders(
      admin,
      names.map((topic) => ({ topic, numPartitions: PARTITIONS })),
    );
    const answers = await Promise.allSettled(names.map((t) => admin.fetchTopicOffsets(t)));
    const refused = answers.flatMap((a) => (a.status === "rejected" ? [String(a.reason)] : []));
    expect(refused).toEqual([]);
    for (const answer of answers) {
      if (answer.status !== "fulfilled") continue;
      expect(answer.value.map((o) => [o.partition, o.high, o.low]).sort()).toEqual(
        Array.from({ length: PARTITIONS }, (_, p) => [p, "0", "0"]),
      );
    }
  } finally {
    await admin.deleteTopics({ topics: names }).catch(() => undefined);
    await admin.disconnect();
  }
}, 60_000);
