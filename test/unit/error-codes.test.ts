import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCodes } from "../../core/errors";

describe("error codes", () => {
  const readme = readFileSync(join(__dirname, "..", "..", "README.md"), "utf8");

  it.each(Object.keys(ErrorCodes))("documents %s in the README", (code) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${code}\` \\|`, "m"));
  });

  it("documents no code that does not exist", () => {
    const section = readme.slice(
      readme.indexOf("## Error codes"),
      readme.indexOf("\n## Testing\n"),
    );
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ErrorCodes).sort());
  });
});
