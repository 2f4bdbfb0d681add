import type { Selectable } from 'kysely';
import type { InstancesTable, InventoryRegionsTable } from '../schema.js';
import {
  type InstanceRecord,
  type InventoryStore,
  instanceKey,
  type RegionStatusRecord,
  type VolumeRecord,
} from '../types.js';
import { type Db, toCount } from './shared.js';

/** SQLite's default limit of bound parameters is 32766; deletes go in slices well below it. */
const SLICE = 500;

export function inventoryStore(db: Db): InventoryStore {
  return {
    async reconcile(accountId, region, seen, at) {
      const existing = await db
        .selectFrom('instances')
        .select(['id', 'gone_at'])
        .where('account_id', '=', accountId)
        .where('region', '=', region)
        .execute();
      const seenKeys = new Set<string>();
      for (const i of seen) {
        const id = instanceKey(accountId, region, i.instanceId);
        seenKeys.add(id);
        const values = {
          name: i.name,
          state: i.state,
          instance_type: i.instanceType,
          availability_zone: i.availabilityZone,
          vpc_id: i.vpcId,
          subnet_id: i.subnetId,
          launched_at: i.launchedAt,
          tags: JSON.stringify(i.tags),
          volumes: JSON.stringify(i.volumes),
          last_seen_at: at,
          gone_at: null,
        };
        await db
          .insertInto('instances')
          .values({
            id,
            account_id: accountId,
            region,
            instance_id: i.instanceId,
            first_seen_at: at,
            ...values,
          })
          .onConflict((oc) => oc.column('id').doUpdateSet(values))
          .execute();
        await db.deleteFrom('instance_tags').where('instance', '=', id).execute();
        const tags = Object.entries(i.tags).map(([key, value]) => ({ instance: id, key, value }));
        if (tags.length > 0) await db.insertInto('instance_tags').values(tags).execute();
      }
      const gone = existing.filter((r) => r.gone_at === null && !seenKeys.has(r.id)).map((r) => r.id);
      for (let i = 0; i < gone.length; i += SLICE) {
        await db
          .updateTable('instances')
          .set({ state: 'gone', gone_at: at })
          .where('id', 'in', gone.slice(i, i + SLICE))
          .execute();
      }
      return { gone };
    },

    async remove(keys) {
      let n = 0;
      for (let i = 0; i < keys.length; i += SLICE) {
        const { numDeletedRows } = await db
          .deleteFrom('instances')
          .where('id', 'in', keys.slice(i, i + SLICE))
          .executeTakeFirstOrThrow();
        n += toCount(numDeletedRows);
      }
      return n;
    },

    async get(accountId, region, instanceId) {
      const row = await db
        .selectFrom('instances')
        .selectAll()
        .where('id', '=', instanceKey(accountId, region, instanceId))
        .executeTakeFirst();
      return row && toInstance(row);
    },

    async list({ limit, after, accountId, region, state, tags }) {
      let q = db.selectFrom('instances').selectAll().orderBy('id').limit(limit);
      if (after !== undefined) q = q.where('id', '>', after);
      if (accountId !== undefined) q = q.where('account_id', '=', accountId);
      if (region !== undefined) q = q.where('region', '=', region);
      if (state !== undefined) q = q.where('state', '=', state);
      for (const [key, value] of Object.entries(tags ?? {})) {
        q = q.where('id', 'in', (eb) =>
          eb.selectFrom('instance_tags').select('instance').where('key', '=', key).where('value', '=', value),
        );
      }
      return (await q.execute()).map(toInstance);
    },

    async setRegionStatus(s) {
      const values = {
        attempted_at: s.attemptedAt,
        refreshed_at: s.refreshedAt,
        error: s.error,
        instances: s.instances,
      };
      await db
        .insertInto('inventory_regions')
        .values({ account_id: s.accountId, region: s.region, ...values })
        .onConflict((oc) => oc.columns(['account_id', 'region']).doUpdateSet(values))
        .execute();
    },

    async regionStatus(accountId) {
      let q = db.selectFrom('inventory_regions').selectAll().orderBy('account_id').orderBy('region');
      if (accountId !== undefined) q = q.where('account_id', '=', accountId);
      return (await q.execute()).map(toStatus);
    },

    async dropRegions(accountId, keep) {
      let q = db.deleteFrom('instances').where('account_id', '=', accountId);
      if (keep.length > 0) q = q.where('region', 'not in', keep);
      await q.execute();
      let r = db.deleteFrom('inventory_regions').where('account_id', '=', accountId);
      if (keep.length > 0) r = r.where('region', 'not in', keep);
      await r.execute();
    },
  };
}

function toInstance(row: Selectable<InstancesTable>): InstanceRecord {
  return {
    accountId: row.account_id,
    region: row.region,
    instanceId: row.instance_id,
    name: row.name,
    state: row.state,
    instanceType: row.instance_type,
    availabilityZone: row.availability_zone,
    vpcId: row.vpc_id,
    subnetId: row.subnet_id,
    launchedAt: row.launched_at,
    tags: JSON.parse(row.tags) as Record<string, string>,
    volumes: JSON.parse(row.volumes) as VolumeRecord[],
    firstSeenAt: row.first_seen_at,
    lastSeenAt: row.last_seen_at,
    goneAt: row.gone_at,
  };
}

function toStatus(row: Selectable<InventoryRegionsTable>): RegionStatusRecord {
  return {
    accountId: row.account_id,
    region: row.region,
    attemptedAt: row.attempted_at,
    refreshedAt: row.refreshed_at,
    error: row.error,
    instances: row.instances,
  };
}
