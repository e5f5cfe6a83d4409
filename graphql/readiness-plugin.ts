import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { checkSchema, loadMigrations, migrationsDir } from "../projections/migrate";
import type { ReadModelDb } from "../projections/read-model-db";
import type { KafkaPort, PortAdmin } from "../transport/port";

export const READINESS_CHECKS = ["kafka", "postgres", "redis", "migrations"] as const;
export type ReadinessCheck = (typeof READINESS_CHECKS)[number];

export interface CheckResult {
  ok: boolean;
  /** How long the check took. */
  ms: number;
  /** Why it failed. */
  error?: string;
}

export interface ReadinessPluginOptions {
  /** The read models. */
  db: ReadModelDb;
  /**
   * The transport: a broker, or the embedded log in embedded mode (its check is still named
   * "kafka"). Without it the kafka check fails ("not configured").
   */
  kafka?: KafkaPort;
  /**
   * Without it the redis check fails ("not configured"); `null`: the installation has no Redis
   * (embedded mode) and there is no redis check.
   */
  redis?: Redis | null;
  /** Bound of each check; default 2000 ms. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 2000;

/**
 * `/readyz`: 200 `{ ready: true, checks }` only when Kafka lists its topics, PostgreSQL answers
 * a `SELECT 1`, Redis a `PING` (unless the installation has none), and the read-model schema is the one this Weft
 * knows; otherwise 503 with `failed` naming the checks that did not pass. The checks run in
 * parallel, each bounded by `timeoutMs`, so the answer never hangs.
 */
export function readinessPlugin(
  app: FastifyInstance,
  options: ReadinessPluginOptions,
  done: (err?: Error) => void,
): void {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const migrations = loadMigrations(migrationsDir(options.db.dialect.name));
  const kafka = options.kafka ? new KafkaProbe(options.kafka) : undefined;
  const { db, redis } = options;
  const names = READINESS_CHECKS.filter((name) => name !== "redis" || redis !== null);
  const checks: Record<ReadinessCheck, () => Promise<unknown>> = {
    kafka: () => (kafka ? kafka.describe() : notConfigured("Kafka")),
    postgres: () => db.query("SELECT 1"),
    redis: () => (redis ? redis.ping() : notConfigured("Redis")),
    migrations: () => checkSchema(db, migrations),
  };

  app.get("/readyz", async (_request, reply) => {
    const results = await Promise.all(
      names.map(async (name) => [name, await timed(checks[name], timeoutMs)] as const),
    );
    const failed = results.filter(([, r]) => !r.ok).map(([name]) => name);
    const body = {
      ready: failed.length === 0,
      checks: Object.fromEntries(results) as Record<ReadinessCheck, CheckResult>,
      ...(failed.length > 0 ? { failed } : {}),
    };
    if (failed.length > 0) app.log.warn({ failed, checks: body.checks }, "not ready");
    return reply.code(failed.length === 0 ? 200 : 503).send(body);
  });
  app.addHook("onClose", async () => {
    await kafka?.close();
  });
  done();
}

/** One admin client, connected on first use and kept. */
class KafkaProbe {
  private readonly admin: PortAdmin;
  private connecting: Promise<void> | undefined;

  constructor(kafka: KafkaPort) {
    this.admin = kafka.admin();
  }

  async describe(): Promise<unknown> {
    this.connecting ??= this.admin.connect().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    await this.connecting;
    return this.admin.listTopics();
  }

  async close(): Promise<void> {
    await this.connecting?.catch(() => undefined);
    await this.admin.disconnect();
  }
}

function notConfigured(what: string): Promise<never> {
  return Promise.reject(new Error(`no ${what} client was given to the API server`));
}

async function timed(check: () => Promise<unknown>, timeoutMs: number): Promise<CheckResult> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([Promise.resolve().then(check), deadline]);
    return { ok: true, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, ms: Date.now() - started, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
