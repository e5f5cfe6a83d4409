import { resolve } from "node:path";
import {
  DatabaseCorruptError,
  DatabaseNotWritableError,
  type DatabaseErrorDetails,
} from "../core/errors";

/**
 * What a read-model database error means, decided in one place for both dialects:
 *
 * - `unavailable`: the database cannot be reached (a refused or dropped connection, a server
 *   shutting down or starting, too many connections, a database that does not exist, refused
 *   credentials): a dependency to wait for.
 * - `not_writable`: it answers but refuses writes (a read-only SQLite file or directory, a full
 *   disk, an I/O error; a read-only PostgreSQL or a user without the privilege).
 * - `corrupt`: it is damaged (SQLite `file is not a database`, `database disk image is
 *   malformed`; PostgreSQL's data or index corruption).
 *
 * Anything else (a lock wait that timed out, a busy SQLite file, a deadlock, a bug) is none of
 * these: `undefined`.
 */
export type DatabaseFault = "unavailable" | "not_writable" | "corrupt";

/** Socket errors of the pg driver: nothing answered at the address, or the link broke. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** pg's own messages for a connection it lost or never got (they carry no code). */
const PG_CONNECTION_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|connection timeout|Client has encountered a connection error/i;

export function databaseFault(err: unknown): DatabaseFault | undefined {
  const code = codeOf(err);
  if (code?.startsWith("SQLITE_")) {
    if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) return "corrupt";
    if (/^SQLITE_(READONLY|CANTOPEN|FULL|PERM|IOERR)/.test(code)) return "not_writable";
    return undefined;
  }
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code) && hasSeverity(err)) {
    if (code === "XX001" || code === "XX002") return "corrupt";
    if (code === "25006" || code === "42501" || code === "53100") return "not_writable";
    if (/^(08|28)/.test(code) || /^57P0[123]$/.test(code) || code === "53300" || code === "3D000")
      return "unavailable";
    return undefined;
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") return "not_writable";
  if (code !== undefined && SOCKET_CODES.has(code)) return "unavailable";
  if (PG_CONNECTION_MESSAGE.test(messageOf(err))) return "unavailable";
  return undefined;
}

/**
 * Whether an error is about the data of a batch, so that projecting its records one by one
 * finds the record at fault: a PostgreSQL data exception (class 22), integrity violation (23) or
 * program limit (54), SQLite's constraint, mismatch and too-big errors, or an event time out of
 * range. Anything else (connection lost, server restarting, a busy database) is retried as it is.
 */
export function isDataError(err: unknown): boolean {
  if (err instanceof RangeError) return true;
  const code = codeOf(err);
  if (code === undefined) return false;
  if (/^(22|23|54)[0-9A-Z]{3}$/.test(code) || /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test(code))
    return true;
  // SQLite reports a JSON value its functions cannot take with its generic code.
  return code === "SQLITE_ERROR" && /malformed JSON|JSON .*too deep/i.test(messageOf(err));
}

/** `SQLite file /abs/path.db`, or `SQLite database in memory`. */
export function describeSqlite(file: string): string {
  return file === ":memory:" || file === ""
    ? "SQLite database in memory"
    : `SQLite file ${resolve(file)}`;
}

/**
 * `PostgreSQL database "weft" (schema s) on host:port as user`, from a connection string or pg
 * pool options; never the password.
 */
export function describePostgres(options: {
  connectionString?: string;
  host?: string;
  port?: number;
  database?: string;
  user?: string;
}): string {
  let { host, port, database, user } = options;
  let schema: string | undefined;
  if (options.connectionString) {
    try {
      const url = new URL(options.connectionString);
      host ??= url.searchParams.get("host") ?? (url.hostname || undefined);
      port ??= url.port ? Number(url.port) : undefined;
      database ??= decodeURIComponent(url.pathname.slice(1)) || undefined;
      user ??= decodeURIComponent(url.username) || undefined;
      schema = /search_path\s*=\s*([^\s,]+)/.exec(url.searchParams.get("options") ?? "")?.[1];
    } catch {
      // An unparsable URL was refused before a pool was made; describe what is known.
    }
  }
  const where = `${host ?? "localhost"}:${port ?? 5432}`;
  return (
    `PostgreSQL database ${JSON.stringify(database ?? user ?? "postgres")}` +
    `${schema ? ` (schema ${schema})` : ""} on ${where}${user ? ` as ${user}` : ""}`
  );
}

const NAMED = Symbol.for("weft.databaseNamed");

/**
 * Puts the database's name in front of an error's message (once), so that wherever it is
 * shown — a log line, /readyz, a start that failed — it says which database it is about. The
 * error object is kept (its class, `code` and `severity`, which callers classify by). Errors
 * about a batch's data (`isDataError`) are left as they are: they are reasons for the DLQ.
 */
export function nameDatabase<E>(err: E, database: string): E {
  if (!isErrorLike(err) || NAMED in err || isDataError(err)) return err;
  const named = `${database}: ${err.message}`;
  try {
    err.message = named;
    if (typeof err.stack === "string")
      err.stack = err.stack.replace(/^[^\n]*/, `${err.name}: ${named}`);
    Object.defineProperty(err, NAMED, { value: database });
  } catch {
    // A frozen error keeps its message.
  }
  return err;
}

/** The database an error was named after by `nameDatabase`, if any. */
export function databaseOf(err: unknown): string | undefined {
  return isErrorLike(err) && NAMED in err
    ? ((err as unknown as Record<symbol, string>)[NAMED] ?? undefined)
    : undefined;
}

/**
 * A SQLite file that failed to open or be written at start, as the error a user can act on:
 * DATABASE_CORRUPT or DATABASE_NOT_WRITABLE naming the file and what to do, or the driver's
 * error with the file's name in front for anything else.
 */
export function sqliteStartError(err: unknown, file: string): Error {
  const database = describeSqlite(file);
  const cause = codeOf(err);
  const detail = messageOf(err);
  const details: DatabaseErrorDetails = {
    database,
    ...(file === ":memory:" ? {} : { file: resolve(file) }),
    ...(cause ? { cause } : {}),
  };
  const fault = databaseFault(err);
  if (fault === "corrupt") {
    return new DatabaseCorruptError(
      `the read-model database ${resolve(file)} is not a usable SQLite database (${detail}), so Weft does not start on it. ` +
        "The read models are derived from the log: stop Weft, move the file aside (with its -wal and -shm files, if any) " +
        "and start again to rebuild them, or point DATABASE_URL at another file.",
      details,
    );
  }
  if (fault === "not_writable") {
    return new DatabaseNotWritableError(
      `the read-model database ${resolve(file)} cannot be written (${detail}), so Weft does not start on it. ` +
        "The projector must write the file, and SQLite must create its -wal and -shm files beside it: make the file " +
        "and its directory writable by this user (and the disk not full or read-only), or point DATABASE_URL at another file.",
      details,
    );
  }
  return nameDatabase(isErrorLike(err) ? err : new Error(detail), database);
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

function hasSeverity(err: unknown): boolean {
  return typeof (err as { severity?: unknown } | null | undefined)?.severity === "string";
}

/** An Error, also one made in another realm (a vm context, as under Jest), by its shape. */
function isErrorLike(err: unknown): err is Error {
  return (
    typeof err === "object" &&
    err !== null &&
    typeof (err as { message?: unknown }).message === "string"
  );
}

function messageOf(err: unknown): string {
  return isErrorLike(err) ? err.message : String(err);
}
