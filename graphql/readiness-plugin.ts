import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import {
  describeWait,
  roleCheckJson,
  waitJson,
  type Dependency,
  type Readiness,
} from "../core/readiness";
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
  /** A role's check (`Readiness.check`) adds its code and details, e.g. the projector's. */
  [detail: string]: unknown;
}

export interface ReadinessChecksOptions {
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
  /** What the roles of this process wait for: a wait fails the check of its dependency. */
  readiness?: Readiness;
  /** Bound of each check; default 2000 ms. */
  timeoutMs?: number;
}

export type ReadinessPluginOptions = ReadinessChecksOptions | { checks: ReadinessChecks };

/** What /readyz answers: 200 when `ready`. */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckResult>;
  /**
   * The checks that did not pass: dependencies first, in READINESS_CHECKS order, then the
   * roles' own (e.g. "projector").
   */
  failed?: string[];
  /** Roles of this process whose start has not finished. */
  starting?: string[];
  /** What roles of this process wait for, and why. */
  waiting?: Record<string, unknown>[];
}

const DEFAULT_TIMEOUT_MS = 2000;

/**
 * The checks behind `/readyz`: Kafka lists its topics, PostgreSQL answers a `SELECT 1`, Redis
 * a `PING` (unless the installation has none), and the read-model schema is the one this Weft
 * knows. A dependency's check fails too while a role of the process waits for it (to start,
 * or after a crash), with the role's reason; a role's own check (the projector's, when this
 * process projects) is a check of its own. The checks run in parallel, each bounded by
 * `timeoutMs`, so the answer never hangs. The API role builds one before it listens, so a
 * starting API already answers /readyz.
 */
export class ReadinessChecks {
  private readonly timeoutMs: number;
  private readonly migrations;
  private readonly kafka: KafkaProbe | undefined;
  private readonly names: readonly ReadinessCheck[];
  private readonly checks: Record<ReadinessCheck, () => Promise<unknown>>;

  constructor(private readonly options: ReadinessChecksOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { db, redis } = options;
    this.migrations = loadMigrations(migrationsDir(db.dialect.name));
    const kafka = options.kafka ? new KafkaProbe(options.kafka) : undefined;
    this.kafka = kafka;
    this.names = READINESS_CHECKS.filter((name) => name !== "redis" || redis !== null);
    this.checks = {
      kafka: () => (kafka ? kafka.describe() : notConfigured("Kafka")),
      postgres: () => db.query("SELECT 1"),
      redis: () => (redis ? redis.ping() : notConfigured("Redis")),
      migrations: () => checkSchema(db, this.migrations),
    };
  }

  async report(): Promise<ReadinessReport> {
    const probed = await Promise.all(
      this.names.map(
        async (name) => [name, await timed(this.checks[name], this.timeoutMs)] as const,
      ),
    );
    const checks: Record<string, CheckResult> = Object.fromEntries(probed);
    const snapshot = this.options.readiness?.snapshot();
    for (const wait of snapshot?.waiting ?? []) {
      const check: CheckResult | undefined = checks[wait.dependency satisfies Dependency];
      if (!check) continue;
      const reason = describeWait(wait);
      checks[wait.dependency] = {
        ok: false,
        ms: check.ms,
        error: check.error ? `${check.error}; ${reason}` : reason,
      };
    }
    const roleChecks = Object.entries(snapshot?.checks ?? {});
    for (const [name, check] of roleChecks)
      checks[name] = { ok: check.ok, ms: 0, ...roleCheckJson(check) };
    const failed = [
      ...this.names.filter((name) => !checks[name]?.ok),
      ...roleChecks.filter(([, check]) => !check.ok).map(([name]) => name),
    ];
    const starting = snapshot?.starting ?? [];
    const waiting = snapshot?.waiting ?? [];
    return {
      ready: failed.length === 0 && starting.length === 0,
      checks,
      ...(failed.length > 0 ? { failed } : {}),
      ...(starting.length > 0 ? { starting: [...starting] } : {}),
      ...(waiting.length > 0 ? { waiting: waiting.map(waitJson) } : {}),
    };
  }

  async close(): Promise<void> {
    await this.kafka?.close();
  }
}

/**
 * `/readyz`: 200 `{ ready: true, checks }` when every check passes and no role of the process
 * starts or waits; otherwise 503 with `failed` naming the checks that did not pass (see
 * ReadinessChecks). Checks given by the caller are closed by the caller.
 */
export function readinessPlugin(
  app: FastifyInstance,
  options: ReadinessPluginOptions,
  done: (err?: Error) => void,
): void {
  const given = "checks" in options;
  const checks = given ? options.checks : new ReadinessChecks(options);
  app.get("/readyz", async (_request, reply) => {
    const report = await checks.report();
    if (!report.ready) app.log.warn({ failed: report.failed, checks: report.checks }, "not ready");
    return reply.code(report.ready ? 200 : 503).send(report);
  });
  if (!given) {
    app.addHook("onClose", async () => {
      await checks.close();
    });
  }
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

  /** Does not wait for a connect still retrying against a broker that is down. */
  async close(): Promise<void> {
    const connecting = this.connecting;
    await this.admin.disconnect().catch(() => undefined);
    void connecting?.then(
      () => this.admin.disconnect().catch(() => undefined),
      () => undefined,
    );
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
