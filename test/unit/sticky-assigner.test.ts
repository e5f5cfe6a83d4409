import { stickyPlan } from "../../adapters/kafka/sticky-assigner";

const plan = (partitions: number, previous: Record<string, number[]>, members?: string[]) =>
  Object.fromEntries(
    stickyPlan(
      Array.from({ length: partitions }, (_, i) => i),
      members ?? Object.keys(previous),
      new Map(Object.entries(previous)),
    ),
  );

const moved = (before: Record<string, number[]>, after: Record<string, number[]>) =>
  Object.entries(after).reduce(
    (n, [m, ps]) => n + ps.filter((p) => !(before[m] ?? []).includes(p)).length,
    0,
  );

describe("sticky partition plan", () => {
  it("deals every partition once, evenly, on a fresh group", () => {
    const result = plan(8, { a: [], b: [], c: [] });
    const all = Object.values(result)
      .flat()
      .sort((x, y) => x - y);
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(
      Object.values(result)
        .map((ps) => ps.length)
        .sort(),
    ).toEqual([2, 3, 3]);
  });

  it("a member's crash moves only its partitions", () => {
    const before = { a: [0, 1], b: [2, 3], c: [4, 5] };
    const after = plan(6, { a: [0, 1], b: [2, 3] });
    expect(after.a).toEqual(expect.arrayContaining([0, 1]));
    expect(after.b).toEqual(expect.arrayContaining([2, 3]));
    expect(moved(before, after)).toBe(2);
  });

  it("a joining member takes only its share", () => {
    const before = { a: [0, 1, 2, 3], b: [4, 5, 6, 7] };
    const after = plan(8, { ...before, c: [] });
    expect(after.c).toHaveLength(2);
    expect(moved(before, after)).toBe(2);
  });

  it("a partition claimed twice (a zombie) goes to one member", () => {
    const after = plan(4, { a: [0, 1], b: [1, 2] });
    const all = Object.values(after).flat().sort();
    expect(all).toEqual([0, 1, 2, 3]);
  });

  it("ignores partitions that no longer exist and is the same on any leader", () => {
    const previous = { b: [9, 1], a: [0] };
    expect(plan(4, previous, ["a", "b"])).toEqual(plan(4, previous, ["b", "a"]));
    expect(Object.values(plan(4, previous)).flat()).not.toContain(9);
  });
});
