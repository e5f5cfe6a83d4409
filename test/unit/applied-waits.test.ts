/**
 * A client awaiting many runs' starts at once shares its reads: one end read per partition for
 * the waits that arrive together (each begun after its callers asked), one poller per partition
 * for the deciders' position. Each wait still settles as `untilApplied` would: caught up once
 * the position passes the end read after it asked, not caught up at its deadline, failed when
 * the position cannot be read.
 */
import { AppliedWaits, NextRead } from "../../producers/applied-waits";

/** A read answered when the test says so. */
function controlledReads<T>() {
  const pending: ((value: T) => void)[] = [];
  let calls = 0;
  return {
    read: () => {
      calls++;
      return new Promise<T>((resolve) => pending.push(resolve));
    },
    answer: (value: T) => pending.shift()!(value),
    get calls() {
      return calls;
    },
  };
}

describe("NextRead", () => {
  it("gives callers arriving while a read is out the next one, shared", async () => {
    const reads = controlledReads<number>();
    const shared = new NextRead(reads.read);
    const first = shared.next();
    const second = [shared.next(), shared.next(), shared.next()];
    expect(reads.calls).toBe(1);
    reads.answer(1);
    expect(await first).toBe(1);
    // The queued read begins once the first is answered; the three share it.
    await new Promise(setImmediate);
    expect(reads.calls).toBe(2);
    reads.answer(2);
    expect(await Promise.all(second)).toEqual([2, 2, 2]);
    // Nothing out: a caller begins its own.
    const third = shared.next();
    expect(reads.calls).toBe(3);
    reads.answer(3);
    expect(await third).toBe(3);
  });
});

describe("AppliedWaits", () => {
  const partitions = 2;
  const partitionFor = (id: string) => Number(id.split("-")[1]) % partitions;

  function setUp(applied: bigint[], ends: bigint[]) {
    const calls = { ends: 0, applied: 0 };
    let failing: Error | undefined;
    const waits = new AppliedWaits(
      {
        appliedOffset: (partition) => {
          calls.applied++;
          return failing ? Promise.reject(failing) : Promise.resolve(applied[partition]!);
        },
      },
      {
        partitionFor,
        partitionEnd: (id) => {
          calls.ends++;
          return Promise.resolve({ partition: partitionFor(id), end: ends[partitionFor(id)]! });
        },
      },
      { initialMs: 1, maxMs: 2, jitter: 0 },
    );
    return { waits, calls, fail: (err: Error) => (failing = err) };
  }

  it("settles many waits with a few shared reads once the deciders pass their ends", async () => {
    const applied = [0n, 0n];
    const { waits, calls } = setUp(applied, [5n, 7n]);
    const deadline = Date.now() + 60_000;
    const all = Array.from({ length: 200 }, (_, i) => waits.until(`run-${i}`, deadline));
    // Let the waits read their ends and the pollers look a few times.
    while (calls.applied < 10) await new Promise(setImmediate);
    applied[0] = 5n;
    applied[1] = 9n;
    const settled = await Promise.all(all);
    expect(settled.every((w) => w.caughtUp)).toBe(true);
    expect(settled.filter((w) => w.partition === 0).every((w) => w.end === 5n)).toBe(true);
    expect(settled.filter((w) => w.partition === 1).every((w) => w.end === 7n)).toBe(true);
    // 200 waits, each alone, read 200 ends and polled 200 times at least.
    expect(calls.ends).toBeLessThanOrEqual(2 * partitions);
    expect(calls.applied).toBeLessThan(200);
  });

  it("settles a wait not caught up at its deadline, and fails waits when the position cannot be read", async () => {
    const { waits, fail } = setUp([0n, 0n], [5n, 5n]);
    const late = await waits.until("run-0", Date.now() + 20);
    expect(late).toMatchObject({ caughtUp: false, partition: 0, applied: 0n, end: 5n });

    const failing = waits.until("run-1", Date.now() + 60_000);
    fail(new Error("no broker"));
    await expect(failing).rejects.toThrow("no broker");
  });
});
