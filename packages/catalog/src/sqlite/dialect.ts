import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from 'kysely';

/**
 * Kysely's SQLite dialect with transactions that take the write lock at BEGIN (IMMEDIATE). A deferred
 * transaction that reads and then writes fails at once with SQLITE_BUSY, busy_timeout or not, when another
 * process (an admin command beside the appliance) committed in between; an immediate one waits its turn.
 * Within this process nothing changes: Kysely runs one statement or transaction at a time on the connection.
 */
export class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}
