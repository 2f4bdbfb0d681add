import type { Selectable } from 'kysely';
import type { AuditTable } from '../schema.js';
import type { AuditEntry, AuditStore } from '../types.js';
import type { Db } from './shared.js';

export function auditStore(db: Db): AuditStore {
  return {
    async append(entry) {
      const row = await db
        .insertInto('audit')
        .values({
          at: entry.at,
          actor: entry.actor,
          address: entry.address,
          action: entry.action,
          target: entry.target,
          outcome: entry.outcome,
          reason: entry.reason,
          details: JSON.stringify(entry.details),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toEntry(row);
    },

    async list({ limit, before, actor, action, since }) {
      let q = db.selectFrom('audit').selectAll().orderBy('id', 'desc').limit(limit);
      if (before !== undefined) q = q.where('id', '<', before);
      if (actor !== undefined) q = q.where('actor', '=', actor);
      if (since !== undefined) q = q.where('at', '>=', since);
      if (action?.endsWith('.')) {
        // A prefix as a range, which uses the (action, id) index in SQLite and PostgreSQL alike (LIKE would not,
        // and treats _ and % in the prefix as wildcards): 'user.' <= action < 'user/', '/' being '.' + 1.
        q = q.where('action', '>=', action).where('action', '<', `${action.slice(0, -1)}/`);
      } else if (action !== undefined) {
        q = q.where('action', '=', action);
      }
      return (await q.execute()).map(toEntry);
    },
  };
}

function toEntry(row: Selectable<AuditTable>): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    address: row.address,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    reason: row.reason,
    details: JSON.parse(row.details) as Record<string, unknown>,
  };
}
