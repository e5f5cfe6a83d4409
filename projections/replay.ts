import type { Pool } from "pg";
import type { WeftConfig } from "../core/config";
import { createLogger, type Logger } from "../core/logger";
import { createPool, inTransaction } from "./database";
import { checkSchema } from "./migrate";
import { OFFSETS_TABLE, READ_MODEL_TABLES } from "./read-model-tables";

export interface ReplayOptions {
  /** A pool on the database; by default one is opened on `config.databaseUrl` and closed. */
  pool?: Pool;
  logger?: Logger;
}

/**
 * Empties every read-model table and the projector offsets in one transaction, so projectors
 * rebuild the read models from offset 0 of the topics they read. Projectors may keep running:
 * the TRUNCATE waits for their transaction in flight, and each then finds its stored offset
 * back at 0 and reads again from there (see Projector). Readers see the tables empty, then
 * filling up.
 */
export async function replayProjections(
  config: WeftConfig,
  options: ReplayOptions = {},
): Promise<void> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const pool = options.pool ?? createPool(config, logger, { max: 1 });
  try {
    await checkSchema(pool);
    const tables = [...READ_MODEL_TABLES.map((t) => t.name), OFFSETS_TABLE];
    await inTransaction(pool, async (client) => {
      await client.query(`TRUNCATE ${tables.join(", ")}`);
    });
    logger.info({ tables }, "read models emptied; projectors rebuild them from offset 0");
  } finally {
    if (!options.pool) await pool.end();
  }
}
