import type { Selectable } from 'kysely';
import type { UsersTable } from '../schema.js';
import { CatalogError, type Role, type UserRecord, type UserStore } from '../types.js';
import { type Db, isUniqueViolation, toCount } from './shared.js';

export function userStore(db: Db): UserStore {
  /** After an update or delete matched no row: tell a missing user from a stale version. */
  async function missOrMismatch(id: string, expectedVersion: number | undefined): Promise<CatalogError> {
    const row = await db.selectFrom('users').select('version').where('id', '=', id).executeTakeFirst();
    if (!row) return new CatalogError('NOT_FOUND', `no user with id ${id}`);
    return new CatalogError(
      'VERSION_MISMATCH',
      `user ${id} is at version ${row.version}, not ${expectedVersion}: it changed since it was read`,
    );
  }

  return {
    async get(name) {
      const row = await db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toUser(row);
    },

    async getById(id) {
      const row = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toUser(row);
    },

    async list({ limit, after }) {
      let q = db.selectFrom('users').selectAll().orderBy('name').limit(limit);
      if (after !== undefined) q = q.where('name', '>', after);
      return (await q.execute()).map(toUser);
    },

    async insert(user, at) {
      try {
        const row = await db
          .insertInto('users')
          .values({
            id: user.id,
            name: user.name,
            role: user.role,
            password_hash: user.passwordHash,
            restore_tags: user.restoreTags === null ? null : JSON.stringify(user.restoreTags),
            disabled: 0,
            version: 1,
            created_at: at,
            updated_at: at,
            password_changed_at: at,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toUser(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `a user named ${user.name} (or with id ${user.id}) exists`, {
            cause: err,
          });
        }
        throw err;
      }
    },

    async update(id, expectedVersion, changes, at) {
      let q = db
        .updateTable('users')
        .set((eb) => ({ version: eb('version', '+', 1), updated_at: at }))
        .where('id', '=', id);
      if (changes.role !== undefined) q = q.set({ role: changes.role });
      if (changes.disabled !== undefined) q = q.set({ disabled: changes.disabled ? 1 : 0 });
      if (changes.restoreTags !== undefined) {
        q = q.set({
          restore_tags: changes.restoreTags === null ? null : JSON.stringify(changes.restoreTags),
        });
      }
      if (changes.passwordHash !== undefined) {
        q = q.set({ password_hash: changes.passwordHash, password_changed_at: at });
      }
      if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
      const row = await q.returningAll().executeTakeFirst();
      if (!row) throw await missOrMismatch(id, expectedVersion);
      return toUser(row);
    },

    async remove(id, expectedVersion) {
      // Login sessions go with the user: ON DELETE CASCADE (foreign keys are on).
      let q = db.deleteFrom('users').where('id', '=', id);
      if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
      const { numDeletedRows } = await q.executeTakeFirstOrThrow();
      if (numDeletedRows === 0n) throw await missOrMismatch(id, expectedVersion);
    },

    async countEnabled(role: Role) {
      const { n } = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('role', '=', role)
        .where('disabled', '=', 0)
        .executeTakeFirstOrThrow();
      return toCount(n);
    },

    async count() {
      const { n } = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return toCount(n);
    },
  };
}

function toUser(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    passwordHash: row.password_hash,
    restoreTags: row.restore_tags === null ? null : (JSON.parse(row.restore_tags) as Record<string, string>),
    disabled: row.disabled !== 0,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    passwordChangedAt: row.password_changed_at,
  };
}
