import type { Selectable } from 'kysely';
import type { LoginSessionsTable } from '../schema.js';
import { CatalogError, type LoginSessionRecord, type LoginSessionStore } from '../types.js';
import { type Db, isUniqueViolation, toCount } from './shared.js';

export function loginSessionStore(db: Db): LoginSessionStore {
  return {
    async insert(s) {
      try {
        await db
          .insertInto('login_sessions')
          .values({
            id: s.id,
            user_id: s.userId,
            kind: s.kind,
            token_hash: s.tokenHash,
            csrf_hash: s.csrfHash,
            address: s.address,
            created_at: s.createdAt,
            expires_at: s.expiresAt,
            revoked_at: null,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `login session ${s.id} (or its token) exists`, { cause: err });
        }
        throw err;
      }
    },

    async findByTokenHash(tokenHash) {
      const row = await db
        .selectFrom('login_sessions')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .executeTakeFirst();
      return row && toSession(row);
    },

    async revoke(id, at) {
      // The first revocation time stays: revoking twice is not an error and does not move it.
      await db
        .updateTable('login_sessions')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    },

    async revokeAllOfUser(userId, at) {
      const { numUpdatedRows } = await db
        .updateTable('login_sessions')
        .set({ revoked_at: at })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .executeTakeFirstOrThrow();
      return toCount(numUpdatedRows);
    },

    async deleteEnded(before) {
      const { numDeletedRows } = await db
        .deleteFrom('login_sessions')
        .where((eb) => eb.or([eb('expires_at', '<', before), eb('revoked_at', '<', before)]))
        .executeTakeFirstOrThrow();
      return toCount(numDeletedRows);
    },
  };
}

function toSession(row: Selectable<LoginSessionsTable>): LoginSessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    kind: row.kind,
    tokenHash: row.token_hash,
    csrfHash: row.csrf_hash,
    address: row.address,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}
