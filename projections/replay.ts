import type { Pool } from "pg";
import type { WeftConfig } from "../core/config";
import { createLogger, type Logger } from "../core/logger";
import { checkSchema } from "./migrate";
import { asReadModelDb, openReadModelDb, type ReadModelDb } from "./read-model-db";
import { OFFSETS_TABLE, READ_MODEL_TABLES } from "./read-model-tables";

export interface ReplayOptions {
  /** The read models; by default they are opened on `config.databaseUrl` and closed. */
  pool?: Pool | ReadModelDb;
  logger?: Logger;
}

/**
 * Empties every read-model table and the projector offsets in one transaction, so projectors
 * rebuild the read models from offset 0 of the topics they read. Projectors may keep running:
 * the TRUNCATE (a DELETE per table on SQLite) waits for their transaction in flight, and each
 * then finds its stored offset back at 0 and reads again from there (see Projector). Readers
 * see the tables empty, then filling up.
 */
export async function replayProjections(
  config: WeftConfig,
  options: ReplayOptions = {},
): Promise<void> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const db = options.pool
    ? asReadModelDb(options.pool)
    : openReadModelDb(config, logger, { max: 1 });
  try {
    await checkSchema(db);
    const tables = await db.transaction((tx) => emptyReadModels(tx));
    logger.info({ tables }, "read models emptied; projectors rebuild them from offset 0");
  } finally {
    if (!options.pool) await db.close();
  }
}

/**
 * Empties every read-model table and the projector offsets, in the caller's transaction;
 * returns the tables emptied.
 */
export async function emptyReadModels(tx: ReadModelDb): Promise<string[]> {
  const tables = [...READ_MODEL_TABLES.map((t) => t.name), OFFSETS_TABLE];
  for (const statement of tx.dialect.emptyTables(tables)) await statement.execute(tx.db);
  return tables;
}
