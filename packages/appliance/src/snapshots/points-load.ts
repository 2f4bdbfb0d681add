import type { Catalog, RestorePointQuery } from '@lifeboat/catalog';
import type { PointState } from './retention.js';

/** Every restore point matching the query (all pages), with its snapshots and holds. */
export async function loadPointStates(
  catalog: Catalog,
  query: Omit<RestorePointQuery, 'limit' | 'before'>,
): Promise<PointState[]> {
  const points = [];
  let before: RestorePointQuery['before'];
  for (;;) {
    const page = await catalog.points.list({ ...query, limit: 500, ...(before && { before }) });
    points.push(...page);
    if (page.length < 500) break;
    const last = page[page.length - 1]!;
    before = { createdAt: last.createdAt, id: last.id };
  }
  const ids = points.map((p) => p.id);
  const snapshots = ids.length > 0 ? await catalog.points.snapshotsOf(ids) : [];
  const holds = ids.length > 0 ? await catalog.points.holdsOf(ids) : [];
  return points.map((point) => ({
    point,
    snapshots: snapshots.filter((s) => s.pointId === point.id),
    holds: holds.filter((h) => h.pointId === point.id),
  }));
}
