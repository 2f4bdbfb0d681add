import type { Selectable } from 'kysely';
import type { AccountsTable } from '../schema.js';
import { type AccountCheckResult, type AccountRecord, type AccountStore, CatalogError } from '../types.js';
import { type Db, isUniqueViolation } from './shared.js';

export function accountStore(db: Db): AccountStore {
  async function missOrMismatch(id: string, expectedVersion: number | undefined): Promise<CatalogError> {
    const row = await db.selectFrom('accounts').select('version').where('id', '=', id).executeTakeFirst();
    if (!row) return new CatalogError('NOT_FOUND', `no account with id ${id}`);
    return new CatalogError(
      'VERSION_MISMATCH',
      `account ${id} is at version ${row.version}, not ${expectedVersion}: it changed since it was read`,
    );
  }

  return {
    async get(name) {
      const row = await db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toAccount(row);
    },

    async getById(id) {
      const row = await db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toAccount(row);
    },

    async list({ limit, after }) {
      let q = db.selectFrom('accounts').selectAll().orderBy('name').limit(limit);
      if (after !== undefined) q = q.where('name', '>', after);
      return (await q.execute()).map(toAccount);
    },

    async insert(a, at) {
      try {
        const row = await db
          .insertInto('accounts')
          .values({
            id: a.id,
            name: a.name,
            kind: a.kind,
            aws_account_id: a.awsAccountId,
            principal_arn: a.principalArn,
            role_arn: a.roleArn,
            external_id: a.externalId,
            sealed_credentials: a.sealedCredentials,
            access_key_hint: a.accessKeyHint,
            regions: JSON.stringify(a.regions),
            check_result: null,
            checked_at: null,
            version: 1,
            created_at: at,
            updated_at: at,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toAccount(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `an account named ${a.name} (or with id ${a.id}) exists`, {
            cause: err,
          });
        }
        throw err;
      }
    },

    async update(id, expectedVersion, changes, at) {
      let q = db
        .updateTable('accounts')
        .set((eb) => ({ version: eb('version', '+', 1), updated_at: at }))
        .where('id', '=', id);
      if (changes.regions !== undefined) q = q.set({ regions: JSON.stringify(changes.regions) });
      if (changes.lastCheck !== undefined) q = q.set({ check_result: JSON.stringify(changes.lastCheck) });
      if (changes.checkedAt !== undefined) q = q.set({ checked_at: changes.checkedAt });
      if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
      const row = await q.returningAll().executeTakeFirst();
      if (!row) throw await missOrMismatch(id, expectedVersion);
      return toAccount(row);
    },

    async remove(id, expectedVersion) {
      // Inventory rows and region statuses go with it: ON DELETE CASCADE (tags cascade from instances).
      let q = db.deleteFrom('accounts').where('id', '=', id);
      if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
      const { numDeletedRows } = await q.executeTakeFirstOrThrow();
      if (numDeletedRows === 0n) throw await missOrMismatch(id, expectedVersion);
    },
  };
}

function toAccount(row: Selectable<AccountsTable>): AccountRecord {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    awsAccountId: row.aws_account_id,
    principalArn: row.principal_arn,
    roleArn: row.role_arn,
    externalId: row.external_id,
    sealedCredentials: row.sealed_credentials,
    accessKeyHint: row.access_key_hint,
    regions: JSON.parse(row.regions) as string[],
    lastCheck: row.check_result === null ? null : (JSON.parse(row.check_result) as AccountCheckResult),
    checkedAt: row.checked_at,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
