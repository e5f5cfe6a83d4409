import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from "kysely";
import { nameDatabase } from "./database-errors";

/**
 * A Kysely dialect whose errors name the database they are about (`nameDatabase`): every
 * statement, connection and transaction of the read models goes through its driver, so a
 * refused connection, a read-only file or a corrupt one says which server or file it is, in
 * logs, in /readyz and in the projector's health, whoever ran the statement.
 */
export class NamingDialect implements Dialect {
  constructor(
    private readonly inner: Dialect,
    private readonly database: string,
  ) {}

  createDriver(): Driver {
    return new NamingDriver(this.inner.createDriver(), this.database);
  }

  createQueryCompiler(): QueryCompiler {
    return this.inner.createQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return this.inner.createAdapter();
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's own signature
  createIntrospector(db: Kysely<any>): DatabaseIntrospector {
    return this.inner.createIntrospector(db);
  }
}

class NamingDriver implements Driver {
  /** Each connection handed to Kysely, and the driver's own behind it. */
  private readonly connections = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(
    private readonly driver: Driver,
    private readonly database: string,
  ) {}

  init(): Promise<void> {
    return this.named(() => this.driver.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.named(() => this.driver.acquireConnection());
    const wrapped: DatabaseConnection = {
      executeQuery: <R>(query: CompiledQuery): Promise<QueryResult<R>> =>
        this.named(() => connection.executeQuery<R>(query)),
      streamQuery: <R>(query: CompiledQuery, chunkSize: number) =>
        connection.streamQuery<R>(query, chunkSize),
    };
    this.connections.set(wrapped, connection);
    return wrapped;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.named(() => this.driver.beginTransaction(this.inner(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.named(() => this.driver.commitTransaction(this.inner(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.named(() => this.driver.rollbackTransaction(this.inner(connection)));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.driver.releaseConnection(this.inner(connection));
  }

  destroy(): Promise<void> {
    return this.driver.destroy();
  }

  private inner(connection: DatabaseConnection): DatabaseConnection {
    return this.connections.get(connection) ?? connection;
  }

  private async named<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw nameDatabase(err, this.database);
    }
  }
}
