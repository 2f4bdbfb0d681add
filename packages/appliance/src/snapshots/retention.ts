/**
 * Snapshot retention per policy and instance. Sources: a restore point is kept while it is among the `keep`
 * newest, or younger than `keepDays` days (either rule keeps it); replicas: per target, the `keep` newest. A held
 * point is skipped (and the hold named); while the instance is gone, its newest point is never deleted. Points
 * still being made are not touched. Deciding is pure; deleting checks every snapshot's seal first.
 */
import type { HoldRecord, PointSnapshotRecord, RestorePointRecord } from '@lifeboat/catalog';

export interface RetentionRules {
  keep: number;
  keepDays: number;
  /** Per replica target (`<account name>/<region>`); targets not named keep their replicas. */
  replicas: Record<string, number>;
}

export interface PointState {
  point: RestorePointRecord;
  snapshots: PointSnapshotRecord[];
  holds: HoldRecord[];
}

export interface RetentionDecision {
  /** Snapshots to delete, with their point and why. */
  delete: Array<{ point: RestorePointRecord; snapshot: PointSnapshotRecord; reason: string }>;
  /** Points out of retention that stay, and why (held, last of a gone instance). */
  kept: Array<{ point: RestorePointRecord; layer: string; reason: string }>;
}

const DAY_MS = 86_400_000;
const alive = (s: PointSnapshotRecord) => s.state !== 'deleted';
/** A snapshot that makes its point a restore point (counted by keep): alive and not in error. */
const usable = (s: PointSnapshotRecord) => alive(s) && s.state !== 'error';
const settled = (p: RestorePointRecord) => p.state !== 'creating';

/** What retention does to one instance's points (any order; newest first is worked out here). */
export function decideRetention(
  points: PointState[],
  rules: RetentionRules,
  now: number,
  instanceGone: boolean,
): RetentionDecision {
  const out: RetentionDecision = { delete: [], kept: [] };
  const newestFirst = points
    .filter((p) => settled(p.point))
    .sort(
      (a, b) => b.point.createdAt.localeCompare(a.point.createdAt) || b.point.id.localeCompare(a.point.id),
    );

  const sources = newestFirst.filter((p) => p.snapshots.some((s) => s.role === 'source' && alive(s)));
  // i: how many newer points count toward keep; a point whose sources all failed (error) does not count.
  let counted = 0;
  sources.forEach((p) => {
    const i = counted;
    if (p.snapshots.some((s) => s.role === 'source' && usable(s))) counted++;
    const young = rules.keepDays > 0 && Date.parse(p.point.createdAt) >= now - rules.keepDays * DAY_MS;
    if (i < rules.keep || young) return;
    if (p.holds.length > 0) {
      out.kept.push({ point: p.point, layer: 'snapshots', reason: holdText(p.holds) });
      return;
    }
    if (instanceGone && i === 0) {
      out.kept.push({
        point: p.point,
        layer: 'snapshots',
        reason: 'the last restore point of a gone instance',
      });
      return;
    }
    const why = `beyond keep ${rules.keep}${rules.keepDays > 0 ? ` and older than ${rules.keepDays} days` : ''}`;
    for (const s of p.snapshots) {
      if (s.role === 'source' && alive(s)) out.delete.push({ point: p.point, snapshot: s, reason: why });
    }
  });

  for (const [target, keep] of Object.entries(rules.replicas)) {
    const withReplica = newestFirst.filter((p) =>
      p.snapshots.some((s) => s.role === 'replica' && s.target === target && alive(s)),
    );
    let replicasCounted = 0;
    withReplica.forEach((p) => {
      const i = replicasCounted;
      if (p.snapshots.some((s) => s.role === 'replica' && s.target === target && usable(s)))
        replicasCounted++;
      if (i < keep) return;
      if (p.holds.length > 0) {
        out.kept.push({ point: p.point, layer: `replica ${target}`, reason: holdText(p.holds) });
        return;
      }
      if (instanceGone && i === 0) {
        out.kept.push({
          point: p.point,
          layer: `replica ${target}`,
          reason: 'the last replica of a gone instance',
        });
        return;
      }
      for (const s of p.snapshots) {
        if (s.role === 'replica' && s.target === target && alive(s)) {
          out.delete.push({
            point: p.point,
            snapshot: s,
            reason: `replica beyond keep ${keep} in ${target}`,
          });
        }
      }
    });
  }
  return out;
}

function holdText(holds: HoldRecord[]): string {
  return `held: ${holds.map((h) => `${h.kind}${h.reason ? ` (${h.reason})` : ''}`).join(', ')}`;
}

/** A policy document's retention rules. */
export function retentionOf(doc: {
  snapshots: { keep: number; keepDays?: number };
  replicas?: Array<{ account: string; region: string; keep: number }>;
}): RetentionRules {
  return {
    keep: doc.snapshots.keep,
    keepDays: doc.snapshots.keepDays ?? 0,
    replicas: Object.fromEntries((doc.replicas ?? []).map((r) => [`${r.account}/${r.region}`, r.keep])),
  };
}
