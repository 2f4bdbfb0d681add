import type { Selectable } from 'kysely';
import type { IdempotencyTable } from '../schema.js';
import type { IdempotencyRecord, IdempotencyStore } from '../types.js';
import { type Db, toCount } from './shared.js';

export function idempotencyStore(db: Db): IdempotencyStore {
  return {
    async get(userId, key) {
      const row = await db
        .selectFrom('idempotency')
        .selectAll()
        .where('user_id', '=', userId)
        .where('key', '=', key)
        .executeTakeFirst();
      return row && toRecord(row);
    },

    async put(r) {
      // ON CONFLICT DO NOTHING: two racing requests with one key cannot both win, and neither sees an error.
      const { numInsertedOrUpdatedRows } = await db
        .insertInto('idempotency')
        .values({
          user_id: r.userId,
          key: r.key,
          method: r.method,
          path: r.path,
          request_hash: r.requestHash,
          status: r.status,
          content_type: r.contentType,
          body: r.body,
          created_at: r.createdAt,
        })
        .onConflict((oc) => oc.columns(['user_id', 'key']).doNothing())
        .executeTakeFirstOrThrow();
      return toCount(numInsertedOrUpdatedRows) === 1;
    },

    async deleteOlderThan(before) {
      const { numDeletedRows } = await db
        .deleteFrom('idempotency')
        .where('created_at', '<', before)
        .executeTakeFirstOrThrow();
      return toCount(numDeletedRows);
    },
  };
}

function toRecord(row: Selectable<IdempotencyTable>): IdempotencyRecord {
  return {
    userId: row.user_id,
    key: row.key,
    method: row.method,
    path: row.path,
    requestHash: row.request_hash,
    status: row.status,
    contentType: row.content_type,
    body: row.body,
    createdAt: row.created_at,
  };
}
