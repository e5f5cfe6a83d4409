/**
 * What differs between the read models on PostgreSQL and on SQLite, in one place. Every query
 * and writer is written once with Kysely; where the SQL of the two differs (JSON, arrays, time,
 * case-insensitive matching, minute buckets, locks), it asks the dialect for the fragment.
 *
 * Storage on SQLite: JSON (jsonb on PostgreSQL) and arrays (text[]) are JSON text; times
 * (timestamptz) are epoch milliseconds as integers, so comparing, bucketing and subtracting
 * them is integer arithmetic. Rows read back have the shapes pg gives on PostgreSQL — times as
 * Date, JSON and arrays parsed — through `SqliteRowsPlugin`, which converts by column name
 * (TIME_COLUMNS, JSON_COLUMNS, ARRAY_COLUMNS; a test checks them against the migrations).
 */
import {
  sql,
  type AliasedRawBuilder,
  type Expression,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RawBuilder,
  type RootOperationNode,
  type UnknownRow,
} from "kysely";
import { recordsetJson } from "./sql-json";

export type DialectName = "postgres" | "sqlite";

/** The column types rows travel with (PostgreSQL's names). */
export type ColumnType = "text" | "integer" | "bigint" | "timestamptz" | "jsonb" | "text[]";
export type Columns = Readonly<Record<string, ColumnType>>;

/** Columns that hold times (timestamptz; epoch ms on SQLite), read back as Date. */
export const TIME_COLUMNS: ReadonlySet<string> = new Set([
  "started_at",
  "closed_at",
  "updated_at",
  "at",
  "scheduled_at",
  "finished_at",
  "due_at",
  "fired_at",
  "received_at",
  "first_seen",
  "last_seen",
  "stopped_at",
  "applied_at",
  // Computed: the throughput's minute buckets.
  "minute",
]);

/** Columns that hold JSON (jsonb; JSON text on SQLite), read back parsed. */
export const JSON_COLUMNS: ReadonlySet<string> = new Set([
  "input",
  "result",
  "error",
  "waiting_on",
  "buffered_signals",
  "body",
  "payload",
  "retry",
  // Run state (ctx.setState).
  "state",
  // Step logs: an attempt's lines.
  "lines",
]);

/** Columns that hold arrays of text (text[]; a JSON array on SQLite), read back as arrays. */
export const ARRAY_COLUMNS: ReadonlySet<string> = new Set([
  "roles",
  "queues",
  "workflows",
  "steps",
  "definitions",
  // Computed: the processes hosting a definition.
  "hosts",
]);

export interface ReadModelDialect {
  readonly name: DialectName;
  /**
   * A batch of rows as a table `v` with typed columns, from ONE parameter (a JSON array):
   * `json_to_recordset($1::json) AS v(...)` / `(SELECT ... FROM json_each(?)) AS v`.
   */
  recordset<R>(rows: readonly object[], columns: Columns): AliasedRawBuilder<R, "v">;
  /** A time as a parameter compared with time columns. */
  time(value: Date | string | number): string | number;
  /** `column = ANY(values)`. */
  inList(column: Expression<unknown>, values: readonly (string | number)[]): RawBuilder<boolean>;
  /** Whether an array column holds `value`. */
  arrayHas(column: Expression<unknown>, value: Expression<unknown> | string): RawBuilder<boolean>;
  /** Case-insensitive substring match (ILIKE on PostgreSQL; LIKE, ASCII-folded, on SQLite). */
  containsText(column: Expression<unknown>, text: string): RawBuilder<boolean>;
  /** The minute a time falls in, as a time. */
  minuteOf(column: Expression<unknown>): RawBuilder<Date>;
  /** The smaller / larger of two values (LEAST/GREATEST; min/max on SQLite). */
  least(a: Expression<unknown>, b: Expression<unknown>): RawBuilder<Date>;
  greatest(a: Expression<unknown>, b: Expression<unknown>): RawBuilder<Date>;
  /** Milliseconds from `from` to `to` (an integer). */
  msBetween(from: Expression<unknown>, to: Expression<unknown>): RawBuilder<number>;
  /** Whether `time` is within `ms` milliseconds before the database's clock. */
  withinMsOfNow(time: Expression<unknown>, ms: Expression<unknown>): RawBuilder<boolean>;
  /** A subquery's single column as an array (ARRAY(...); json_group_array on SQLite). */
  arrayOf(subquery: Expression<unknown>, column: string): RawBuilder<string[]>;
  /** Empties tables in one statement or several (TRUNCATE; DELETE on SQLite). */
  emptyTables(tables: readonly string[]): RawBuilder<unknown>[];
  /** Whether a table exists in the schema the connection uses. */
  tableExists(table: string): RawBuilder<{ present: unknown }>;
  /** Plugins the Kysely instance needs (SQLite: the row shapes of pg). */
  readonly plugins: readonly KyselyPlugin[];
}

const like = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export const postgresDialect: ReadModelDialect = {
  name: "postgres",
  recordset<R>(rows: readonly object[], columns: Columns) {
    const defs = Object.entries(columns)
      .map(([name, type]) => `${name} ${type}`)
      .join(", ");
    return sql<R>`json_to_recordset(${recordsetJson(rows)}::json)`.as<"v">(sql.raw(`v(${defs})`));
  },
  time: (value) => new Date(value).toISOString(),
  inList: (column, values) => sql<boolean>`${column} = ANY(${values})`,
  arrayHas: (column, value) =>
    sql<boolean>`${typeof value === "string" ? sql`${value}::text` : value} = ANY(${column})`,
  containsText: (column, text) => sql<boolean>`${column} ILIKE ${like(text)}`,
  minuteOf: (column) => sql<Date>`date_trunc('minute', ${column})`,
  least: (a, b) => sql<Date>`LEAST(${a}, ${b})`,
  greatest: (a, b) => sql<Date>`GREATEST(${a}, ${b})`,
  msBetween: (from, to) => sql<number>`round(extract(epoch FROM ${to} - ${from}) * 1000)::bigint`,
  withinMsOfNow: (time, ms) => sql<boolean>`${time} >= now() - ${ms} * interval '1 millisecond'`,
  arrayOf: (subquery) => sql<string[]>`ARRAY(${subquery})`,
  emptyTables: (tables) => [sql`TRUNCATE ${sql.raw(tables.join(", "))}`],
  tableExists: (table) =>
    sql<{ present: boolean }>`SELECT to_regclass(${table}) IS NOT NULL AS present`,
  plugins: [],
};

/**
 * Gives rows read from SQLite the shapes pg gives: times as Date, JSON and arrays parsed.
 * Converts by column name, so a query needs nothing dialect-specific to read a row.
 */
export class SqliteRowsPlugin implements KyselyPlugin {
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    for (const row of args.result.rows) convertSqliteRow(row);
    return Promise.resolve(args.result);
  }
}

export function convertSqliteRow(row: Record<string, unknown>): Record<string, unknown> {
  for (const key in row) {
    const value = row[key];
    if (value === null || value === undefined) continue;
    if (TIME_COLUMNS.has(key)) {
      if (typeof value === "number" || typeof value === "bigint")
        row[key] = new Date(Number(value));
    } else if (JSON_COLUMNS.has(key) || ARRAY_COLUMNS.has(key)) {
      if (typeof value === "string") row[key] = JSON.parse(value);
    }
  }
  return row;
}

/** Time columns travel to SQLite as epoch milliseconds. */
const sqliteValue = (type: ColumnType, value: unknown): unknown =>
  type === "timestamptz" && typeof value === "string" ? Date.parse(value) : value;

export const sqliteDialect: ReadModelDialect = {
  name: "sqlite",
  recordset<R>(rows: readonly object[], columns: Columns) {
    const entries = Object.entries(columns);
    const times = entries.filter(([, type]) => type === "timestamptz").map(([name]) => name);
    const encoded =
      times.length === 0
        ? rows
        : rows.map((row) => {
            const copy: Record<string, unknown> = { ...row };
            for (const name of times) copy[name] = sqliteValue("timestamptz", copy[name]);
            return copy;
          });
    const select = entries
      .map(([name, type]) =>
        type === "jsonb" || type === "text[]"
          ? `nullif(value -> '$.${name}', 'null') AS ${name}`
          : `value ->> '$.${name}' AS ${name}`,
      )
      .join(", ");
    return sql<R>`(SELECT ${sql.raw(select)} FROM json_each(${recordsetJson(encoded)}))`.as("v");
  },
  time: (value) => (typeof value === "number" ? value : new Date(value).getTime()),
  inList: (column, values) =>
    sql<boolean>`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`,
  arrayHas: (column, value) =>
    sql<boolean>`EXISTS (SELECT 1 FROM json_each(${column}) WHERE value = ${value})`,
  containsText: (column, text) => sql<boolean>`${column} LIKE ${like(text)} ESCAPE '\\'`,
  minuteOf: (column) => sql<Date>`(${column} / 60000) * 60000`,
  least: (a, b) => sql<Date>`min(${a}, ${b})`,
  greatest: (a, b) => sql<Date>`max(${a}, ${b})`,
  msBetween: (from, to) => sql<number>`(${to} - ${from})`,
  withinMsOfNow: (time, ms) =>
    sql<boolean>`${time} >= CAST(unixepoch('subsec') * 1000 AS INTEGER) - ${ms}`,
  arrayOf: (subquery, column) =>
    sql<string[]>`(SELECT json_group_array(${sql.ref(column)}) FROM (${subquery}))`,
  emptyTables: (tables) => tables.map((table) => sql`DELETE FROM ${sql.table(table)}`),
  tableExists: (table) =>
    sql<{ present: number }>`SELECT EXISTS (SELECT 1 FROM sqlite_master
                                WHERE type = 'table' AND name = ${table}) AS present`,
  plugins: [new SqliteRowsPlugin()],
};

export const DIALECTS: Readonly<Record<DialectName, ReadModelDialect>> = {
  postgres: postgresDialect,
  sqlite: sqliteDialect,
};
