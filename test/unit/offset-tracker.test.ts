import { OffsetTracker } from "../../workers/offset-tracker";
import { SlotPool } from "../../workers/slot-pool";

describe("OffsetTracker", () => {
  it("offers nothing before any record is tracked", () => {
    expect(new OffsetTracker().committable()).toBeUndefined();
  });

  it("commits up to the lowest unfinished offset only", () => {
    const t = new OffsetTracker();
    for (const o of ["10", "11", "12", "13"]) t.track(o);
    expect(t.committable()).toBe("10");
    t.finish("11");
    t.finish("13");
    expect(t.committable()).toBe("10");
    t.finish("10");
    expect(t.committable()).toBe("12");
    expect(t.lowestUnfinished).toBe("12");
    t.finish("12");
    expect(t.committable()).toBe("14");
    expect(t.pending).toBe(0);
  });

  it("does not offer an offset again once committed", () => {
    const t = new OffsetTracker();
    t.track("0");
    t.track("1");
    t.finish("0");
    expect(t.committable()).toBe("1");
    t.markCommitted("1");
    expect(t.committable()).toBeUndefined();
    t.finish("1");
    expect(t.committable()).toBe("2");
    t.markCommitted("2");
    expect(t.committedOffset).toBe("2");
    // An older commit never moves it back.
    t.markCommitted("1");
    expect(t.committedOffset).toBe("2");
  });

  it("respects the offset committed before it was created", () => {
    const t = new OffsetTracker("7");
    t.track("5");
    t.finish("5");
    expect(t.committable()).toBeUndefined();
    t.track("7");
    t.finish("7");
    expect(t.committable()).toBe("8");
  });

  it("handles gaps between offsets and skips past trailing markers", () => {
    const t = new OffsetTracker();
    t.track("3");
    t.track("8");
    t.finish("8");
    expect(t.committable()).toBe("3");
    t.finish("3");
    expect(t.committable()).toBe("9");
    t.skipTo("10");
    expect(t.committable()).toBe("11");
    expect(t.highestTracked).toBe("10");
    t.skipTo("4");
    expect(t.highestTracked).toBe("10");
    expect(() => t.track("10")).toThrow(RangeError);
    t.track("11");
    expect(t.committable()).toBe("11");
  });

  it("ignores finishing unknown or already finished offsets", () => {
    const t = new OffsetTracker();
    t.track("1");
    expect(t.finish("2")).toBe(false);
    expect(t.finish("1")).toBe(true);
    expect(t.finish("1")).toBe(false);
    expect(t.committable()).toBe("2");
  });

  it("works past the safe integer range", () => {
    const t = new OffsetTracker();
    t.track("9007199254740993");
    t.track("9007199254740994");
    t.finish("9007199254740993");
    expect(t.committable()).toBe("9007199254740994");
    t.finish("9007199254740994");
    expect(t.committable()).toBe("9007199254740995");
  });

  it("stays right when many records finish in random order", () => {
    const t = new OffsetTracker();
    const offsets = Array.from({ length: 500 }, (_, i) => 1000 + i * 2);
    for (const o of offsets) t.track(String(o));
    const order = [...offsets];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const done = new Set<number>();
    for (const o of order) {
      t.finish(String(o));
      done.add(o);
      const lowest = offsets.find((x) => !done.has(x));
      expect(t.committable()).toBe(String(lowest ?? offsets[offsets.length - 1]! + 1));
    }
  });
});

describe("SlotPool", () => {
  it("runs up to its size at once and hands slots to waiters", async () => {
    const pool = new SlotPool(2);
    const releases: Array<() => void> = [];
    const job = () => new Promise<void>((resolve) => releases.push(resolve));
    expect(await pool.waitForSlot()).toBe(true);
    pool.run(job);
    pool.run(job);
    expect(pool.full).toBe(true);
    expect(pool.inFlight).toBe(2);
    let ticks = 0;
    const waiting = pool.waitForSlot(() => {
      ticks++;
      return Promise.resolve();
    }, 10);
    await new Promise((r) => setTimeout(r, 35));
    expect(ticks).toBeGreaterThan(0);
    releases.shift()!();
    expect(await waiting).toBe(true);
    expect(pool.inFlight).toBe(1);
    releases.shift()!();
    expect(await pool.drain(1000)).toBe(true);
  });

  it("keeps its slot count when a job fails and reports a drain timeout", async () => {
    const pool = new SlotPool(1);
    pool.run(() => Promise.reject(new Error("boom")));
    expect(await pool.drain(1000)).toBe(true);
    expect(pool.inFlight).toBe(0);
    pool.run(() => new Promise<void>(() => undefined));
    expect(await pool.drain(20)).toBe(false);
    const waiting = pool.waitForSlot();
    pool.close();
    expect(await waiting).toBe(false);
  });
});
