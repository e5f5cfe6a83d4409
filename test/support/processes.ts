import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import type { WeftConfig } from "../../core/config";

export interface RoleProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  /** Still running: it has not exited (nor been killed). */
  alive(): boolean;
  /** Real crash: SIGKILL, no cleanup. */
  kill9(): Promise<void>;
  /** Graceful stop: SIGTERM, drains. */
  stop(): Promise<void>;
}

const ROOT = join(__dirname, "..", "..");

/** Starts test/support/role-process.ts as a child and waits until it says READY. */
export function spawnRoles(
  config: WeftConfig,
  roles: string,
  env: Record<string, string> = {},
  readyTimeoutMs = 60_000,
): Promise<RoleProcess> {
  return spawnSupport("role-process", config, { WEFT_ROLES: roles, ...env }, readyTimeoutMs);
}

/**
 * Starts test/support/role-process.ts as a child and returns at once, without waiting for it
 * to say READY: for roles started while a dependency is down.
 */
export function spawnRolesStarting(
  config: WeftConfig,
  roles: string,
  env: Record<string, string> = {},
): Promise<RoleProcess> {
  return spawnSupport("role-process", config, { WEFT_ROLES: roles, ...env }, 0);
}

/** Runs `body`; when it fails, the error carries the last lines each child printed. */
export async function explainedBy<T>(
  children: readonly RoleProcess[],
  body: () => Promise<T>,
): Promise<T> {
  try {
    return await body();
  } catch (err) {
    const tails = children.map(
      (c) =>
        `--- child ${c.pid} (${c.alive() ? "running" : "exited"}):\n${c.output().slice(-4000)}`,
    );
    (err as Error).message += `\n${tails.join("\n")}`;
    throw err;
  }
}

/**
 * Starts test/support/embedded-process.ts on `dir` as a child and waits until it says READY:
 * an embedded Weft, with no Kafka and no Redis.
 */
export function spawnEmbedded(
  config: WeftConfig,
  dir: string,
  env: Record<string, string> = {},
  readyTimeoutMs = 60_000,
): Promise<RoleProcess> {
  return spawnSupport(
    "embedded-process",
    config,
    { WEFT_EMBEDDED_DIR: dir, ...env },
    readyTimeoutMs,
  );
}

async function spawnSupport(
  name: string,
  config: WeftConfig,
  env: Record<string, string>,
  readyTimeoutMs: number,
): Promise<RoleProcess> {
  // Compiled (the benchmark runs from dist/): plain node; from sources (the tests): through tsx.
  const compiled = __filename.endsWith(".js");
  const entry = join(__dirname, compiled ? `${name}.js` : `${name}.ts`);
  const child = spawn(process.execPath, compiled ? [entry] : ["--import", "tsx", entry], {
    cwd: ROOT,
    env: {
      ...process.env,
      KAFKA_BROKERS: config.kafkaBrokers.join(","),
      REDIS_URL: config.redisUrl,
      WEFT_TOPIC_PREFIX: config.topicPrefix,
      WEFT_COMMAND_PARTITIONS: String(config.commandPartitions),
      WEFT_TASK_PARTITIONS: String(config.taskPartitions),
      WEFT_DECIDER_LINGER_MS: String(config.deciderLingerMs),
      WEFT_EXECUTION_CACHE_SIZE: String(config.executionCacheSize),
      ...(config.replicationFactor === undefined
        ? {}
        : { WEFT_REPLICATION_FACTOR: String(config.replicationFactor) }),
      WEFT_LOG_LEVEL: process.env.WEFT_TEST_LOG_LEVEL ?? "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  // For diagnosing a benchmark or a failed run afterwards: each child's output in a file.
  const logDir = process.env.WEFT_ROLE_LOG_DIR;
  if (logDir) {
    const file = createWriteStream(
      join(logDir, `${name}-${env.WEFT_ROLES ?? ""}-${child.pid}.log`),
    );
    child.stdout.pipe(file, { end: false });
    child.stderr.pipe(file, { end: false });
    child.once("exit", () => file.end());
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  // 0: the caller does not wait for READY.
  await new Promise<void>((resolve, reject) => {
    if (readyTimeoutMs === 0) {
      resolve();
      return;
    }
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready in ${readyTimeoutMs} ms:\n${out}`)),
      readyTimeoutMs,
    );
    const onData = () => {
      if (out.includes("READY")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before ready:\n${out}`));
    });
  });
  return {
    pid: child.pid!,
    child,
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    async kill9() {
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      await exited;
    },
  };
}
