import type { Kysely } from 'kysely';
import type { Migration } from './migration.js';

/**
 * The job engine: sessions (one per run), their tasks (one per resource) with state, timings, progress, error and
 * the checkpoint a handler recorded to resume from after a restart, and the log lines of both in their own table
 * (paged by id). Independent of migration 004 (accounts and inventory).
 */
export const migration003: Migration = {
  version: 3,
  name: 'sessions-and-tasks',
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('started_at', 'text')
      .addColumn('ended_at', 'text')
      .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0))
      .addColumn('summary', 'text')
      .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    // The list is newest first, optionally by state or kind: each index ends in the paging key.
    await db.schema.createIndex('sessions_created').on('sessions').columns(['created_at', 'id']).execute();
    await db.schema
      .createIndex('sessions_state')
      .on('sessions')
      .columns(['state', 'created_at', 'id'])
      .execute();
    await db.schema
      .createIndex('sessions_kind')
      .on('sessions')
      .columns(['kind', 'created_at', 'id'])
      .execute();

    await db.schema
      .createTable('tasks')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('resource', 'text')
      .addColumn('account', 'text')
      .addColumn('region', 'text')
      .addColumn('input', 'text', (c) => c.notNull().defaultTo('null'))
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0))
      .addColumn('note', 'text')
      .addColumn('started_at', 'text')
      .addColumn('ended_at', 'text')
      .addColumn('error_code', 'text')
      .addColumn('error_message', 'text')
      .addColumn('checkpoint', 'text')
      .addColumn('result', 'text')
      .addUniqueConstraint('tasks_session_seq', ['session_id', 'seq'])
      .execute();
    // A restart looks for tasks left running or queued.
    await db.schema.createIndex('tasks_state').on('tasks').columns(['state', 'session_id', 'seq']).execute();

    // AUTOINCREMENT: a follower's `after` never names a later, different line.
    await db.schema
      .createTable('task_log')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
      .addColumn('task_id', 'text')
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('level', 'text', (c) => c.notNull())
      .addColumn('message', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('task_log_session').on('task_log').columns(['session_id', 'id']).execute();
    await db.schema.createIndex('task_log_task').on('task_log').columns(['task_id', 'id']).execute();
  },
};
