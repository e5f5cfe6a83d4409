import type { Command } from "commander";
import { loadConfig } from "../../core/config";
import { createLogger } from "../../core/logger";
import type * as Database from "../../projections/database";
import type * as ReadModelDb from "../../projections/read-model-db";
import type * as Migrate from "../../projections/migrate";
import type * as MigrationLock from "../../adapters/redis/migration-lock";
import type * as Replay from "../../projections/replay";
import { fail, print } from "../output";
import { registerReplayWorkflows } from "./replay-workflows";

export function registerProjections(program: Command): void {
  program
    .command("migrate")
    .description(
      "apply the pending PostgreSQL migrations of the read models (DATABASE_URL), under a Redis lock (REDIS_URL) and a PostgreSQL advisory lock; safe to run from several processes at once",
    )
    .option(
      "--lock-timeout <ms>",
      "how long to wait for another process that is migrating",
      "60000",
    )
    .option("--json", "print JSON")
    .action(async (opts: { lockTimeout: string; json?: boolean }) => {
      try {
        const config = loadConfig();
        const logger = createLogger(config.logLevel);
        const { openReadModelDb, migrate, redact, RedisMigrationLock, withMigrationRedis } =
          loadReadModels();
        const db = openReadModelDb(config, logger, { max: 1 });
        try {
          // The summary below says what was applied; stdout stays clean for --json.
          const lockTimeoutMs = Number(opts.lockTimeout);
          // A SQLite file has one writer at a time (BEGIN IMMEDIATE): no Redis lock needed.
          const { version, applied } =
            db.dialect.name === "sqlite"
              ? await migrate(db, { lockTimeoutMs })
              : await withMigrationRedis(config.redisUrl, logger, (redis) =>
                  migrate(db, {
                    lockTimeoutMs,
                    lock: new RedisMigrationLock(redis, config, logger),
                  }),
                );
          print({ version, applied: applied.map((m) => m.file) }, opts, () =>
            applied.length > 0
              ? `applied ${applied.map((m) => m.file).join(", ")}; ${redact(config.databaseUrl)} is at schema version ${version}`
              : `${redact(config.databaseUrl)} is at schema version ${version}: nothing to apply`,
          );
        } finally {
          await db.close();
        }
      } catch (err) {
        fail(err);
      }
    });

  const replay = program
    .command("replay")
    .description(
      "rebuild state derived from history (projections), or check new workflow code against it (workflows)",
    );
  registerReplayWorkflows(replay);
  replay
    .command("projections")
    .description(
      "empty the read-model tables and the projector offsets; projectors (running or next started) rebuild them from offset 0",
    )
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      try {
        const config = loadConfig();
        await loadReadModels().replayProjections(config, {
          logger: createLogger(config.logLevel),
        });
        print(
          { emptied: true },
          opts,
          () => "read models emptied; projectors are rebuilding them from offset 0",
        );
      } catch (err) {
        fail(err);
      }
    });
}

/** The read models' code, loaded when a command here runs: `weft start` loads only its own. */
function loadReadModels(): typeof Database &
  typeof ReadModelDb &
  typeof Migrate &
  typeof MigrationLock &
  typeof Replay {
  /* eslint-disable @typescript-eslint/no-require-imports */
  return {
    ...(require("../../projections/database") as typeof Database),
    ...(require("../../projections/read-model-db") as typeof ReadModelDb),
    ...(require("../../projections/migrate") as typeof Migrate),
    ...(require("../../adapters/redis/migration-lock") as typeof MigrationLock),
    ...(require("../../projections/replay") as typeof Replay),
  };
  /* eslint-enable @typescript-eslint/no-require-imports */
}
