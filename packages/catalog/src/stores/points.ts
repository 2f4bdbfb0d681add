import { type Selectable, sql } from 'kysely';
import type { PointHoldsTable, PointSnapshotsTable, RestorePointsTable } from '../schema.js';
import {
  CatalogError,
  type HoldRecord,
  type PointSnapshotRecord,
  type RestorePointRecord,
  type RestorePointStore,
} from '../types.js';
import { type Db, isForeignKeyViolation, isUniqueViolation } from './shared.js';

/** A JSON column that may be NULL: null and undefined (which has no JSON form) are stored as NULL. */
const jsonOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
const parseOrNull = (s: string | null): unknown => (s === null ? null : JSON.parse(s));

export function restorePointStore(db: Db): RestorePointStore {
  return {
    async insert(p) {
      try {
        const row = await db
          .insertInto('restore_points')
          .values({
            id: p.id,
            policy_id: p.policyId,
            policy_name: p.policyName,
            account_id: p.accountId,
            aws_account_id: p.awsAccountId,
            region: p.region,
            instance_id: p.instanceId,
            session_id: p.sessionId,
            task_id: p.taskId,
            created_at: p.createdAt,
            state: p.state,
            configuration: jsonOrNull(p.configuration),
            overflow: jsonOrNull(p.overflow),
            // The record has no separate insertion time: it was last changed at its instant.
            updated_at: p.createdAt,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toPoint(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `a restore point with id ${p.id} exists`, { cause: err });
        }
        throw err;
      }
    },

    async get(id) {
      const row = await db.selectFrom('restore_points').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toPoint(row);
    },

    async list({ limit, before, instanceId, policyId, accountId, region, states, orphaned }) {
      if (states !== undefined && states.length === 0) return [];
      let q = db
        .selectFrom('restore_points')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit);
      if (instanceId !== undefined) q = q.where('instance_id', '=', instanceId);
      if (policyId !== undefined) q = q.where('policy_id', '=', policyId);
      if (accountId !== undefined) q = q.where('account_id', '=', accountId);
      if (region !== undefined) q = q.where('region', '=', region);
      q = states === undefined ? q.where('state', '<>', 'deleted') : q.where('state', 'in', [...states]);
      if (orphaned === true) {
        q = q
          .where('policy_id', 'is not', null)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('policies')
                  .select('policies.id')
                  .whereRef('policies.id', '=', 'restore_points.policy_id'),
              ),
            ),
          );
      }
      if (before !== undefined) {
        q = q.where((eb) =>
          eb.or([
            eb('created_at', '<', before.createdAt),
            eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
          ]),
        );
      }
      return (await q.execute()).map(toPoint);
    },

    async update(id, changes, at) {
      let q = db.updateTable('restore_points').set({ updated_at: at }).where('id', '=', id);
      if (changes.state !== undefined) q = q.set({ state: changes.state });
      if (changes.configuration !== undefined)
        q = q.set({ configuration: jsonOrNull(changes.configuration) });
      if (changes.overflow !== undefined) q = q.set({ overflow: jsonOrNull(changes.overflow) });
      if (changes.createdAt !== undefined) q = q.set({ created_at: changes.createdAt });
      const row = await q.returningAll().executeTakeFirst();
      if (!row) throw new CatalogError('NOT_FOUND', `no restore point with id ${id}`);
      return toPoint(row);
    },

    async addSnapshot(s) {
      try {
        await db
          .insertInto('point_snapshots')
          .values({
            snapshot_id: s.snapshotId,
            point_id: s.pointId,
            role: s.role,
            account_id: s.accountId,
            aws_account_id: s.awsAccountId,
            region: s.region,
            device: s.device,
            volume_id: s.volumeId,
            size_gib: s.sizeGiB,
            encrypted: s.encrypted ? 1 : 0,
            kms_key_id: s.kmsKeyId,
            state: s.state,
            sealed: s.sealed ? 1 : 0,
            source_snapshot_id: s.sourceSnapshotId,
            target: s.target,
            created_at: s.createdAt,
            deleted_at: s.deletedAt,
          })
          .execute();
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `snapshot ${s.snapshotId} is recorded already`, { cause: err });
        }
        if (isForeignKeyViolation(err)) {
          throw new CatalogError('NOT_FOUND', `no restore point with id ${s.pointId}`, { cause: err });
        }
        throw err;
      }
    },

    async updateSnapshot(snapshotId, c) {
      const set: Partial<Selectable<PointSnapshotsTable>> = {};
      if (c.state !== undefined) set.state = c.state;
      if (c.sealed !== undefined) set.sealed = c.sealed ? 1 : 0;
      if (c.sizeGiB !== undefined) set.size_gib = c.sizeGiB;
      if (c.encrypted !== undefined) set.encrypted = c.encrypted ? 1 : 0;
      if (c.kmsKeyId !== undefined) set.kms_key_id = c.kmsKeyId;
      if (c.deletedAt !== undefined) set.deleted_at = c.deletedAt;
      let q = db.updateTable('point_snapshots').where('snapshot_id', '=', snapshotId);
      // An empty change still answers the row (and NOT_FOUND): set the key to itself.
      q = Object.keys(set).length > 0 ? q.set(set) : q.set((eb) => ({ snapshot_id: eb.ref('snapshot_id') }));
      const row = await q.returningAll().executeTakeFirst();
      if (!row) throw new CatalogError('NOT_FOUND', `no snapshot ${snapshotId} in any restore point`);
      return toSnapshot(row);
    },

    async getSnapshot(snapshotId) {
      const row = await db
        .selectFrom('point_snapshots')
        .selectAll()
        .where('snapshot_id', '=', snapshotId)
        .executeTakeFirst();
      return row && toSnapshot(row);
    },

    async snapshotsOf(pointIds) {
      if (pointIds.length === 0) return [];
      const rows = await db
        .selectFrom('point_snapshots')
        .selectAll()
        .where('point_id', 'in', pointIds)
        .orderBy('point_id')
        // Sources before their replicas (not the alphabetical order of the role names).
        .orderBy(sql`case when role = 'source' then 0 else 1 end`)
        .orderBy('device')
        // Replicas of one device to several targets: a stable order all the same (coalesce: SQLite sorts NULLs
        // first, PostgreSQL last).
        .orderBy(sql`coalesce(target, '')`)
        .orderBy('snapshot_id')
        .execute();
      return rows.map(toSnapshot);
    },

    async snapshotsWhere({ states, sealed, accountId, region, limit }) {
      if (states !== undefined && states.length === 0) return [];
      let q = db
        .selectFrom('point_snapshots')
        .selectAll()
        .orderBy('created_at')
        .orderBy('snapshot_id')
        .limit(limit);
      if (states !== undefined) q = q.where('state', 'in', [...states]);
      if (sealed !== undefined) q = q.where('sealed', '=', sealed ? 1 : 0);
      if (accountId !== undefined) q = q.where('account_id', '=', accountId);
      if (region !== undefined) q = q.where('region', '=', region);
      return (await q.execute()).map(toSnapshot);
    },

    async addHold(h) {
      try {
        await db
          .insertInto('point_holds')
          .values({
            id: h.id,
            point_id: h.pointId,
            kind: h.kind,
            reason: h.reason,
            created_by: h.createdBy,
            created_at: h.createdAt,
          })
          .execute();
      } catch (err) {
        if (isForeignKeyViolation(err)) {
          throw new CatalogError('NOT_FOUND', `no restore point with id ${h.pointId}`, { cause: err });
        }
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `a hold with id ${h.id} exists`, { cause: err });
        }
        throw err;
      }
    },

    async removeHolds(pointId, kind) {
      let q = db.deleteFrom('point_holds').where('point_id', '=', pointId);
      if (kind !== undefined) q = q.where('kind', '=', kind);
      const { numDeletedRows } = await q.executeTakeFirstOrThrow();
      return Number(numDeletedRows);
    },

    async holdsOf(pointIds) {
      if (pointIds.length === 0) return [];
      const rows = await db
        .selectFrom('point_holds')
        .selectAll()
        .where('point_id', 'in', pointIds)
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return rows.map(toHold);
    },
  };
}

function toPoint(row: Selectable<RestorePointsTable>): RestorePointRecord {
  return {
    id: row.id,
    policyId: row.policy_id,
    policyName: row.policy_name,
    accountId: row.account_id,
    awsAccountId: row.aws_account_id,
    region: row.region,
    instanceId: row.instance_id,
    sessionId: row.session_id,
    taskId: row.task_id,
    createdAt: row.created_at,
    state: row.state,
    configuration: parseOrNull(row.configuration),
    overflow: parseOrNull(row.overflow),
    updatedAt: row.updated_at,
  };
}

function toSnapshot(row: Selectable<PointSnapshotsTable>): PointSnapshotRecord {
  return {
    snapshotId: row.snapshot_id,
    pointId: row.point_id,
    role: row.role,
    accountId: row.account_id,
    awsAccountId: row.aws_account_id,
    region: row.region,
    device: row.device,
    volumeId: row.volume_id,
    sizeGiB: row.size_gib,
    encrypted: row.encrypted !== 0,
    kmsKeyId: row.kms_key_id,
    state: row.state,
    sealed: row.sealed !== 0,
    sourceSnapshotId: row.source_snapshot_id,
    target: row.target,
    createdAt: row.created_at,
    deletedAt: row.deleted_at,
  };
}

function toHold(row: Selectable<PointHoldsTable>): HoldRecord {
  return {
    id: row.id,
    pointId: row.point_id,
    kind: row.kind,
    reason: row.reason,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}
