/**
 * The API's live feed of derived values (stats, workers): recomputed at most once per interval
 * while runs change, refreshed when idle, and never made to wait for the idle refresh.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import { LiveFeed, type DerivedFeed } from "../../graphql/live-feed";
import { createInProcessLiveEmitter } from "../../adapters/in-process/live-emitter";
import { liveTopics } from "../../projections/live-changes";
import type { ReadModelDb } from "../../projections/read-model-db";
import { waitFor } from "../support/env";

const config = loadConfig({ topicPrefix: "unitfeed" });

/** A feed of `derived` on an in-process emitter; what it publishes lands in `published`. */
function feedOf(derived: DerivedFeed) {
  const emitter = createInProcessLiveEmitter();
  const published: unknown[] = [];
  const feed = new LiveFeed({
    config,
    // No run is watched, so the feed never reads rows.
    db: undefined as unknown as ReadModelDb,
    emitter,
    publish: (_topic, payload) => published.push(payload),
    logger: createLogger("silent"),
    derived: [derived],
  });
  const stop = async () => {
    await feed.stop();
    await new Promise<void>((resolve) => emitter.close(() => resolve()));
  };
  return { feed, emitter, published, stop };
}

it("a change after an idle refresh was armed is pushed within the minimum interval", async () => {
  let reads = 0;
  const { feed, emitter, published, stop } = feedOf({
    name: "n",
    read: () => Promise.resolve(++reads),
    minIntervalMs: 50,
    refreshMs: 60_000,
  });
  await feed.start();
  const release = feed.watchDerived("n");
  try {
    await sleep(150);
    // The first value went out and the next recompute is the idle refresh, a minute away.
    expect(published).toEqual([1]);
    emitter.emit({ topic: liveTopics(config).runs, ids: ["a"] });
    await sleep(200);
    expect(published).toEqual([1, 2]);
    // A burst of changes makes one recompute per interval, not one per change.
    const burstStart = Date.now();
    for (let i = 0; i < 40; i++) {
      emitter.emit({ topic: liveTopics(config).runs, ids: [`b${i}`] });
      await sleep(2);
    }
    await sleep(200);
    const intervals = Math.ceil((Date.now() - burstStart) / 50);
    const recomputed = published.length - 2;
    expect(recomputed).toBeGreaterThanOrEqual(1);
    expect(recomputed).toBeLessThanOrEqual(intervals + 1);
    expect(recomputed).toBeLessThan(40);
  } finally {
    release();
    await stop();
  }
});

it("a subscriber whose first read failed gets the next value, even one already published", async () => {
  let reads = 0;
  const { feed, published, stop } = feedOf({
    name: "stats",
    // The second read fails, as a lag read does while a broker is away.
    read: () => (++reads === 2 ? Promise.reject(new Error("broker away")) : Promise.resolve(7)),
    minIntervalMs: 20,
    refreshMs: 60_000,
  });
  await feed.start();
  const first = feed.watchDerived("stats");
  try {
    await waitFor("the first value", () => published.length === 1);
    const second = feed.watchDerived("stats");
    try {
      expect(await feed.firstOfDerived("stats")).toEqual([]);
      // Unchanged, yet sent: the new subscriber has nothing else to start from.
      await waitFor("the value again", () => published.length === 2);
      expect(published).toEqual([7, 7]);
    } finally {
      second();
    }
  } finally {
    first();
    await stop();
  }
});
