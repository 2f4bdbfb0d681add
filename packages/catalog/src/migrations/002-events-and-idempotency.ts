import type { Kysely } from 'kysely';
import type { Migration } from './migration.js';

/**
 * The event stream behind SSE, idempotency keys for retried POSTs, restore operators limited by instance tags,
 * and the reason an actor gave (restores require one). The two ALTERs add nullable columns: existing users stay
 * unlimited, existing audit entries have no reason.
 */
export const migration002: Migration = {
  version: 2,
  name: 'events-and-idempotency',
  async up(db: Kysely<unknown>) {
    // AUTOINCREMENT: an SSE client's Last-Event-ID must never name a later, different event after a trim.
    await db.schema
      .createTable('events')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('topic', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();

    // No foreign key to users: records expire on their own (deleteOlderThan), and one outliving its user is harmless.
    await db.schema
      .createTable('idempotency')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('request_hash', 'text', (c) => c.notNull())
      .addColumn('status', 'integer', (c) => c.notNull())
      .addColumn('content_type', 'text', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_pk', ['user_id', 'key'])
      .execute();
    await db.schema.createIndex('idempotency_created').on('idempotency').column('created_at').execute();

    await db.schema.alterTable('users').addColumn('restore_tags', 'text').execute();
    await db.schema.alterTable('audit').addColumn('reason', 'text').execute();
  },
};
