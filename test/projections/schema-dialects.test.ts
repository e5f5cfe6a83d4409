/**
 * PostgreSQL's migrations (migrations/) and SQLite's (migrations/sqlite/) must define the same
 * tables and columns, version for version, and every time, JSON and array column must be one
 * that SQLite's rows are converted for (projections/dialect.ts), so the two cannot drift.
 */
import { ARRAY_COLUMNS, JSON_COLUMNS, TIME_COLUMNS } from "../../projections/dialect";
import { loadMigrations, migrate, migrationsDir } from "../../projections/migrate";
import { ReadModelDb } from "../../projections/read-model-db";
import { createTestDatabase, type TestDatabase } from "../support/read-models";

interface Column {
  table: string;
  column: string;
  type: string;
}

let postgres: TestDatabase;
let sqlite: ReadModelDb;
let pgColumns: Column[];
let sqliteColumns: Column[];

beforeAll(async () => {
  postgres = await createTestDatabase("postgres");
  await migrate(postgres.db);
  pgColumns = (
    await postgres.db.query<Column>(
      `SELECT table_name AS table, column_name AS column, udt_name AS type
         FROM information_schema.columns WHERE table_schema = current_schema()`,
    )
  ).rows;
  sqlite = ReadModelDb.sqlite(":memory:");
  await migrate(sqlite);
  sqliteColumns = (
    await sqlite.query<Column>(
      `SELECT m.name AS "table", p.name AS "column", p.type AS type
         FROM sqlite_master AS m, pragma_table_info(m.name) AS p
        WHERE m.type = 'table' AND m.name LIKE 'weft\\_%' ESCAPE '\\'`,
    )
  ).rows;
});

afterAll(async () => {
  await sqlite?.close();
  await postgres?.drop();
});

const names = (columns: Column[]) => columns.map((c) => `${c.table}.${c.column}`).sort();

it("numbers and names the migrations of both dialects alike", () => {
  const files = (dialect: "postgres" | "sqlite") =>
    loadMigrations(migrationsDir(dialect)).map((m) => [m.version, m.name]);
  expect(files("sqlite")).toEqual(files("postgres"));
});

it("defines the same tables and columns on PostgreSQL and SQLite", () => {
  expect(names(pgColumns).length).toBeGreaterThan(60);
  expect(names(sqliteColumns)).toEqual(names(pgColumns));
});

it("converts exactly the time, JSON and array columns of SQLite's rows", () => {
  const ofType = (types: string[]) =>
    [...new Set(pgColumns.filter((c) => types.includes(c.type)).map((c) => c.column))].sort();
  const stored = (set: ReadonlySet<string>) =>
    [...set].filter((name) => pgColumns.some((c) => c.column === name)).sort();
  expect(stored(TIME_COLUMNS)).toEqual(ofType(["timestamptz"]));
  expect(stored(JSON_COLUMNS)).toEqual(ofType(["jsonb"]));
  expect(stored(ARRAY_COLUMNS)).toEqual(ofType(["_text"]));
  // A column name means one kind in every table, so converting by name is safe.
  for (const name of [...TIME_COLUMNS, ...JSON_COLUMNS, ...ARRAY_COLUMNS]) {
    expect([
      name,
      new Set(pgColumns.filter((c) => c.column === name).map((c) => c.type)).size,
    ]).toEqual([name, pgColumns.some((c) => c.column === name) ? 1 : 0]);
  }
});
