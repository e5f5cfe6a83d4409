/**
 * `WEFT_HISTORY_RETENTION_MS`: history kept for ever unless bounded, and a bound the topic is
 * created with (on the embedded log here; on a broker it is the topic's `retention.ms`).
 */
import { ConfigError } from "../../core/errors";
import { loadConfig, topics } from "../../core/config";
import { EmbeddedKafka } from "../../adapters/embedded";
import { ensureTopics } from "../../transport/topics";
import { tempDir } from "./helpers";

const DAY = 24 * 3_600_000;

it("is for ever by default, takes -1 or a day and more, and refuses less", () => {
  expect(loadConfig({}, {}).historyRetentionMs).toBe(-1);
  expect(loadConfig({}, { WEFT_HISTORY_RETENTION_MS: "-1" }).historyRetentionMs).toBe(-1);
  expect(loadConfig({}, { WEFT_HISTORY_RETENTION_MS: String(30 * DAY) }).historyRetentionMs).toBe(
    30 * DAY,
  );
  // Seconds given where milliseconds are meant would drop the audit log within minutes.
  expect(() => loadConfig({}, { WEFT_HISTORY_RETENTION_MS: "604800" })).toThrow(ConfigError);
  expect(() => loadConfig({}, { WEFT_HISTORY_RETENTION_MS: "-2" })).toThrow(ConfigError);
});

describe.each([
  ["bounded to a day", DAY, true],
  ["for ever", -1, false],
])("history %s", (_label, retention, dropped) => {
  it(`${dropped ? "loses" : "keeps"} its sealed events two days on`, async () => {
    const { dir, cleanup } = tempDir();
    const kafka = await EmbeddedKafka.open({ directory: dir, sync: "never", segmentBytes: 4096 });
    try {
      const config = loadConfig({ historyRetentionMs: retention, commandPartitions: 1 }, {});
      await ensureTopics(kafka.admin(), config);
      const history = topics.history(config);
      const producer = kafka.producer();
      await producer.connect();
      for (let i = 0; i < 200; i++)
        await producer.send({
          topic: history,
          messages: [{ key: `run-${i}`, value: `event ${i} `.padEnd(100, ".") }],
        });
      kafka.log.retain(Date.now() + 2 * DAY);
      const low = kafka.log.lowWatermark(history, 0);
      if (dropped) expect(low).toBeGreaterThan(150);
      else expect(low).toBe(0);
      expect(kafka.log.highWatermark(history, 0)).toBe(200);
    } finally {
      await kafka.close();
      cleanup();
    }
  });
});
