import type { Kysely } from 'kysely';
import type { Migration } from './migration.js';

/**
 * AWS accounts (a role to assume with the appliance's ExternalId, or sealed access keys), the inventory of their
 * instances per region (tags in their own table, so that a tag filter is an index lookup on any database), and
 * the outcome of the last refresh of each account × region. Independent of migration 003 (the job engine's).
 */
export const migration004: Migration = {
  version: 4,
  name: 'accounts-and-inventory',
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('accounts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('aws_account_id', 'text', (c) => c.notNull())
      .addColumn('principal_arn', 'text', (c) => c.notNull())
      .addColumn('role_arn', 'text')
      .addColumn('external_id', 'text')
      // Access keys only, sealed with the appliance's secret (purpose account-credentials); never plain.
      .addColumn('sealed_credentials', 'text')
      .addColumn('access_key_hint', 'text')
      // JSON array of region names.
      .addColumn('regions', 'text', (c) => c.notNull())
      // JSON of the last permission check, or NULL.
      .addColumn('check_result', 'text')
      .addColumn('checked_at', 'text')
      .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('inventory_regions')
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('attempted_at', 'text', (c) => c.notNull())
      .addColumn('refreshed_at', 'text')
      .addColumn('error', 'text')
      .addColumn('instances', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('inventory_regions_pk', ['account_id', 'region'])
      .execute();

    // id = ACCOUNT-ID/REGION/INSTANCE-ID: one ordered key for keyset paging.
    await db.schema
      .createTable('instances')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'text', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('instance_type', 'text', (c) => c.notNull())
      .addColumn('availability_zone', 'text')
      .addColumn('vpc_id', 'text')
      .addColumn('subnet_id', 'text')
      .addColumn('launched_at', 'text')
      // JSON object and JSON array of volumes.
      .addColumn('tags', 'text', (c) => c.notNull())
      .addColumn('volumes', 'text', (c) => c.notNull())
      .addColumn('first_seen_at', 'text', (c) => c.notNull())
      .addColumn('last_seen_at', 'text', (c) => c.notNull())
      .addColumn('gone_at', 'text')
      .execute();
    await db.schema
      .createIndex('instances_where')
      .on('instances')
      .columns(['account_id', 'region', 'id'])
      .execute();
    await db.schema.createIndex('instances_region').on('instances').columns(['region', 'id']).execute();
    await db.schema.createIndex('instances_state').on('instances').columns(['state', 'id']).execute();

    await db.schema
      .createTable('instance_tags')
      .addColumn('instance', 'text', (c) => c.notNull().references('instances.id').onDelete('cascade'))
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('value', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('instance_tags_pk', ['instance', 'key'])
      .execute();
    await db.schema
      .createIndex('instance_tags_kv')
      .on('instance_tags')
      .columns(['key', 'value', 'instance'])
      .execute();
  },
};
