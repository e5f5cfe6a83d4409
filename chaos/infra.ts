/**
 * The servers the chaos suite runs on, through infra/infra.sh: the three-broker Kafka cluster
 * (started, broker-killed and restarted here), PostgreSQL and Redis. WEFT_INFRA_DIR and
 * WEFT_CLUSTER_BASE_PORT pass through to infra.sh, so a run can use a cluster of its own.
 */
import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./paths";

const INFRA = join(ROOT, "infra", "infra.sh");
const run = promisify(execFile);

export interface Servers {
  /** host:port of the three cluster brokers. */
  readonly kafkaBrokers: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
}

function infraSync(args: string[]): string {
  return execFileSync("bash", [INFRA, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 600_000,
  });
}

/**
 * Starts the cluster, and PostgreSQL and Redis unless DATABASE_URL and REDIS_URL already name
 * running ones (as on a machine whose services are shared).
 */
export function startServers(log: (line: string) => void): Servers {
  log("starting the three-broker Kafka cluster (infra.sh up --cluster)");
  infraSync(["up", "--cluster"]);
  const given = process.env.DATABASE_URL && process.env.REDIS_URL;
  if (given) log("PostgreSQL and Redis: using DATABASE_URL and REDIS_URL as given");
  else {
    log("starting PostgreSQL and Redis (infra.sh up --only postgres,redis)");
    infraSync(["up", "--only", "postgres,redis"]);
  }
  const env = parseEnv(infraSync(["env"]));
  const kafkaBrokers = env.get("KAFKA_CLUSTER_BROKERS");
  if (!kafkaBrokers) throw new Error("infra.sh env printed no KAFKA_CLUSTER_BROKERS");
  return {
    kafkaBrokers,
    databaseUrl: (given ? process.env.DATABASE_URL : env.get("DATABASE_URL")) ?? "",
    redisUrl: (given ? process.env.REDIS_URL : env.get("REDIS_URL")) ?? "",
  };
}

function parseEnv(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) out.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return out;
}

/** kill -9 of cluster broker n (1..3). */
export async function brokerKill(n: number): Promise<void> {
  await run("bash", [INFRA, "broker-kill", String(n)], { timeout: 60_000 });
}

/** Restarts cluster broker n and resolves once it is ready. */
export async function brokerStart(n: number): Promise<void> {
  await run("bash", [INFRA, "broker-start", String(n)], { timeout: 300_000 });
}

export function clusterDown(): void {
  infraSync(["down", "--cluster"]);
}
