/**
 * A process loads the code of the roles it plays and no other: a role restarted after a crash
 * compiles only what it runs, and on a busy machine that is most of its time to ready. Each
 * case starts `weft start` as an operator does (bin/weft.js, the real broker, Redis and
 * PostgreSQL), stops it with SIGTERM once it is running, and reads the modules it loaded
 * (test/fixtures/loaded-modules.cjs writes them at exit).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isolatedConfig } from "../support/env";
import { createTestSchema, type TestSchema } from "../support/postgres";

const ROOT = join(__dirname, "..", "..");
const PRELOAD = join(__dirname, "..", "fixtures", "loaded-modules.cjs");
const MODULE = join("test", "fixtures", "dev-module.ts");
const dir = mkdtempSync(join(tmpdir(), "weft-role-modules-"));

/** Module paths that belong to one part of Weft or one heavy dependency. */
const PARTS = {
  decider: /\/deciders\/decider\.[jt]s$/,
  worker: /\/workers\/worker\.[jt]s$/,
  api: /\/graphql\/api-role\.[jt]s$/,
  httpStack: /\/node_modules\/(fastify|mercurius|graphql)\//,
  readModels: /\/projections\/read-model-db\.[jt]s$|\/node_modules\/kysely\//,
  embedded: /\/adapters\/embedded\/|\/node_modules\/better-sqlite3\//,
  otherCommands: /\/cli\/replay\/history-source\.[jt]s$|\/cli\/run-events\.[jt]s$/,
  kafka: /\/node_modules\/kafkajs\//,
} as const;
type Part = keyof typeof PARTS;

let db: TestSchema;
beforeAll(async () => {
  db = await createTestSchema();
});
afterAll(async () => {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

function partsIn(modules: readonly string[]): Set<Part> {
  const loaded = new Set<Part>();
  for (const part of Object.keys(PARTS) as Part[])
    if (modules.some((m) => PARTS[part].test(m))) loaded.add(part);
  return loaded;
}

/** Runs `weft start MODULE --roles <roles>` until it is running; the parts it loaded. */
async function partsLoaded(roles: string): Promise<Set<Part>> {
  const config = isolatedConfig();
  const file = join(dir, `${roles.replace(/,/g, "-")}.txt`);
  const child = spawn(
    process.execPath,
    ["--require", PRELOAD, join(ROOT, "bin", "weft.js"), "start", MODULE, "--roles", roles],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        KAFKA_BROKERS: config.kafkaBrokers.join(","),
        REDIS_URL: config.redisUrl,
        DATABASE_URL: db.databaseUrl,
        WEFT_TOPIC_PREFIX: config.topicPrefix,
        PORT: "0",
        LOADED_MODULES_FILE: file,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.includes("Weft is running")) resolve();
    });
    void exited.then((code) => reject(new Error(`weft start exited (${code}):\n${err}`)));
  });
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  return partsIn(readFileSync(file, "utf8").split("\n"));
}

test("a decider and worker process loads neither the API, the read models, embedded mode nor another command", async () => {
  expect(await partsLoaded("decider,worker")).toEqual(new Set(["decider", "worker", "kafka"]));
});

test("a decider process loads no worker, and a worker process no decider", async () => {
  expect(await partsLoaded("decider")).toEqual(new Set(["decider", "kafka"]));
  expect(await partsLoaded("worker")).toEqual(new Set(["worker", "kafka"]));
});

test("an API process loads the HTTP stack and the read models, and no decider or worker", async () => {
  expect(await partsLoaded("api")).toEqual(new Set(["api", "httpStack", "readModels", "kafka"]));
});

test("importing the package, as a module of workflows does, loads no role: only the client's Kafka", () => {
  const out = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--eval",
      `require("./sdk/index.ts"); console.log(JSON.stringify(Object.keys(require.cache)));`,
    ],
    { cwd: ROOT, encoding: "utf8" },
  );
  expect(out.stderr).toBe("");
  const modules = JSON.parse(out.stdout) as string[];
  expect(modules.some((m) => m.endsWith("/sdk/index.ts"))).toBe(true);
  // The package's client (WeftClient) talks to Kafka: that much a module of workflows loads.
  expect(partsIn(modules)).toEqual(new Set(["kafka"]));
});

test("a command that needs no role, such as weft --version, loads none and no Kafka client", () => {
  const file = join(dir, "version.txt");
  const out = spawnSync(
    process.execPath,
    ["--require", PRELOAD, join(ROOT, "bin", "weft.js"), "--version"],
    { cwd: ROOT, encoding: "utf8", env: { ...process.env, LOADED_MODULES_FILE: file } },
  );
  expect(out.status).toBe(0);
  expect(out.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  expect(partsIn(readFileSync(file, "utf8").split("\n"))).toEqual(new Set());
});
