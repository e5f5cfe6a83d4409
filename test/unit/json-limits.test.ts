import { WeftError } from "../../core/errors";
import { MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES, toJsonText } from "../../core/json";
import { signalWorkflowCommand, startWorkflowCommand } from "../../producers/workflow-commands";

/** `{"a":{"a":…}}` with `levels` objects. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

function arrays(levels: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < levels; i++) value = [value];
  return value;
}

const codeOf = (work: () => unknown): string | undefined => {
  try {
    work();
  } catch (err) {
    return err instanceof WeftError ? err.code : `not a WeftError: ${String(err)}`;
  }
  return undefined;
};

describe("JSON limits", () => {
  it(`accepts values nested ${MAX_JSON_DEPTH} deep and refuses one level more`, () => {
    expect(JSON.parse(toJsonText(nested(MAX_JSON_DEPTH), "x"))).toEqual(nested(MAX_JSON_DEPTH));
    expect(codeOf(() => toJsonText(nested(MAX_JSON_DEPTH + 1), "x"))).toBe("INVALID_INPUT");
    expect(codeOf(() => toJsonText(arrays(MAX_JSON_DEPTH + 1), "x"))).toBe("INVALID_INPUT");
    expect(() => toJsonText(nested(1000), "workflow input")).toThrow(/deeper than 64 levels/);
  });

  it("counts depth along each path, not over siblings", () => {
    const wide = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`k${i}`, nested(MAX_JSON_DEPTH - 1)]),
    );
    expect(() => toJsonText(wide, "x")).not.toThrow();
    expect(() => toJsonText([wide, wide], "x")).toThrow(/deeper/);
  });

  it("a value shared by two paths is measured on the deeper one", () => {
    const shared = nested(MAX_JSON_DEPTH - 2);
    expect(() => toJsonText({ shallow: shared, deep: { more: { again: shared } } }, "x")).toThrow(
      /deeper/,
    );
  });

  it("refuses a start input or a signal payload that is too deep or too large, before sending", () => {
    expect(codeOf(() => startWorkflowCommand("t", { input: nested(1000) }))).toBe("INVALID_INPUT");
    expect(codeOf(() => signalWorkflowCommand("t-1", "go", nested(100)))).toBe("INVALID_INPUT");
    expect(
      codeOf(() => signalWorkflowCommand("t-1", "go", "x".repeat(MAX_PAYLOAD_BYTES + 1))),
    ).toBe("INVALID_INPUT");
  });
});
