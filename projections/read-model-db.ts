import type Database from "better-sqlite3";
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  type Generated,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type Transaction,
  type UnknownRow,
} from "kysely";
import type { Pool, QueryResultRow } from "pg";
import type { WeftConfig } from "../core/config";
import type { Logger } from "../core/logger";
import { createPool, parseDatabaseUrl, type PoolOptions, type Queryable } from "./database";
import {
  describePostgres,
  describeSqlite,
  nameDatabase,
  sqliteStartError,
} from "./database-errors";
import { DIALECTS, type ReadModelDialect } from "./dialect";
import { NamingDialect } from "./naming-dialect";
import type { ProcessRow } from "./rows";

/**
 * The read-model tables as Kysely sees them, with the types rows are read back as (pg's on
 * PostgreSQL; SqliteRowsPlugin gives the same on SQLite). bigint columns read as text on
 * PostgreSQL and as numbers on SQLite: readers pass them through Number().
 */
export interface ReadModelTables {
  weft_runs: {
    workflow_id: string;
    workflow_type: string;
    status: string;
    input: unknown;
    result: unknown;
    error: unknown;
    idempotency_key: string | null;
    blocked_code: string | null;
    blocked_reason: string | null;
    waiting_on: unknown;
    buffered_signals: unknown;
    started_at: Date;
    closed_at: Date | null;
    last_seq: number;
    updated_at: Date;
    run_number: number;
    run_start_seq: number;
    state: unknown;
    definition_hash: string | null;
    parent_workflow_id: string | null;
  };
  weft_events: { workflow_id: string; seq: number; type: string; at: Date; body: unknown };
  weft_step_attempts: {
    workflow_id: string;
    step_seq: number;
    attempt: number;
    step_name: string;
    task_queue: string;
    status: string;
    worker_id: string | null;
    timeout_ms: number | null;
    scheduled_at: Date;
    started_at: Date | null;
    finished_at: Date | null;
    duration_ms: string | number | null;
    error: unknown;
    result: unknown;
  };
  /** One attempt's step log lines (see migrations/0006_step_logs.sql). */
  weft_step_logs: {
    workflow_id: string;
    step_seq: number;
    attempt: number;
    step_name: string;
    worker_id: string;
    at: Date;
    lines: unknown;
    dropped: number;
  };
  weft_timers: {
    workflow_id: string;
    kind: string;
    seq: number;
    attempt: number;
    due_at: Date;
    fired_at: Date | null;
    status: string;
  };
  weft_signals: {
    workflow_id: string;
    seq: number;
    name: string;
    payload: unknown;
    request_id: string | null;
    received_at: Date;
    wait_seq: number | null;
  };
  weft_projector_offsets: {
    consumer_group: string;
    topic: string;
    partition: number;
    next_offset: string | number;
  };
  /** Which log the read models were built from (embedded mode); at most one row. */
  weft_projected_log: { log_id: string };
  weft_definitions: {
    kind: "workflow" | "step";
    name: string;
    hash: string;
    task_queue: string | null;
    retry: unknown;
    timeout_ms: string | number | null;
    first_seen: Date;
    last_seen: Date;
  };
  /** The projector's `ProcessRow`, its times read back as dates. */
  weft_processes: Omit<ProcessRow, "started_at" | "last_seen" | "stopped_at"> & {
    started_at: Date;
    last_seen: Date;
    stopped_at: Date | null;
  };
  weft_schema_migrations: {
    version: number;
    name: string;
    checksum: string;
    applied_at: Generated<Date>;
  };
}

export type ReadModelKysely = Kysely<ReadModelTables>;

/** What only one dialect has: the pg pool, or the SQLite handle (for scripts and pragmas). */
type Backend = (
  { kind: "postgres"; pool: Pool } | { kind: "sqlite"; sqlite: Database.Database; file: string }
) & { closed: boolean; readonly name: string };

/** Refuses statements once the database was closed (Kysely would quietly reconnect). */
class ClosedGuard implements KyselyPlugin {
  constructor(private readonly backend: { closed: boolean }) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (this.backend.closed) throw new Error("the read-model database was closed");
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

/**
 * The read models' database, PostgreSQL or SQLite: a Kysely instance and its dialect helpers
 * (`dialect.ts`). Every writer and query takes one of these; `transaction` hands its callback
 * another, bound to the transaction. It is also a `Queryable` (`query(text, $1…$n values)`)
 * for the few readers outside the read-model code. Its errors name the database (`name`): the
 * SQLite file, or the PostgreSQL server and database (never the password).
 */
export class ReadModelDb implements Queryable {
  private constructor(
    readonly db: Kysely<ReadModelTables>,
    readonly dialect: ReadModelDialect,
    private readonly backend: Backend,
    private readonly ownsBackend: boolean,
  ) {}

  /** Over a pg pool; `close()` ends the pool only when `ownsPool`. */
  static postgres(pool: Pool, ownsPool = false): ReadModelDb {
    const name = describePostgres(pool.options);
    const backend: Backend = { kind: "postgres", pool, closed: false, name };
    const db = new Kysely<ReadModelTables>({
      dialect: new NamingDialect(new PostgresDialect({ pool }), name),
      plugins: [new ClosedGuard(backend)],
    });
    return new ReadModelDb(db, DIALECTS.postgres, backend, ownsPool);
  }

  /**
   * Over a SQLite file (created if missing; ":memory:" for a private one), in WAL mode. SQLite
   * has one writer: a second process on the same file waits for it (busy_timeout). A file that
   * is not a database, or cannot be opened for writing, is refused here with
   * DatabaseCorruptError or DatabaseNotWritableError naming it (see `assertWritable` for a file
   * that opens but refuses writes).
   */
  static sqlite(file: string): ReadModelDb {
    const name = describeSqlite(file);
    let sqlite: Database.Database | undefined;
    try {
      // The SQLite driver loads where a read model is a SQLite file: a PostgreSQL read model's
      // process never compiles it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const SqliteDatabase = require("better-sqlite3") as typeof Database;
      sqlite = new SqliteDatabase(file);
      // The first read of the file: a file that is not a database fails here.
      sqlite.pragma("journal_mode = WAL");
      sqlite.pragma("synchronous = NORMAL");
      sqlite.pragma("busy_timeout = 10000");
      sqlite.pragma("foreign_keys = OFF");
    } catch (err) {
      if (sqlite?.open) sqlite.close();
      throw sqliteStartError(err, file);
    }
    const backend: Backend = { kind: "sqlite", sqlite, file, closed: false, name };
    const db = new Kysely<ReadModelTables>({
      dialect: new NamingDialect(new SqliteDialect({ database: sqlite }), name),
      plugins: [new ClosedGuard(backend), ...DIALECTS.sqlite.plugins],
    });
    return new ReadModelDb(db, DIALECTS.sqlite, backend, true);
  }

  /**
   * Which database this is, for messages: `SQLite file /path/read-models.db`, or
   * `PostgreSQL database "weft" on host:5432 as weft`.
   */
  get name(): string {
    return this.backend.name;
  }

  /**
   * Checks that the database takes writes, changing nothing: on SQLite a table is created in a
   * transaction that is rolled back, and a refusal (a read-only file or directory, a full disk)
   * or damage is thrown as DatabaseNotWritableError or DatabaseCorruptError naming the file. On
   * PostgreSQL it does nothing: a server that refuses writes now (a standby during a failover)
   * may take them shortly, and the projector waits for it and says so on /readyz.
   *
   * better-sqlite3 waits for SQLite's write lock synchronously, blocking the event loop: call it
   * only where no other connection of this process is in a write transaction (at start, under
   * the migration lock).
   */
  async assertWritable(): Promise<void> {
    const backend = this.backend;
    if (backend.kind !== "sqlite") return;
    // On the connection Kysely hands out, so that no statement of this handle runs in between.
    await this.withConnection(() => {
      try {
        backend.sqlite.exec("BEGIN IMMEDIATE");
        try {
          backend.sqlite.exec("CREATE TABLE weft_write_check (x INTEGER)");
        } finally {
          backend.sqlite.exec("ROLLBACK");
        }
      } catch (err) {
        throw sqliteStartError(err, backend.file);
      }
      return Promise.resolve();
    });
  }

  /** The pg pool, on PostgreSQL. */
  get pool(): Pool | undefined {
    return this.backend.kind === "postgres" ? this.backend.pool : undefined;
  }

  /**
   * Runs `fn` in a transaction: COMMIT when it resolves, ROLLBACK when it throws. On SQLite the
   * one connection is held for the whole transaction (statements of others wait).
   */
  async transaction<T>(fn: (tx: ReadModelDb) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    return this.db
      .transaction()
      .execute((trx: Transaction<ReadModelTables>) =>
        fn(new ReadModelDb(trx, this.dialect, this.backend, false)),
      );
  }

  /**
   * Runs a script of several statements (a migration) on the connection `fn` is given, which
   * nothing else uses meanwhile.
   */
  async withConnection<T>(
    fn: (session: { run: (script: string) => Promise<void>; db: ReadModelDb }) => Promise<T>,
  ): Promise<T> {
    return this.db.connection().execute(async (conn) => {
      const backend = this.backend;
      const session = new ReadModelDb(conn, this.dialect, backend, false);
      return fn({
        db: session,
        run: async (script) => {
          // pg runs a script without parameters as one simple query; better-sqlite3 needs exec.
          if (backend.kind === "sqlite") {
            try {
              backend.sqlite.exec(script);
            } catch (err) {
              throw nameDatabase(err, backend.name);
            }
          } else await conn.executeQuery(CompiledQuery.raw(script, []));
        },
      });
    });
  }

  /** Raw SQL with PostgreSQL's `$1…$n` parameters, on either dialect. */
  async query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<{ rows: R[]; rowCount: number | null }> {
    let compiled = CompiledQuery.raw(text, values);
    if (this.dialect.name === "sqlite") {
      const ordered: unknown[] = [];
      const sqliteText = text.replace(/\$(\d+)(::[a-z[\]]+)?/g, (_m, n: string) => {
        ordered.push(values[Number(n) - 1]);
        return "?";
      });
      compiled = CompiledQuery.raw(sqliteText, ordered);
    }
    const result = await this.db.executeQuery<R>(compiled);
    return { rows: [...result.rows], rowCount: result.rows.length };
  }

  /** Ends the pool or closes the SQLite file, if this instance opened it. */
  async close(): Promise<void> {
    if (!this.ownsBackend || this.backend.closed) return;
    this.backend.closed = true;
    await this.db.destroy();
    // Kysely ends a pool or closes a file only if it ever used them.
    if (this.backend.kind === "sqlite" && this.backend.sqlite.open) this.backend.sqlite.close();
    if (this.backend.kind === "postgres" && !this.backend.pool.ended) await this.backend.pool.end();
  }
}

/**
 * Opens the read models on `DATABASE_URL`: `postgres://…` is PostgreSQL through a pg pool,
 * `sqlite:/path/file.db` (or `sqlite::memory:`) a SQLite file. The URL is checked first.
 */
export function openReadModelDb(
  config: WeftConfig,
  logger: Logger,
  options: PoolOptions = {},
): ReadModelDb {
  const target = parseDatabaseUrl(config.databaseUrl);
  if (target.dialect === "sqlite") return ReadModelDb.sqlite(target.file);
  return ReadModelDb.postgres(createPool(config, logger, options), true);
}

/** A pool given by a caller (`weft migrate`) or a ReadModelDb, as a ReadModelDb. */
export function asReadModelDb(target: Pool | ReadModelDb): ReadModelDb {
  return target instanceof ReadModelDb ? target : ReadModelDb.postgres(target);
}
