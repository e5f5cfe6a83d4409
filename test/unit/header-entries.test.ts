/** A record's headers as the pairs the log and the batch encoder write. */
import { headerEntries } from "../../transport/headers";

const text = (pairs: [string, Buffer][]) => pairs.map(([k, v]) => [k, v.toString("utf8")]);

it("gives one pair per value, text as UTF-8, in the headers' order", () => {
  const headers = JSON.parse('{"__proto__":"p"}') as Record<string, string>;
  Object.assign(headers, { a: "é", b: ["x", Buffer.from("y")], c: undefined, d: "" });
  expect(text(headerEntries(headers))).toEqual([
    ["__proto__", "p"],
    ["a", "é"],
    ["b", "x"],
    ["b", "y"],
    ["d", ""],
  ]);
  expect(headerEntries(undefined)).toEqual([]);
});

it("gives the bytes of a value it was given as text, long or short, every time", () => {
  const long = "v".repeat(500);
  for (let i = 0; i < 3; i++) {
    const values = headerEntries({ s: "weft.Command", l: long, o: `${i}` }).map(([, v]) =>
      v.toString("utf8"),
    );
    expect(values).toEqual(["weft.Command", long, String(i)]);
  }
  // A Buffer given is passed as it is.
  const given = Buffer.from("b");
  expect(headerEntries({ k: given })[0]![1]).toBe(given);
});
