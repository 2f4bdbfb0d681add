import type BetterSqlite3 from 'better-sqlite3';
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

const STATEMENTS_KEPT = 256;

/**
 * The database as Kysely's driver sees it, with prepared statements kept by their SQL: the driver prepares every
 * statement anew, which in a session of hundreds of tasks cost as much as running them. Kysely runs one
 * statement at a time on the connection and never iterates, so a kept statement is never in use twice.
 */
export function withStatementCache(db: BetterSqlite3.Database): BetterSqlite3.Database {
  const kept = new Map<string, BetterSqlite3.Statement>();
  const prepare = (text: string) => {
    let statement = kept.get(text);
    if (statement) {
      // Most recently used last: the oldest goes first when the cache is full.
      kept.delete(text);
    } else {
      statement = db.prepare(text);
      if (kept.size >= STATEMENTS_KEPT) kept.delete(kept.keys().next().value!);
    }
    kept.set(text, statement);
    return statement;
  };
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'prepare') return prepare;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
