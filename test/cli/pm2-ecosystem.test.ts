/**
 * examples/pm2/ecosystem.config.cjs, held to Weft (PM2 itself is not installed here): its apps
 * run `weft start` through the package's bin with valid roles covering all four, stop within
 * Weft's drain, never share a metrics port; and `weft start` keeps PM2's side of the contract
 * — forked with an IPC channel as PM2 forks it, it sends "ready" once its roles run and drains
 * on SIGINT, PM2's stop signal.
 */
import { execFileSync, fork } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { DEFAULT_DRAIN_TIMEOUT_MS } from "../../cli/supervisor/supervisor";
import { ROLES } from "../../sdk/roles";
import { WORKER_DRAIN_MS } from "../../workers/drain";
import { isolatedConfig } from "../support/env";

interface Pm2App {
  name: string;
  script: string;
  args: string[];
  exec_mode: "fork" | "cluster";
  instances: number;
  wait_ready: boolean;
  listen_timeout: number;
  kill_timeout: number;
  env: Record<string, string>;
}

const ROOT = join(__dirname, "..", "..");
const load = createRequire(__filename);
const ECOSYSTEM = join(ROOT, "examples", "pm2", "ecosystem.config.cjs");
const { apps } = load(ECOSYSTEM) as { apps: Pm2App[] };
const pkg = load("../../package.json") as { name: string; bin: { weft: string } };

const rolesOf = (app: Pm2App) => app.args[app.args.indexOf("--roles") + 1]!.split(",");

it("runs every role with `weft start` through the package's bin, one app per role set", () => {
  expect(new Set(apps.map((a) => a.name)).size).toBe(apps.length);
  for (const app of apps) {
    expect(app.script).toBe(`./node_modules/${pkg.name}/${pkg.bin.weft}`);
    expect(app.args[0]).toBe("start");
    for (const role of rolesOf(app)) expect(ROLES).toContain(role);
    // Roles that host definitions are given the module that exports them.
    if (rolesOf(app).some((r) => r === "decider" || r === "worker")) {
      expect(app.args[1]).toMatch(/^[^-]/);
    }
  }
  // The trigger role refuses a module without Kafka triggers: its app is there when asked for.
  expect(new Set(apps.flatMap(rolesOf))).toEqual(new Set(ROLES.filter((r) => r !== "trigger")));
  // Read as PM2 reads it, in a process of its own, with the variable set.
  const withTriggers = (
    JSON.parse(
      execFileSync(
        process.execPath,
        ["-e", "console.log(JSON.stringify(require(process.argv[1])))", ECOSYSTEM],
        { env: { ...process.env, WEFT_KAFKA_TRIGGERS: "1" }, encoding: "utf8" },
      ),
    ) as { apps: Pm2App[] }
  ).apps;
  expect(new Set(withTriggers.flatMap(rolesOf))).toEqual(new Set(ROLES));
  const trigger = withTriggers.find((a) => rolesOf(a).includes("trigger"))!;
  expect(trigger.args[1]).toMatch(/^[^-]/);
});

it("gives each app Weft's drain before PM2's SIGKILL, and waits for its ready message", () => {
  expect(DEFAULT_DRAIN_TIMEOUT_MS).toBeGreaterThan(WORKER_DRAIN_MS);
  for (const app of apps) {
    expect(app.kill_timeout).toBe(DEFAULT_DRAIN_TIMEOUT_MS);
    expect(app.wait_ready).toBe(true);
    expect(app.listen_timeout).toBeGreaterThanOrEqual(30_000);
  }
});

it("shares the API port through cluster mode and gives every other process a metrics port", () => {
  const api = apps.filter((a) => rolesOf(a).includes("api"));
  expect(api).toHaveLength(1);
  expect(api[0]).toMatchObject({ exec_mode: "cluster", env: { PORT: expect.any(String) } });
  expect(api[0]!.instances).toBeGreaterThanOrEqual(2);
  const others = apps.filter((a) => !rolesOf(a).includes("api"));
  for (const app of others) expect(app).toMatchObject({ exec_mode: "fork", instances: 1 });
  const ports = others.map((a) => Number(a.env.WEFT_METRICS_PORT));
  for (const port of ports) expect(Number.isInteger(port) && port > 0).toBe(true);
  expect(new Set(ports).size).toBe(ports.length);
});

it("weft start, forked with an IPC channel as PM2 does, says ready and drains on SIGINT", async () => {
  const config = isolatedConfig();
  const child = fork(
    join(ROOT, "bin", "weft.js"),
    ["start", "test/fixtures/dev-module.ts", "--roles", "decider,worker"],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        KAFKA_BROKERS: config.kafkaBrokers.join(","),
        REDIS_URL: config.redisUrl,
        WEFT_TOPIC_PREFIX: config.topicPrefix,
        WEFT_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    },
  );
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  try {
    const first = await Promise.race([
      new Promise<unknown>((resolve) => child.once("message", resolve)),
      exited.then((code) => {
        throw new Error(`weft start exited (${code}) before ready:\n${output}`);
      }),
    ]);
    expect(first).toBe("ready");
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});
