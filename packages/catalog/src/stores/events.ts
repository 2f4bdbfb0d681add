import type { Selectable } from 'kysely';
import type { EventsTable } from '../schema.js';
import type { EventRecord, EventStore } from '../types.js';
import { type Db, toCount } from './shared.js';

export function eventStore(db: Db): EventStore {
  return {
    async append(topic, data, at) {
      const row = await db
        .insertInto('events')
        // undefined has no JSON form; it is stored (and read back) as null.
        .values({ at, topic, data: JSON.stringify(data) ?? 'null' })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toEvent(row);
    },

    async after(afterId, limit) {
      const rows = await db
        .selectFrom('events')
        .selectAll()
        .where('id', '>', afterId)
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toEvent);
    },

    async lastId() {
      const { id } = await db
        .selectFrom('events')
        .select((eb) => eb.fn.max<number | null>('id').as('id'))
        .executeTakeFirstOrThrow();
      return id ?? 0;
    },

    async trim(keep) {
      let q = db.deleteFrom('events');
      if (keep > 0) {
        // Everything below the keep-th newest id. With fewer rows than that the subquery is NULL and
        // `id < NULL` matches nothing.
        q = q.where('id', '<', (eb) =>
          eb
            .selectFrom('events')
            .select('id')
            .orderBy('id', 'desc')
            .limit(1)
            .offset(keep - 1),
        );
      }
      const { numDeletedRows } = await q.executeTakeFirstOrThrow();
      return toCount(numDeletedRows);
    },
  };
}

function toEvent(row: Selectable<EventsTable>): EventRecord {
  return { id: row.id, at: row.at, topic: row.topic, data: JSON.parse(row.data) };
}
