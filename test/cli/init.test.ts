/**
 * `weft init` without the install (the installed package's test runs it with one): what it
 * writes, the name it gives the package, and that it overwrites nothing.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { packageName, scaffold } from "../../cli/commands/init";
import { tempDir } from "../embedded/helpers";

const ROOT = join(__dirname, "..", "..");
const { dir, cleanup } = tempDir();
afterAll(cleanup);

function init(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [join(ROOT, "bin", "weft.js"), "init", ...args], {
    cwd: dir,
  });
}

it("writes a strict TypeScript project hosting the signup example, with dev, test and start", async () => {
  await init(["my-app", "--no-install", "--weft-spec", "file:../weft.tgz"]);
  const app = join(dir, "my-app");
  const manifest = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as {
    name: string;
    dependencies: Record<string, string>;
    scripts: Record<string, string>;
  };
  expect(manifest.name).toBe("my-app");
  expect(manifest.dependencies).toEqual({ "@weft-engine/weft": "file:../weft.tgz" });
  expect(manifest.scripts.dev).toMatch(/weft dev workflows\/index\.ts$/);
  expect(manifest.scripts.start).toBe(
    "weft start workflows/index.ts --roles api,projector,decider,worker",
  );
  expect(manifest.scripts.test).toMatch(/^tsc --noEmit && node --import tsx --test/);
  const tsconfig = JSON.parse(readFileSync(join(app, "tsconfig.json"), "utf8")) as {
    compilerOptions: Record<string, unknown>;
  };
  expect(tsconfig.compilerOptions).toMatchObject({ strict: true });
  expect(tsconfig.compilerOptions).not.toHaveProperty("skipLibCheck");
  // The example as the package ships it: imports by package name, as a user's code does.
  const flow = readFileSync(join(app, "workflows", "signup.ts"), "utf8");
  expect(flow).toBe(readFileSync(join(ROOT, "examples", "signup.ts"), "utf8"));
  expect(flow).toContain('from "@weft-engine/weft"');
  expect(readFileSync(join(app, "workflows", "signup.test.ts"), "utf8")).toContain(
    'from "@weft-engine/weft/testing"',
  );
  expect(readFileSync(join(app, "workflows", "index.ts"), "utf8")).toContain(
    'export * from "./signup"',
  );
  expect(existsSync(join(app, "node_modules"))).toBe(false);
});

it("asks for this Weft's version as a caret range unless told otherwise", async () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  await init(["plain", "--no-install"]);
  const manifest = JSON.parse(readFileSync(join(dir, "plain", "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };
  expect(manifest.dependencies).toEqual({ "@weft-engine/weft": `^${version}` });
  expect(Object.keys(scaffold({ name: "x", weftSpec: "1" })).sort()).toEqual([
    ".gitignore",
    "README.md",
    "package.json",
    "tsconfig.json",
    "workflows/index.ts",
    "workflows/signup.test.ts",
    "workflows/signup.ts",
  ]);
});

it("names the package after its directory, as npm allows", () => {
  expect(packageName("My App")).toBe("my-app");
  expect(packageName(".hidden_Thing")).toBe("hidden_thing");
  expect(packageName("...")).toBe("weft-app");
});

it("refuses a directory that holds a file it would write, and writes nothing there", async () => {
  const taken = join(dir, "taken");
  mkdirSync(taken);
  writeFileSync(join(taken, "package.json"), "{}");
  await expect(init(["taken", "--no-install"])).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringContaining("already holds package.json") as unknown,
  });
  expect(readFileSync(join(taken, "package.json"), "utf8")).toBe("{}");
  expect(existsSync(join(taken, "workflows"))).toBe(false);
});
