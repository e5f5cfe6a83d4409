import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCodes } from "../../core/errors";

describe("error codes", () => {
  const page = readFileSync(join(__dirname, "..", "..", "docs", "error-codes.md"), "utf8");
  const documented = [...page.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);

  it.each(Object.keys(ErrorCodes))("documents %s in docs/error-codes.md", (code) => {
    expect(documented).toContain(code);
  });

  it("documents no code that does not exist, and each once", () => {
    expect(documented.sort()).toEqual(Object.keys(ErrorCodes).sort());
  });
});
