import type { Kysely } from 'kysely';
import type { Migration } from './migration.js';

/** Users, their login sessions and the audit log: what the first appliance needed to let anyone in. */
export const migration001: Migration = {
  version: 1,
  name: 'users-and-login',
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('password_changed_at', 'text', (c) => c.notNull())
      .execute();
    // countEnabled(role) on every start and every role change (is there still an administrator?).
    await db.schema.createIndex('users_role').on('users').columns(['role', 'disabled']).execute();

    await db.schema
      .createTable('login_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('token_hash', 'text', (c) => c.notNull().unique())
      .addColumn('csrf_hash', 'text')
      .addColumn('address', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('revoked_at', 'text')
      .execute();
    // revokeAllOfUser and the ON DELETE CASCADE from users both look sessions up by user.
    await db.schema.createIndex('login_sessions_user').on('login_sessions').column('user_id').execute();
    // deleteEnded: expires_at < t OR revoked_at < t (SQLite answers the OR with both indexes).
    await db.schema.createIndex('login_sessions_expires').on('login_sessions').column('expires_at').execute();
    await db.schema.createIndex('login_sessions_revoked').on('login_sessions').column('revoked_at').execute();

    // AUTOINCREMENT: ids are never reused, even after the newest rows are deleted.
    await db.schema
      .createTable('audit')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('actor', 'text')
      .addColumn('address', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
    // The audit list is newest first (id DESC) with optional filters: each index ends in id so that a filtered
    // page is a range scan, not a sort.
    await db.schema.createIndex('audit_action').on('audit').columns(['action', 'id']).execute();
    await db.schema.createIndex('audit_actor').on('audit').columns(['actor', 'id']).execute();
    await db.schema.createIndex('audit_at').on('audit').column('at').execute();
  },
};
