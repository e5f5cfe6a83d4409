import { WeftError } from "../core/errors";

/** The database has migrations this Weft does not know: a newer Weft migrated it. */
export class SchemaTooNewError extends WeftError {
  constructor(
    readonly databaseVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      "SCHEMA_MISMATCH",
      `database schema is at version ${databaseVersion}, this Weft knows up to ${knownVersion}: upgrade Weft`,
      { reason: "too_new", databaseVersion, knownVersion },
    );
  }
}

/** The database lacks migrations this Weft needs. */
export class SchemaOutdatedError extends WeftError {
  constructor(
    readonly databaseVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      "SCHEMA_MISMATCH",
      `database schema is at version ${databaseVersion}, this Weft needs version ${knownVersion}: run \`weft migrate\``,
      { reason: "outdated", databaseVersion, knownVersion },
    );
  }
}

/** A migration file changed after the database applied it. */
export class MigrationChangedError extends WeftError {
  constructor(
    readonly version: number,
    readonly file: string,
    readonly appliedChecksum: string,
    readonly fileChecksum: string,
  ) {
    super(
      "SCHEMA_MISMATCH",
      `migration ${file} was edited after the database applied it (checksum ${appliedChecksum.slice(0, 12)} applied, ` +
        `${fileChecksum.slice(0, 12)} on disk): restore the file as released and put the change in a new migration`,
      { reason: "edited", version, file, appliedChecksum, fileChecksum },
    );
  }
}
