import type { Kysely } from 'kysely';
import type { Migration } from './migration.js';

/**
 * Backup policies (their validated document as JSON, with the scheduler's bookkeeping beside it), the restore
 * points they make (one per instance and instant), each point's snapshots (sources and their replicas) and the
 * holds that keep a point from being deleted, and how many AWS calls each session made per API and region.
 *
 * Restore points have no foreign key to policies or accounts: a point outlives the policy that made it (it is
 * then orphaned, and still restorable) and the registration of the account it lives in. Nor to sessions: the
 * history of runs may be pruned long before the points they made expire.
 */
export const migration005: Migration = {
  version: 5,
  name: 'policies-and-restore-points',
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('policies')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      // JSON object: the document as validated by the appliance (its schema evolves there, not here).
      .addColumn('document', 'text', (c) => c.notNull())
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      // The scheduler's state: not part of the document, so writing it bumps no version.
      .addColumn('last_due_at', 'text')
      .addColumn('last_session_id', 'text')
      .execute();

    await db.schema
      .createTable('restore_points')
      .addColumn('id', 'text', (c) => c.primaryKey())
      // No foreign keys (see above): the name is copied so that an orphaned point still says what made it.
      .addColumn('policy_id', 'text')
      .addColumn('policy_name', 'text')
      .addColumn('account_id', 'text')
      .addColumn('aws_account_id', 'text', (c) => c.notNull())
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('instance_id', 'text', (c) => c.notNull())
      .addColumn('session_id', 'text')
      .addColumn('task_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      // JSON or NULL: the instance's configuration, and what did not fit into the snapshots' seals.
      .addColumn('configuration', 'text')
      .addColumn('overflow', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();
    // Lists are newest first (created_at, id descending), by instance (an instance's restore points), by policy
    // (retention, orphans) or unfiltered: each index ends in the paging key, so a page is a range scan.
    await db.schema
      .createIndex('restore_points_instance')
      .on('restore_points')
      .columns(['instance_id', 'created_at', 'id'])
      .execute();
    await db.schema
      .createIndex('restore_points_policy')
      .on('restore_points')
      .columns(['policy_id', 'created_at', 'id'])
      .execute();
    await db.schema
      .createIndex('restore_points_created')
      .on('restore_points')
      .columns(['created_at', 'id'])
      .execute();

    // A snapshot id is unique across regions and accounts (EC2 ids are global), so it is the key on its own.
    await db.schema
      .createTable('point_snapshots')
      .addColumn('snapshot_id', 'text', (c) => c.primaryKey())
      .addColumn('point_id', 'text', (c) => c.notNull().references('restore_points.id').onDelete('cascade'))
      .addColumn('role', 'text', (c) => c.notNull())
      // No foreign key to accounts: a replica may sit in an account that is not (or no longer) registered.
      .addColumn('account_id', 'text')
      .addColumn('aws_account_id', 'text', (c) => c.notNull())
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('device', 'text', (c) => c.notNull())
      .addColumn('volume_id', 'text')
      .addColumn('size_gib', 'integer', (c) => c.notNull())
      .addColumn('encrypted', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('kms_key_id', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('sealed', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('source_snapshot_id', 'text')
      .addColumn('target', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('deleted_at', 'text')
      .execute();
    // snapshotsOf and the cascade from restore_points look snapshots up by point.
    await db.schema.createIndex('point_snapshots_point').on('point_snapshots').column('point_id').execute();
    // The waiter (pending) and the janitor (not sealed) ask by state and seal, oldest first.
    await db.schema
      .createIndex('point_snapshots_state')
      .on('point_snapshots')
      .columns(['state', 'sealed', 'created_at'])
      .execute();

    await db.schema
      .createTable('point_holds')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('point_id', 'text', (c) => c.notNull().references('restore_points.id').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    // holdsOf, removeHolds and the cascade from restore_points.
    await db.schema
      .createIndex('point_holds_point')
      .on('point_holds')
      .columns(['point_id', 'kind'])
      .execute();

    // One row per session × API × region, counts added as the session runs (an upsert): small however many
    // calls a long session makes. The key is also ofSession's order.
    await db.schema
      .createTable('session_aws_calls')
      .addColumn('session_id', 'text', (c) => c.notNull().references('sessions.id').onDelete('cascade'))
      .addColumn('api', 'text', (c) => c.notNull())
      .addColumn('region', 'text', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('session_aws_calls_pk', ['session_id', 'api', 'region'])
      .execute();
  },
};
