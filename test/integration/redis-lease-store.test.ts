/**
 * The Redis lease store's one-round-trip acquire against a real Redis: the done-marker wins
 * over a free lease, a held lease keeps others out until it is released or expires, and the
 * lock it returns is redlock's own (extended and released by its value), and it sets the
 * done-marker as it goes back, in one script.
 */
import { Redis } from "ioredis";
import { isolatedConfig, testLogger, waitFor } from "../support/env";
import { RedisStepLeaseStore } from "../../adapters/redis/step-lease-store";
import { workerKeys } from "../../adapters/redis/keys";
import type { LeaseLock } from "../../workers/lease-store";

const config = isolatedConfig();
let redis: Redis;
let store: RedisStepLeaseStore;
let n = 0;
const nextRef = () => ({ workflowId: `lease-${++n}`, stepSeq: 1, attempt: 1 });

beforeAll(() => {
  redis = new Redis(config.redisUrl);
  store = new RedisStepLeaseStore(redis, config, testLogger(config));
});

afterAll(async () => {
  const keys = await redis.keys(`${config.topicPrefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

function held(lock: LeaseLock | "done" | undefined): LeaseLock {
  if (lock === undefined || lock === "done") throw new Error(`expected a lock, got ${lock}`);
  return lock;
}

it("takes a free lease once, and again only after its release", async () => {
  const ref = nextRef();
  const first = held(await store.lockUnlessDone(ref, 5000));
  expect(await store.lockUnlessDone(ref, 5000)).toBeUndefined();
  expect(await redis.pttl(workerKeys.lease(config, ref))).toBeGreaterThan(4000);
  await first.release();
  expect(await redis.exists(workerKeys.lease(config, ref))).toBe(0);
  held(await store.lockUnlessDone(ref, 5000));
});

it("is done once the attempt's marker is set, whether or not someone holds the lease", async () => {
  const free = nextRef();
  await store.markDone(free, "w1");
  expect(await store.lockUnlessDone(free, 5000)).toBe("done");
  expect(await redis.exists(workerKeys.lease(config, free))).toBe(0);

  const taken = nextRef();
  const lock = held(await store.lockUnlessDone(taken, 5000));
  await store.markDone(taken, "w1");
  expect(await store.lockUnlessDone(taken, 5000)).toBe("done");
  await lock.release();
});

it("returns a lock that redlock extends by its value, and that a stranger's release leaves", async () => {
  const ref = nextRef();
  const lock = held(await store.lockUnlessDone(ref, 1000));
  const extended = await lock.extend(8000);
  expect(await redis.pttl(workerKeys.lease(config, ref))).toBeGreaterThan(7000);
  // A lease that expired and was taken by another worker is not the old holder's to release.
  await redis.set(workerKeys.lease(config, ref), "someone-else", "PX", 8000);
  await expect(extended.release()).rejects.toThrow();
  expect(await redis.get(workerKeys.lease(config, ref))).toBe("someone-else");
  await expect(extended.extend(8000)).rejects.toThrow();
});

it("lets a lease that was not extended expire, so a dead worker's attempt runs elsewhere", async () => {
  const ref = nextRef();
  held(await store.lockUnlessDone(ref, 300));
  expect(await store.lockUnlessDone(ref, 300)).toBeUndefined();
  const again = await waitFor("the dead holder's lease to expire", () =>
    store.lockUnlessDone(ref, 300),
  );
  held(again);
});

it("takes leases by the script's hash, and by its text again once Redis forgot it", async () => {
  await redis.script("FLUSH");
  const first = nextRef();
  held(await store.lockUnlessDone(first, 5000));
  const second = nextRef();
  held(await store.lockUnlessDone(second, 5000));
  expect(await store.lockUnlessDone(second, 5000)).toBeUndefined();
});

it("sets the done-marker and gives the lease back in one script, after an extension too", async () => {
  const ref = nextRef();
  const lock = await held(await store.lockUnlessDone(ref, 1000)).extend(8000);
  await redis.script("FLUSH");
  await lock.releaseDone!("w7");
  expect(await redis.exists(workerKeys.lease(config, ref))).toBe(0);
  const marker = JSON.parse((await redis.get(workerKeys.done(config, ref)))!) as {
    workerId: string;
  };
  expect(marker.workerId).toBe("w7");
  expect(await redis.pttl(workerKeys.done(config, ref))).toBeGreaterThan(6 * 24 * 3600 * 1000);
  expect(await store.lockUnlessDone(ref, 5000)).toBe("done");
});

it("marks done without removing a lease that another worker took since", async () => {
  const ref = nextRef();
  const lock = held(await store.lockUnlessDone(ref, 5000));
  await redis.set(workerKeys.lease(config, ref), "someone-else", "PX", 8000);
  await lock.releaseDone!("w1");
  expect(await redis.get(workerKeys.lease(config, ref))).toBe("someone-else");
  expect(await store.lockUnlessDone(ref, 5000)).toBe("done");

  const other = nextRef();
  const plain = await store.tryLock(other, 5000);
  await plain!.releaseDone!("w1");
  expect(await redis.exists(workerKeys.lease(config, other))).toBe(0);
  expect(await store.isDone(other)).toBe(true);
});
