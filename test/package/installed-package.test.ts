/**
 * Weft as a user gets it. `npm pack` (whose prepack builds dist/ and the dashboard) makes the
 * tarball; a new app installs it and, without skipLibCheck and under `strict`, type-checks a
 * workflow against the published types; `npx weft dev` hosts the workflow, `npx weft workflow
 * start --wait` runs it to completion, and the dashboard answers `/`. Then the installed
 * `weft init` scaffolds a second app depending on the same tarball: its `npm test` passes and
 * its `npm run dev` runs the signup example (waits shortened) to completion.
 *
 * Installs prefer the npm cache and ask the registry only for what it lacks; better-sqlite3
 * gets the repository's own built module as a local prebuild (see offerSqlitePrebuild).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { offerSqlitePrebuild, ROOT, runOk, startServer, userEnv, type Server } from "./support";

interface PackResult {
  filename: string;
  files: { path: string }[];
}

const work = mkdtempSync(join(tmpdir(), "weft-package-"));
const app = join(work, "app");
const servers: Server[] = [];
let tarball = "";
let packed: PackResult;
let installOutput = "";

/** The last line a command printed, as JSON (`--json` output). */
const lastJson = (output: string): unknown => JSON.parse(output.trim().split("\n").at(-1) ?? "");

/** `npx weft …` in `cwd`: the bin installed there, never a download. */
const weft = (cwd: string, args: string[], env = userEnv()) =>
  runOk("npx", ["--no", "--", "weft", ...args], { cwd, env, timeoutMs: 60_000 });

beforeAll(async () => {
  await offerSqlitePrebuild(work);
  const output = await runOk("npm", ["pack", "--json", "--pack-destination", work], {
    cwd: ROOT,
    timeoutMs: 180_000,
  });
  // npm prints the lifecycle scripts' output before the JSON document.
  packed = (JSON.parse(output.slice(output.search(/^\[\n\s*\{/m))) as PackResult[])[0]!;
  tarball = join(work, packed.filename);

  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({
      name: "greeter",
      version: "1.0.0",
      private: true,
      dependencies: { "@weft-engine/weft": `file:${tarball}` },
      devDependencies: { typescript: "5.9.3", "@types/node": "20.19.43" },
      allowScripts: { "better-sqlite3": true, esbuild: true, "msgpackr-extract": true },
    }),
  );
  installOutput = await runOk("npm", ["install", "--no-audit", "--no-fund"], {
    cwd: app,
    timeoutMs: 180_000,
  });
}, 360_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
});

it("the tarball holds the build, the dashboard and the bin, and none of the repository's tooling", () => {
  const files = packed.files.map((f) => f.path);
  expect(files).toEqual(
    expect.arrayContaining([
      "bin/weft.js",
      "dist/sdk/index.js",
      "dist/sdk/index.d.ts",
      "dist/sdk/testing.d.ts",
      "dist/sdk/eslint.js",
      "dist/sdk/eslint.d.ts",
      "dist/cli/weft.js",
      "dashboard/dist/index.html",
      "schemas/command.avsc",
      "migrations/0001_read_models.sql",
      "migrations/sqlite/0001_read_models.sql",
      "examples/signup.ts",
      "examples/signup.test.ts",
    ]),
  );
  const stray = files.filter((f) =>
    /^(test|bench|chaos|\.ci|infra|dist\/(test|bench|chaos|examples)\/|dashboard\/src|(sdk|cli|core)\/)/.test(
      f,
    ),
  );
  expect(stray).toEqual([]);
  // Every dependency's engines range holds on this Node: npm warns of none.
  expect(installOutput).not.toMatch(/EBADENGINE/);
});

it("a strict app type-checks against the published types, runs a workflow with npx weft dev, and gets the dashboard", async () => {
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "node16",
        moduleResolution: "node16",
        lib: ["ES2022"],
        types: ["node"],
        strict: true,
        noEmit: true,
      },
      include: ["*.ts"],
    }),
  );
  writeFileSync(
    join(app, "greet.ts"),
    `import { defineStep, defineWorkflow } from "@weft-engine/weft";

export const greet = defineStep("greet", async (input: { name: string }) => ({
  greeting: \`hello \${input.name}\`,
}));

export const greetFlow = defineWorkflow("greetFlow", async (ctx, input: { name: string }) => {
  const { greeting } = await ctx.step(greet, input); // typed: { greeting: string }
  return greeting.toUpperCase();
});
`,
  );
  // The published declarations, every one of them checked (no skipLibCheck).
  expect(JSON.parse(readFileSync(join(app, "tsconfig.json"), "utf8"))).not.toHaveProperty(
    "compilerOptions.skipLibCheck",
  );
  await runOk("npx", ["--no", "--", "tsc", "-p", "."], { cwd: app, timeoutMs: 60_000 });

  const dev = await startServer("npx", ["--no", "--", "weft", "dev", "greet.ts"], {
    cwd: app,
    env: userEnv({ PORT: "0", WEFT_LOG_LEVEL: "warn" }),
  });
  servers.push(dev);
  const started = await weft(
    app,
    ["workflow", "start", "greetFlow", "--input", '{"name":"ada"}', "--wait", "--json"],
    userEnv({ WEFT_API_URL: dev.address }),
  );
  expect(lastJson(started)).toMatchObject({ status: "COMPLETED", result: "HELLO ADA" });

  const page = await fetch(`${dev.address}/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/<script[^>]+src="\/assets\//);
  await dev.stop();
});

it("weft init makes an app whose npm test passes and whose npm run dev runs the signup flow", async () => {
  const scaffolded = join(work, "signup-app");
  // As `npx @weft-engine/weft init` runs it: the package's bin, from a directory without Weft.
  const initialised = await runOk(
    join(app, "node_modules", ".bin", "weft"),
    ["init", "signup-app", "--weft-spec", `file:${tarball}`],
    { cwd: work, timeoutMs: 180_000 },
  );
  const manifest = JSON.parse(readFileSync(join(scaffolded, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    scripts: Record<string, string>;
  };
  expect(manifest.dependencies).toEqual({ "@weft-engine/weft": `file:${tarball}` });
  expect(initialised).toMatch(/added \d+ packages/); // it ran npm install
  expect(initialised).not.toMatch(/EBADENGINE/);
  expect(Object.keys(manifest.scripts)).toEqual(expect.arrayContaining(["dev", "test", "start"]));
  const tsconfig = JSON.parse(readFileSync(join(scaffolded, "tsconfig.json"), "utf8")) as {
    compilerOptions: Record<string, unknown>;
  };
  expect(tsconfig.compilerOptions.strict).toBe(true);
  expect(tsconfig.compilerOptions).not.toHaveProperty("skipLibCheck");

  // Type-check, then the example's tests on the package's /testing entry, virtual time.
  const tested = await runOk("npm", ["test"], { cwd: scaffolded, timeoutMs: 90_000 });
  expect(tested).toMatch(/# pass 2/);
  expect(tested).toMatch(/# fail 0/);

  const dev = await startServer("npm", ["run", "dev"], {
    cwd: scaffolded,
    env: userEnv({
      PORT: "0",
      WEFT_LOG_LEVEL: "warn",
      WEFT_EXAMPLE_WAIT_MS: "200",
      WEFT_EXAMPLE_CONFIRM_TIMEOUT_MS: "300",
    }),
  });
  servers.push(dev);
  const started = await weft(
    scaffolded,
    [
      "workflow",
      "start",
      "userSignupFlow",
      "--input",
      '{"email":"ada@example.com"}',
      "--wait",
      "--json",
    ],
    userEnv({ WEFT_API_URL: dev.address }),
  );
  // Nobody confirmed within the (shortened) timeout: the follow-up is the reminder.
  expect(lastJson(started)).toMatchObject({
    status: "COMPLETED",
    result: { sent: true, confirmed: false },
  });
  await dev.stop();
});
