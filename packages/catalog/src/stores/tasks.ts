import type { Selectable } from 'kysely';
import type { TasksTable } from '../schema.js';
import { CatalogError, type TaskRecord, type TaskStore } from '../types.js';
import { type Db, isUniqueViolation } from './shared.js';

/** undefined has no JSON form: stored (and read back) as null. */
const json = (v: unknown): string => JSON.stringify(v) ?? 'null';

export function taskStore(db: Db): TaskStore {
  return {
    async insert(t) {
      try {
        const row = await db
          .insertInto('tasks')
          .values({
            id: t.id,
            session_id: t.sessionId,
            seq: t.seq,
            kind: t.kind,
            resource: t.resource,
            account: t.account,
            region: t.region,
            input: json(t.input),
            state: 'queued',
            attempts: 0,
            progress: 0,
            note: null,
            started_at: null,
            ended_at: null,
            error_code: null,
            error_message: null,
            checkpoint: null,
            result: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toTask(row);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError(
            'CONFLICT',
            `task ${t.id} (or seq ${t.seq} of session ${t.sessionId}) exists`,
            {
              cause: err,
            },
          );
        }
        throw err;
      }
    },

    async get(id) {
      const row = await db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toTask(row);
    },

    async ofSession(sessionId) {
      const rows = await db
        .selectFrom('tasks')
        .selectAll()
        .where('session_id', '=', sessionId)
        .orderBy('seq')
        .execute();
      return rows.map(toTask);
    },

    async inStates(states) {
      if (states.length === 0) return [];
      const rows = await db
        .selectFrom('tasks')
        .selectAll()
        .where('state', 'in', [...states])
        .orderBy('session_id')
        .orderBy('seq')
        .execute();
      return rows.map(toTask);
    },

    async update(id, c) {
      const set: Partial<Selectable<TasksTable>> = {};
      if (c.state !== undefined) set.state = c.state;
      if (c.attempts !== undefined) set.attempts = c.attempts;
      if (c.progress !== undefined) set.progress = c.progress;
      if (c.note !== undefined) set.note = c.note;
      if (c.startedAt !== undefined) set.started_at = c.startedAt;
      if (c.endedAt !== undefined) set.ended_at = c.endedAt;
      if (c.error !== undefined) {
        set.error_code = c.error?.code ?? null;
        set.error_message = c.error?.message ?? null;
      }
      if (c.checkpoint !== undefined) set.checkpoint = c.checkpoint === null ? null : json(c.checkpoint);
      if (c.result !== undefined) set.result = c.result === null ? null : json(c.result);
      let q = db.updateTable('tasks').where('id', '=', id);
      q = Object.keys(set).length > 0 ? q.set(set) : q.set((eb) => ({ id: eb.ref('id') }));
      const row = await q.returningAll().executeTakeFirst();
      if (!row) throw new CatalogError('NOT_FOUND', `no task with id ${id}`);
      return toTask(row);
    },
  };
}

function toTask(row: Selectable<TasksTable>): TaskRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    seq: row.seq,
    kind: row.kind,
    resource: row.resource,
    account: row.account,
    region: row.region,
    input: JSON.parse(row.input),
    state: row.state,
    attempts: row.attempts,
    progress: row.progress,
    note: row.note,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    error:
      row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? row.error_code },
    checkpoint: row.checkpoint === null ? null : JSON.parse(row.checkpoint),
    result: row.result === null ? null : JSON.parse(row.result),
  };
}
