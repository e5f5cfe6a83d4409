import type { Kafka } from "kafkajs";

/**
 * Deletes the topics named `<prefix>.…`. A broker keeps every partition it holds on its heap:
 * thousands left by earlier runs (measured: 9,934 on the development broker) filled its old
 * generation, and each full collection then stopped it for about a third of a second, which
 * showed in Weft's latency.
 */
export async function deleteTopicsOf(kafka: Kafka, prefixes: readonly string[]): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) =>
      prefixes.some((prefix) => t.startsWith(`${prefix}.`)),
    );
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
    return mine.length;
  } finally {
    await admin.disconnect();
  }
}

/** Where isolatedConfig records the prefixes a test file made, for its environment to clean. */
export const PREFIXES_KEY = "__weftTopicPrefixes";
