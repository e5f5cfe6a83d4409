import fc from "fast-check";
import { InvalidScheduleError } from "../../core/errors";
import { nextCronTime, parseCron, type CronExpression } from "../../workflow/schedules/cron";

const at = (iso: string) => Date.parse(iso);
const next = (expr: string, after: string) => {
  const t = nextCronTime(parseCron(expr), at(after));
  return t === undefined ? undefined : new Date(t).toISOString();
};

/** The matching rule restated on its own, to check the search against. */
function matches(cron: CronExpression, t: number): boolean {
  const d = new Date(t);
  const byMonth = cron.daysOfMonth.has(d.getUTCDate());
  const byWeek = cron.daysOfWeek.has(d.getUTCDay());
  return (
    cron.seconds.includes(d.getUTCSeconds()) &&
    d.getUTCMilliseconds() === 0 &&
    cron.minutes.includes(d.getUTCMinutes()) &&
    cron.hours.includes(d.getUTCHours()) &&
    cron.months.has(d.getUTCMonth() + 1) &&
    (cron.eitherDay ? byMonth || byWeek : byMonth && byWeek)
  );
}

describe("parseCron", () => {
  it.each([
    ["* * * *", /4 fields/],
    ["* * * * * * *", /7 fields/],
    ["60 * * * *", /minute field "60": 60 outside 0-59/],
    ["* 24 * * *", /hour field/],
    ["* * 0 * *", /day of month field "0": 0 outside 1-31/],
    ["* * * 13 *", /month field/],
    ["* * * * 8", /day of week field/],
    ["5-1 * * * *", /runs backwards/],
    ["*/0 * * * *", /a step of 0/],
    ["1,,2 * * * *", /an empty list item/],
    ["a * * * *", /"a" is not a number/],
    ["1/2/3 * * * *", /more than one "\/"/],
    ["@fortnightly", /unknown cron macro/],
    ["", /non-empty/],
    ["0 0 30 2 *", /never matches/],
    ["0 0 31 4,6,9,11 *", /never matches/],
  ])("refuses %j with INVALID_SCHEDULE", (expr, reason) => {
    let caught: unknown;
    try {
      parseCron(expr);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidScheduleError);
    expect((caught as InvalidScheduleError).code).toBe("INVALID_SCHEDULE");
    expect((caught as Error).message).toMatch(reason);
  });

  it("reads names, sevens as Sunday, and the optional seconds field", () => {
    const c = parseCron("0 9 * jan-mar mon-fri");
    expect([...c.months].sort((a, b) => a - b)).toEqual([1, 2, 3]);
    expect([...c.daysOfWeek].sort()).toEqual([1, 2, 3, 4, 5]);
    expect([...parseCron("0 0 * * 7").daysOfWeek]).toEqual([0]);
    expect(parseCron("*/15 * * * * *").seconds).toEqual([0, 15, 30, 45]);
    expect(parseCron("* * * * *").seconds).toEqual([0]);
    expect(parseCron("5/20 * * * *").minutes).toEqual([5, 25, 45]);
    expect(parseCron("10-20/5,1 * * * *").minutes).toEqual([1, 10, 15, 20]);
  });
});

describe("nextCronTime (UTC)", () => {
  it.each([
    // every minute: strictly after, on the whole minute
    ["* * * * *", "2026-03-01T10:00:00.000Z", "2026-03-01T10:01:00.000Z"],
    ["* * * * *", "2026-03-01T10:00:59.999Z", "2026-03-01T10:01:00.000Z"],
    ["*/5 * * * *", "2026-03-01T10:03:00.000Z", "2026-03-01T10:05:00.000Z"],
    // rolls over hour, day, month and year
    ["0 * * * *", "2026-03-01T23:30:00.000Z", "2026-03-02T00:00:00.000Z"],
    ["30 2 * * *", "2026-03-31T03:00:00.000Z", "2026-04-01T02:30:00.000Z"],
    ["0 0 1 1 *", "2026-06-15T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
    ["@yearly", "2026-12-31T23:59:59.000Z", "2027-01-01T00:00:00.000Z"],
    // the 31st skips the months without one
    ["0 12 31 * *", "2026-04-01T00:00:00.000Z", "2026-05-31T12:00:00.000Z"],
    // 29 February: the next leap year, and 2100 is not one
    ["0 0 29 2 *", "2026-03-01T00:00:00.000Z", "2028-02-29T00:00:00.000Z"],
    ["0 0 29 2 *", "2096-03-01T00:00:00.000Z", "2104-02-29T00:00:00.000Z"],
    // weekdays: 2026-03-06 is a Friday
    ["0 9 * * mon-fri", "2026-03-06T09:00:00.000Z", "2026-03-09T09:00:00.000Z"],
    ["@weekly", "2026-03-06T00:00:00.000Z", "2026-03-08T00:00:00.000Z"],
    // both day fields restricted: either matches (the 13th, or a Friday)
    ["0 0 13 * 5", "2026-03-07T00:00:00.000Z", "2026-03-13T00:00:00.000Z"],
    ["0 0 13 * 5", "2026-03-13T00:00:00.000Z", "2026-03-20T00:00:00.000Z"],
    // one day field restricted: it alone decides
    ["0 0 * * 5", "2026-03-07T00:00:00.000Z", "2026-03-13T00:00:00.000Z"],
    ["0 0 13 * *", "2026-03-14T00:00:00.000Z", "2026-04-13T00:00:00.000Z"],
    // with seconds
    ["*/2 * * * * *", "2026-03-01T10:00:01.500Z", "2026-03-01T10:00:02.000Z"],
    ["*/2 * * * * *", "2026-03-01T10:00:59.000Z", "2026-03-01T10:01:00.000Z"],
    ["30 59 23 31 12 *", "2026-12-31T23:59:30.000Z", "2027-12-31T23:59:30.000Z"],
    // UTC has no daylight saving: the European switch night keeps every hour
    ["30 2 * * *", "2026-03-29T00:00:00.000Z", "2026-03-29T02:30:00.000Z"],
    ["0 * * * *", "2026-10-25T01:30:00.000Z", "2026-10-25T02:00:00.000Z"],
  ])("%s after %s is %s", (expr, after, expected) => {
    expect(next(expr, after)).toBe(expected);
  });

  it("agrees with a minute-by-minute search (random expressions and times)", () => {
    const field = (min: number, max: number) =>
      fc.oneof(
        fc.constant("*"),
        fc.integer({ min, max }).map(String),
        fc
          .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
          .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
        fc.integer({ min: 1, max: 7 }).map((n) => `*/${n}`),
      );
    const expression = fc
      .tuple(field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6))
      .map((parts) => parts.join(" "));
    fc.assert(
      fc.property(
        expression,
        fc.integer({ min: at("2020-01-01T00:00:00Z"), max: at("2030-01-01T00:00:00Z") }),
        (expr, afterMs) => {
          const cron = parseCron(expr);
          const got = nextCronTime(cron, afterMs)!;
          expect(got).toBeGreaterThan(afterMs);
          expect(got % 60_000).toBe(0);
          expect(matches(cron, got)).toBe(true);
          // No earlier match: a minute-by-minute scan of up to two days before it.
          const from = Math.max(afterMs, got - 2 * 86_400_000);
          for (let t = Math.floor(from / 60_000) * 60_000 + 60_000; t < got; t += 60_000)
            expect(matches(cron, t)).toBe(false);
        },
      ),
      { numRuns: 60 },
    );
  });
});
