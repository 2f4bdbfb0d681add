import { AsyncLocalStorage } from 'node:async_hooks';
import type { Kysely, KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs } from 'kysely';
import type { CatalogDatabase } from './schema.js';
import { storesOver } from './stores/index.js';
import type { Catalog } from './types.js';

/** What differs between databases; the stores and transactions are shared. */
export interface CatalogEngine {
  schemaVersion(): Promise<number>;
  backupTo(file: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A Catalog over a Kysely instance. Inside `transaction(fn)`, fn must use the stores it is given: the SQLite
 * driver has one connection, held by the transaction, so a call on the catalog's own stores from within fn
 * would wait for it forever. A plugin on those stores turns that deadlock into an error.
 */
export function kyselyCatalog(db: Kysely<CatalogDatabase>, engine: CatalogEngine): Catalog {
  const inTransaction = new AsyncLocalStorage<true>();
  const outside = storesOver(db.withPlugin(new RefuseInside(inTransaction)));
  return {
    ...outside,
    transaction(fn) {
      if (inTransaction.getStore()) {
        return Promise.reject(
          new Error('catalog.transaction() was called inside a transaction: nesting is not supported'),
        );
      }
      return db.transaction().execute((trx) => inTransaction.run(true, () => fn(storesOver(trx))));
    },
    schemaVersion: () => engine.schemaVersion(),
    backupTo: (file) => engine.backupTo(file),
    close: () => engine.close(),
  };
}

class RefuseInside implements KyselyPlugin {
  constructor(private readonly inTransaction: AsyncLocalStorage<true>) {}

  transformQuery({ node }: PluginTransformQueryArgs) {
    if (this.inTransaction.getStore()) {
      throw new Error('a catalog store was used inside catalog.transaction(fn): use the stores fn is given');
    }
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs) {
    return result;
  }
}
