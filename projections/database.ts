import { Pool, type QueryResultRow } from "pg";
import type { WeftConfig } from "../core/config";
import { ConfigError } from "../core/errors";
import type { Logger } from "../core/logger";

/** What the read-model statements need of a connection: a pool or a client in a transaction. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

export interface PoolOptions {
  /** Connections at most; a projector uses one per partition it projects at once. */
  max?: number;
  applicationName?: string;
}

/**
 * A pg pool on `DATABASE_URL`. The URL is checked here, before anything connects. Tests point
 * at a schema of their own with `?options=-c%20search_path%3D<schema>` in the URL.
 */
export function createPool(config: WeftConfig, logger: Logger, options: PoolOptions = {}): Pool {
  assertDatabaseUrl(config.databaseUrl);
  const pool = new Pool({
    connectionString: config.databaseUrl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? `weft ${config.clientId}`,
    connectionTimeoutMillis: 10_000,
  });
  const log = logger.child({ component: "postgres" });
  // An idle connection that fails (server restart) must not crash the process; the pool replaces it.
  pool.on("error", (err) => log.warn({ err }, "idle PostgreSQL connection failed"));
  return pool;
}

/** Where the read models live, from `DATABASE_URL`. */
export type DatabaseTarget =
  { dialect: "postgres"; url: string } | { dialect: "sqlite"; file: string };

/**
 * `postgres://user:password@host:port/database` (or `postgresql://`) is PostgreSQL;
 * `sqlite:/path/to/file.db` (a relative `sqlite:file.db` too, or `sqlite::memory:`) is SQLite.
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith("sqlite:")) {
    const file = decodeURIComponent(url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, ""));
    if (file.length === 0) {
      throw new ConfigError(
        `DATABASE_URL sqlite: must name a file (sqlite:/path/to/weft.db or sqlite::memory:), got ${JSON.stringify(url)}`,
      );
    }
    return { dialect: "sqlite", file };
  }
  assertDatabaseUrl(url);
  return { dialect: "postgres", url };
}

function assertDatabaseUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:")) {
    throw new ConfigError(
      `DATABASE_URL must be a postgres://user:password@host:port/database or sqlite:/path/to/file.db URL, got ${JSON.stringify(redact(url))}`,
    );
  }
  if (parsed.pathname.length <= 1) {
    throw new ConfigError(
      `DATABASE_URL must name a database (postgres://user:password@host:port/database), got ${JSON.stringify(redact(url))}`,
    );
  }
}

/** The URL without its password, for messages and logs. */
export function redact(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, "$1***@");
}
