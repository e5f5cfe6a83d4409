/**
 * `weft init [dir]`: a new project that runs workflows on Weft. It writes package.json (Weft as
 * a dependency; scripts dev, start, test), a strict tsconfig.json, and workflows/ holding the
 * signup example and its test (copied from this package's examples/), then runs npm install.
 * It never overwrites: a file it would write that exists already stops it before it writes any.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import type { Command } from "commander";
import { packageRoot } from "../../core/package-root";
import { fail } from "../output";
import { weftPackage } from "../package-info";

interface InitCliOptions {
  weftSpec?: string;
  install: boolean;
}

export interface ScaffoldOptions {
  /** The new package's name. */
  name: string;
  /** How its package.json asks for Weft: a range, a path, a tarball (`file:…`). */
  weftSpec: string;
}

/** The scripts' module: every definition it exports, directly or re-exported, is hosted. */
const MODULE = "workflows/index.ts";

/** The waits of the signup example under `npm run dev`, as in Weft's own `npm start`. */
const DEV_WAITS =
  "WEFT_EXAMPLE_WAIT_MS=${WEFT_EXAMPLE_WAIT_MS:-5000} WEFT_EXAMPLE_CONFIRM_TIMEOUT_MS=${WEFT_EXAMPLE_CONFIRM_TIMEOUT_MS:-15000}";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description(
      "create a project that runs workflows on Weft in <dir> (default: here): package.json with the scripts dev, start and test, a strict tsconfig.json, workflows/ with the signup example and its test; then npm install",
    )
    .argument("[dir]", "the project's directory; created if missing", ".")
    .option(
      "--weft-spec <spec>",
      "how package.json asks for Weft: a version range, or a path or tarball (file:…) (default: ^ this version)",
    )
    .option("--no-install", "write the files only, without running npm install")
    .action((dir: string, opts: InitCliOptions) => {
      try {
        const root = resolve(dir);
        const weft = weftPackage();
        const files = scaffold({
          name: packageName(basename(root)),
          weftSpec: opts.weftSpec ?? `^${weft.version}`,
        });
        const taken = Object.keys(files).filter((file) => existsSync(join(root, file)));
        if (taken.length > 0) {
          throw new Error(
            `${root} already holds ${taken.join(", ")}: weft init writes only files that do not exist yet`,
          );
        }
        for (const [file, text] of Object.entries(files)) {
          mkdirSync(dirname(join(root, file)), { recursive: true });
          writeFileSync(join(root, file), text);
        }
        process.stdout.write(`Created ${Object.keys(files).join(", ")} in ${root}\n`);
        if (opts.install) install(root);
        process.stdout.write(nextSteps(root, opts.install));
      } catch (err) {
        fail(err);
      }
    });
}

/** The files of a new project, by path relative to its directory. */
export function scaffold(options: ScaffoldOptions): Record<string, string> {
  const example = (file: string) => readFileSync(join(packageRoot(), "examples", file), "utf8");
  const manifest = {
    name: options.name,
    version: "0.1.0",
    private: true,
    description: "Durable workflows on Weft",
    scripts: {
      dev: `${DEV_WAITS} weft dev ${MODULE}`,
      start: `weft start ${MODULE} --roles api,projector,decider,worker`,
      test: "tsc --noEmit && node --import tsx --test workflows/*.test.ts",
      typecheck: "tsc --noEmit",
    },
    engines: { node: ">=20.19" },
    dependencies: { [weftPackage().name]: options.weftSpec },
    devDependencies: { "@types/node": "^20.19.0", tsx: "^4.23.15", typescript: "^5.9.3" },
    // The install scripts npm is to run (newer npm runs a dependency's only when allowed):
    // SQLite's native module (embedded mode's read models), the TypeScript loader's esbuild,
    // and msgpackr's native extension.
    allowScripts: { "better-sqlite3": true, esbuild: true, "msgpackr-extract": true },
  };
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "node16",
      moduleResolution: "node16",
      lib: ["ES2022"],
      types: ["node"],
      strict: true,
      noUncheckedIndexedAccess: true,
      esModuleInterop: true,
      forceConsistentCasingInFileNames: true,
      outDir: "dist",
    },
    include: ["workflows"],
  };
  return {
    "package.json": `${JSON.stringify(manifest, null, 2)}\n`,
    "tsconfig.json": `${JSON.stringify(tsconfig, null, 2)}\n`,
    ".gitignore": "node_modules/\ndist/\n.weft/\n",
    "README.md": readme(options.name),
    [MODULE]:
      "// The module `weft dev` and `weft start` host: export (or re-export) every workflow and step.\n" +
      'export * from "./signup";\n',
    "workflows/signup.ts": example("signup.ts"),
    "workflows/signup.test.ts": example("signup.test.ts"),
  };
}

/** A valid npm package name from a directory's name. */
export function packageName(dir: string): string {
  const name = dir
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[._-]+/, "")
    .slice(0, 214);
  return name || "weft-app";
}

function install(root: string): void {
  process.stdout.write("Running npm install…\n");
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["install"], {
    cwd: root,
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (result.status !== 0) {
    throw new Error(
      `npm install in ${root} failed (${result.error?.message ?? `exit ${result.status}`}); the files are written: run it again there`,
    );
  }
}

function nextSteps(root: string, installed: boolean): string {
  const cd = relative(process.cwd(), root);
  return [
    "",
    "Next:",
    ...(cd ? [`  cd ${cd}`] : []),
    ...(installed ? [] : ["  npm install"]),
    "  npm run dev     # every Weft role in one process; dashboard at http://127.0.0.1:8080/",
    "  npm test        # type-check, then the workflow's tests on virtual time",
    "and in another terminal (npm run dev says the same, and what the example waits for):",
    `  ID=$(npx weft workflow start userSignupFlow --input '{"email":"ada@example.com"}')`,
    "  npx weft workflow signal $ID confirmed '{}'   # within 20 s (a 5 s wait, then 15 s), or a reminder goes out",
    "  npx weft workflow wait $ID",
    "",
  ].join("\n");
}

function readme(name: string): string {
  return `# ${name}

Durable workflows on [Weft](https://www.npmjs.com/package/${weftPackage().name}).

- \`npm run dev\`: every Weft role in one process with no servers (state in \`.weft/\`), hosting
  what \`workflows/index.ts\` exports; GraphQL and the dashboard at http://127.0.0.1:8080/
  (\`PORT\` to change). The example's hour-long wait is 5 s there
  (\`WEFT_EXAMPLE_WAIT_MS\`), its day-long confirmation timeout 15 s
  (\`WEFT_EXAMPLE_CONFIRM_TIMEOUT_MS\`).
- \`ID=$(npx weft workflow start userSignupFlow --input '{"email":"ada@example.com"}')\`: start
  a run (the command prints its workflow ID alone); \`npx weft workflow signal $ID confirmed '{}'\`
  confirms it, \`npx weft workflow wait $ID\` waits for its result: \`{"sent":true,"confirmed":true}\`,
  or \`"confirmed":false\` when no confirmation came within the 15 s (a reminder went out).
- \`npm test\`: type-check, then \`workflows/*.test.ts\` on Weft's test kit (virtual time).
- \`npm start\`: the same roles on Kafka, PostgreSQL and Redis (\`KAFKA_BROKERS\`,
  \`DATABASE_URL\`, \`REDIS_URL\`).
`;
}
