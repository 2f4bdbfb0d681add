import type { Selectable } from 'kysely';
import type { PoliciesTable } from '../schema.js';
import { CatalogError, type PolicyRecord, type PolicyStore } from '../types.js';
import { type Db, isUniqueViolation } from './shared.js';

export function policyStore(db: Db): PolicyStore {
  /** After an update or delete matched no row: tell a missing policy from a stale version. */
  async function missOrMismatch(id: string, expectedVersion: number | undefined): Promise<CatalogError> {
    const row = await db.selectFrom('policies').select('version').where('id', '=', id).executeTakeFirst();
    if (!row) return new CatalogError('NOT_FOUND', `no policy with id ${id}`);
    return new CatalogError(
      'VERSION_MISMATCH',
      `policy ${id} is at version ${row.version}, not ${expectedVersion}: it changed since it was read`,
    );
  }

  return {
    async get(name) {
      const row = await db.selectFrom('policies').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toPolicy(row);
    },

    async getById(id) {
      const row = await db.selectFrom('policies').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toPolicy(row);
    },

    async list({ limit, after }) {
      let q = db.selectFrom('policies').selectAll().orderBy('name').limit(limit);
      if (after !== undefined) q = q.where('name', '>', after);
      return (await q.execute()).map(toPolicy);
    },

    async insert(p, at) {
      try {
        const row = await db
          .insertInto('policies')
          .values({
            id: p.id,
            name: p.name,
            document: JSON.stringify(p.document),
            enabled: p.enabled ? 1 : 0,
            version: 1,
            created_at: at,
            updated_at: at,
            last_due_at: null,
            last_session_id: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toPolicy(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `a policy named ${p.name} (or with id ${p.id}) exists`, {
            cause: err,
          });
        }
        throw err;
      }
    },

    async update(id, expectedVersion, changes, at) {
      let q = db
        .updateTable('policies')
        .set((eb) => ({ version: eb('version', '+', 1), updated_at: at }))
        .where('id', '=', id);
      if (changes.name !== undefined) q = q.set({ name: changes.name });
      if (changes.document !== undefined) q = q.set({ document: JSON.stringify(changes.document) });
      if (changes.enabled !== undefined) q = q.set({ enabled: changes.enabled ? 1 : 0 });
      if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
      try {
        const row = await q.returningAll().executeTakeFirst();
        if (!row) throw await missOrMismatch(id, expectedVersion);
        return toPolicy(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `a policy named ${changes.name} exists`, { cause: err });
        }
        throw err;
      }
    },

    async setScheduleState(id, state) {
      const set: Partial<Selectable<PoliciesTable>> = {};
      if (state.lastDueAt !== undefined) set.last_due_at = state.lastDueAt;
      if (state.lastSessionId !== undefined) set.last_session_id = state.lastSessionId;
      let q = db.updateTable('policies').where('id', '=', id);
      // Nothing to change still answers NOT_FOUND for a missing policy: set the id to itself.
      q = Object.keys(set).length > 0 ? q.set(set) : q.set((eb) => ({ id: eb.ref('id') }));
      const { numUpdatedRows } = await q.executeTakeFirstOrThrow();
      if (numUpdatedRows === 0n) throw new CatalogError('NOT_FOUND', `no policy with id ${id}`);
    },

    async remove(id, expectedVersion) {
      // Restore points keep policy_id and policy_name (no foreign key): they become orphaned, not deleted.
      let q = db.deleteFrom('policies').where('id', '=', id);
      if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
      const { numDeletedRows } = await q.executeTakeFirstOrThrow();
      if (numDeletedRows === 0n) throw await missOrMismatch(id, expectedVersion);
    },
  };
}

function toPolicy(row: Selectable<PoliciesTable>): PolicyRecord {
  return {
    id: row.id,
    name: row.name,
    document: JSON.parse(row.document) as Record<string, unknown>,
    enabled: row.enabled !== 0,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastDueAt: row.last_due_at,
    lastSessionId: row.last_session_id,
  };
}
