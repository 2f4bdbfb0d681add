import type { Selectable } from 'kysely';
import type { SessionsTable, TaskLogTable } from '../schema.js';
import {
  CatalogError,
  type SessionRecord,
  type SessionStore,
  TASK_STATES,
  type TaskLogLine,
  type TaskState,
} from '../types.js';
import { type Db, isUniqueViolation, toCount } from './shared.js';

export function sessionStore(db: Db): SessionStore {
  /** Tasks per state of these sessions, every state present. */
  async function countsOf(ids: string[]): Promise<Map<string, Record<TaskState, number>>> {
    const out = new Map<string, Record<TaskState, number>>();
    for (const id of ids) out.set(id, emptyCounts());
    if (ids.length === 0) return out;
    const rows = await db
      .selectFrom('tasks')
      .select(['session_id', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('session_id', 'in', ids)
      .groupBy(['session_id', 'state'])
      .execute();
    for (const r of rows) {
      const counts = out.get(r.session_id);
      if (counts && r.state in counts) counts[r.state] = toCount(r.n);
    }
    return out;
  }

  async function withCounts(rows: Selectable<SessionsTable>[]): Promise<SessionRecord[]> {
    const counts = await countsOf(rows.map((r) => r.id));
    return rows.map((r) => toSession(r, counts.get(r.id) ?? emptyCounts()));
  }

  return {
    async insert(s) {
      try {
        const row = await db
          .insertInto('sessions')
          .values({
            id: s.id,
            kind: s.kind,
            name: s.name,
            state: 'queued',
            created_by: s.createdBy,
            created_at: s.createdAt,
            started_at: null,
            ended_at: null,
            progress: 0,
            summary: null,
            cancel_requested: 0,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toSession(row, emptyCounts());
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new CatalogError('CONFLICT', `a session with id ${s.id} exists`, { cause: err });
        }
        throw err;
      }
    },

    async get(id) {
      const row = await db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst();
      return row && (await withCounts([row]))[0];
    },

    async list({ limit, before, state, kind }) {
      let q = db
        .selectFrom('sessions')
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit);
      if (state !== undefined) q = q.where('state', '=', state);
      if (kind !== undefined) q = q.where('kind', '=', kind);
      if (before !== undefined) {
        q = q.where((eb) =>
          eb.or([
            eb('created_at', '<', before.createdAt),
            eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)]),
          ]),
        );
      }
      return withCounts(await q.execute());
    },

    async update(id, changes) {
      let q = db.updateTable('sessions').where('id', '=', id);
      const set: Partial<Selectable<SessionsTable>> = {};
      if (changes.state !== undefined) set.state = changes.state;
      if (changes.startedAt !== undefined) set.started_at = changes.startedAt;
      if (changes.endedAt !== undefined) set.ended_at = changes.endedAt;
      if (changes.progress !== undefined) set.progress = changes.progress;
      if (changes.summary !== undefined) {
        set.summary = changes.summary === null ? null : JSON.stringify(changes.summary);
      }
      if (changes.cancelRequested !== undefined) set.cancel_requested = changes.cancelRequested ? 1 : 0;
      // An empty change still answers the row (and NOT_FOUND): set the id to itself.
      q = Object.keys(set).length > 0 ? q.set(set) : q.set((eb) => ({ id: eb.ref('id') }));
      const row = await q.returningAll().executeTakeFirst();
      if (!row) throw new CatalogError('NOT_FOUND', `no session with id ${id}`);
      return (await withCounts([row]))[0]!;
    },

    async unfinished() {
      const rows = await db
        .selectFrom('sessions')
        .selectAll()
        .where('state', 'in', ['queued', 'running'])
        .orderBy('created_at')
        .orderBy('id')
        .execute();
      return withCounts(rows);
    },

    async appendLog(line) {
      const row = await db
        .insertInto('task_log')
        .values({
          session_id: line.sessionId,
          task_id: line.taskId,
          at: line.at,
          level: line.level,
          message: line.message,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toLine(row);
    },

    async log({ sessionId, taskId, after, limit }) {
      let q = db
        .selectFrom('task_log')
        .selectAll()
        .where('session_id', '=', sessionId)
        .orderBy('id')
        .limit(limit);
      if (taskId !== undefined) q = q.where('task_id', '=', taskId);
      if (after !== undefined) q = q.where('id', '>', after);
      return (await q.execute()).map(toLine);
    },
  };
}

export function emptyCounts(): Record<TaskState, number> {
  return Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
}

function toSession(row: Selectable<SessionsTable>, counts: Record<TaskState, number>): SessionRecord {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    state: row.state,
    createdBy: row.created_by,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    progress: row.progress,
    counts,
    summary: row.summary === null ? null : (JSON.parse(row.summary) as Record<string, unknown>),
    cancelRequested: row.cancel_requested !== 0,
  };
}

function toLine(row: Selectable<TaskLogTable>): TaskLogLine {
  return {
    id: row.id,
    sessionId: row.session_id,
    taskId: row.task_id,
    at: row.at,
    level: row.level,
    message: row.message,
  };
}
