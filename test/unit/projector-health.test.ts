/**
 * The projector's health, with a clock the test moves: when a partition counts as stalled, what
 * a dead letter does and does not do, and that the readiness check names the partition, the
 * error and its code. Database errors are real ones (better-sqlite3, and pg's shapes).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { WeftError } from "../../core/errors";
import { databaseFault, describePostgres, nameDatabase } from "../../projections/database-errors";
import { ProjectorHealth, projectorCheck } from "../../projections/projector-health";
import { ReadModelDb } from "../../projections/read-model-db";

const H = "weft.history";
const STALL_MS = 10_000;

function harness() {
  let now = 1_000_000;
  const health = new ProjectorHealth({ stallAfterMs: STALL_MS, now: () => now });
  health.assigned([
    { topic: H, partition: 0 },
    { topic: H, partition: 1 },
  ]);
  return {
    health,
    advance: (ms: number) => (now += ms),
    now: () => now,
  };
}

function sqliteError(fn: (db: Database.Database) => void): Error {
  const db = new Database(":memory:");
  try {
    fn(db);
  } catch (err) {
    return err as Error;
  } finally {
    db.close();
  }
  throw new Error("expected an error");
}

describe("projector health", () => {
  it("is ready while batches go through, and a dead letter does not change that", () => {
    const { health } = harness();
    health.started(H, 0, 10n);
    health.deadLettered(H, 0, [{ offset: "10", reason: "does not decode", kind: "undecodable" }]);
    health.applied(H, 0, 12n, 15n);
    health.finished(H, 0);
    health.succeeded(H, 0);
    const snapshot = health.snapshot();
    expect(snapshot).toMatchObject({
      ready: true,
      partitions: 2,
      stalled: [],
      deadLetters: {
        total: 1,
        recent: 1,
        last: { topic: H, partition: 0, offset: "10", reason: "does not decode" },
      },
    });
    expect(health.figures()).toEqual([
      { topic: H, partition: 0, stalled: false, lastAppliedAt: expect.any(Number), lag: 3 },
      { topic: H, partition: 1, stalled: false },
    ]);
    expect(projectorCheck(snapshot)).toMatchObject({
      ok: true,
      details: { deadLetters: { total: 1, recent: 1, recentMinutes: 15 } },
    });
  });

  it("stalls a partition that has failed for the threshold, and names it and the error", () => {
    const { health, advance } = harness();
    const refused = Object.assign(new Error("could not serialize access"), {
      code: "40001",
      severity: "ERROR",
    });
    health.started(H, 1, 42n);
    expect(health.failed(H, 1, refused)).toBe("other");
    health.finished(H, 1);
    advance(STALL_MS - 1);
    expect(health.snapshot().ready).toBe(true);
    health.started(H, 1);
    health.failed(H, 1, refused);
    health.finished(H, 1);
    advance(1);
    const check = projectorCheck(health.snapshot());
    expect(check.ok).toBe(false);
    expect(check.code).toBeUndefined();
    expect(check.error).toBe(
      `projector stalled: ${H} partition 1 has failed to apply its records from offset 42 for 10 s ` +
        "(2 failed tries; the last: could not serialize access)",
    );
    expect(health.figures().map((f) => f.stalled)).toEqual([false, true]);
    // A rejoin with the same partitions (a consumer restarted after failing) keeps the count.
    health.assigned([{ topic: H, partition: 1 }]);
    expect(health.snapshot().stalled).toHaveLength(1);
    health.started(H, 1);
    health.finished(H, 1);
    health.succeeded(H, 1);
    expect(health.snapshot()).toMatchObject({ ready: true, partitions: 1 });
  });

  it("stalls at once on a database that refuses writes or is damaged, with its code", () => {
    const { health } = harness();
    const readOnly = sqliteError((db) => {
      db.exec("CREATE TABLE t (x)");
      db.pragma("query_only = ON");
      db.exec("INSERT INTO t VALUES (1)");
    });
    health.started(H, 0, 7n);
    expect(health.failed(H, 0, nameDatabase(readOnly, "SQLite file /x/read-models.db"))).toBe(
      "not_writable",
    );
    health.finished(H, 0);
    const check = projectorCheck(health.snapshot());
    expect(check).toMatchObject({ ok: false, code: "DATABASE_NOT_WRITABLE" });
    expect(check.error).toContain(`${H} partition 0 cannot write to its database`);
    expect(check.error).toContain(
      "SQLite file /x/read-models.db: attempt to write a readonly database",
    );
  });

  it("stalls a partition whose batch has run for the threshold (a lock held elsewhere)", () => {
    const { health, advance } = harness();
    health.started(H, 0, 3n);
    advance(STALL_MS);
    expect(health.snapshot().stalled).toEqual([
      expect.objectContaining({ topic: H, partition: 0, fault: "hung", offset: "3" }),
    ]);
    health.finished(H, 0);
    expect(health.snapshot().ready).toBe(true);
  });

  it("counts dead letters as recent for 15 minutes, in bounded buckets", () => {
    const { health, advance } = harness();
    for (let i = 0; i < 100; i++) {
      health.deadLettered(H, 0, [
        { offset: String(i), reason: "x".repeat(2000), kind: "unprojectable" },
      ]);
      advance(30_000);
    }
    const { deadLetters } = health.snapshot();
    expect(deadLetters.total).toBe(100);
    // 50 minutes of one every 30 s: the last 15 minutes (and the minute that overlaps) count.
    expect(deadLetters.recent).toBeGreaterThanOrEqual(30);
    expect(deadLetters.recent).toBeLessThanOrEqual(32);
    expect(deadLetters.last!.reason.length).toBeLessThanOrEqual(501);
    advance(16 * 60_000);
    expect(health.snapshot().deadLetters).toMatchObject({ total: 100, recent: 0 });
  });
});

describe("database errors", () => {
  it("classifies real SQLite errors and pg's shapes", () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-db-errors-"));
    try {
      const garbage = join(dir, "garbage.db");
      writeFileSync(garbage, Buffer.alloc(8192, 7));
      const notADatabase = (() => {
        const db = new Database(garbage);
        try {
          db.pragma("journal_mode = WAL");
        } catch (err) {
          return err;
        } finally {
          db.close();
        }
        throw new Error("expected an error");
      })();
      expect(databaseFault(notADatabase)).toBe("corrupt");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(databaseFault(sqliteError((db) => db.exec("SELECT * FROM missing")))).toBeUndefined();
    const pg = (code: string) => Object.assign(new Error(code), { code, severity: "ERROR" });
    expect(databaseFault(pg("25006"))).toBe("not_writable");
    expect(databaseFault(pg("42501"))).toBe("not_writable");
    expect(databaseFault(pg("57P01"))).toBe("unavailable");
    expect(databaseFault(pg("XX001"))).toBe("corrupt");
    expect(databaseFault(pg("23505"))).toBeUndefined();
    expect(databaseFault(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }))).toBe(
      "unavailable",
    );
    expect(databaseFault(new Error("Connection terminated unexpectedly"))).toBe("unavailable");
  });

  it("names a PostgreSQL database without its password", () => {
    expect(
      describePostgres({
        connectionString:
          "postgres://weft:s3cret@db.example:6543/orders?options=-c%20search_path%3Dt_1",
      }),
    ).toBe('PostgreSQL database "orders" (schema t_1) on db.example:6543 as weft');
  });

  it("refuses a SQLite file that is not a database, naming it, with DATABASE_CORRUPT", () => {
    const dir = mkdtempSync(join(tmpdir(), "weft-db-errors-"));
    const file = join(dir, "read-models.db");
    writeFileSync(file, "this is not a database, just text long enough to be read as a header");
    try {
      let thrown: unknown;
      try {
        ReadModelDb.sqlite(file)
          .close()
          .catch(() => undefined);
      } catch (err) {
        thrown = err;
      }
      expect(WeftError.is(thrown)).toBe(true);
      expect(thrown).toMatchObject({
        code: "DATABASE_CORRUPT",
        details: { file, cause: "SQLITE_NOTADB" },
      });
      expect((thrown as Error).message).toContain(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
