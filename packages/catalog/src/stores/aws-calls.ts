import { type AwsCallCount, type AwsCallStore, CatalogError } from '../types.js';
import { type Db, isForeignKeyViolation } from './shared.js';

export function awsCallStore(db: Db): AwsCallStore {
  return {
    async add(sessionId, counts) {
      // One row per (api, region) in the statement: PostgreSQL refuses an upsert that touches a row twice.
      const merged = new Map<string, AwsCallCount>();
      for (const c of counts) {
        const key = JSON.stringify([c.api, c.region]);
        const seen = merged.get(key);
        if (seen) seen.count += c.count;
        else merged.set(key, { ...c });
      }
      if (merged.size === 0) return;
      try {
        await db
          .insertInto('session_aws_calls')
          .values([...merged.values()].map((c) => ({ session_id: sessionId, ...c })))
          .onConflict((oc) =>
            oc.columns(['session_id', 'api', 'region']).doUpdateSet((eb) => ({
              // Qualified: PostgreSQL finds a bare `count` ambiguous between the row and `excluded`.
              count: eb('session_aws_calls.count', '+', eb.ref('excluded.count')),
            })),
          )
          .execute();
      } catch (err) {
        if (isForeignKeyViolation(err)) {
          throw new CatalogError('NOT_FOUND', `no session with id ${sessionId}`, { cause: err });
        }
        throw err;
      }
    },

    async ofSession(sessionId) {
      return db
        .selectFrom('session_aws_calls')
        .select(['api', 'region', 'count'])
        .where('session_id', '=', sessionId)
        .orderBy('api')
        .orderBy('region')
        .execute();
    },
  };
}
