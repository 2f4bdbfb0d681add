import { RepositoryError } from './errors.js';
import type { Manifest } from './manifest.js';

/**
 * Which restore points to keep, with restic's semantics: points are grouped (by resource, and by the set of
 * disk names, so that a volume added to an instance starts a new series); within a group, newest first, each rule
 * keeps points independently and a point is kept if any rule keeps it.
 * - last N: the N newest;
 * - hourly/daily/weekly/monthly/yearly N: the newest point of each of the N newest hours/days/ISO weeks/months/
 *   years that have points (periods without points do not count, as in restic);
 * - within D: every point whose time is within D of the group's newest point (not of now: a resource that stopped
 *   being backed up keeps its last points);
 * - when a period rule's count is not filled, the group's oldest point is kept as well (restic 0.17).
 * Periods are computed in UTC. A policy that keeps nothing is refused: forgetting every point of a resource must
 * be asked for explicitly (forget by id).
 */
export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  withinMs?: number;
}

export interface RetentionDecision {
  point: Manifest;
  keep: boolean;
  reasons: string[]; // e.g. ["last 3", "daily 7"]
}

export interface RetentionGroup {
  key: string; // "<resource id> [disk, disk]"
  decisions: RetentionDecision[]; // newest first
}

type Bucket = (t: Date) => string;

const BUCKETS: Record<Exclude<keyof RetentionPolicy, 'last' | 'withinMs'>, Bucket> = {
  hourly: (t) => t.toISOString().slice(0, 13),
  daily: (t) => t.toISOString().slice(0, 10),
  weekly: isoWeek,
  monthly: (t) => t.toISOString().slice(0, 7),
  yearly: (t) => t.toISOString().slice(0, 4),
};

export function validatePolicy(policy: RetentionPolicy): void {
  const counts = Object.entries(policy).filter(([k]) => k !== 'withinMs');
  for (const [k, v] of counts) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
      throw new RepositoryError('INVALID_ARGUMENT', `keep ${k} must be a non-negative integer, not ${v}`);
    }
  }
  if (policy.withinMs !== undefined && !(policy.withinMs > 0)) {
    throw new RepositoryError('INVALID_ARGUMENT', 'keep within must be a positive duration');
  }
  if (counts.every(([, v]) => !v) && !policy.withinMs) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      'the retention policy keeps nothing: give at least one --keep-* rule (or forget restore points by id)',
    );
  }
}

export function groupKey(m: Manifest): string {
  return `${m.resource.id} [${m.disks
    .map((d) => d.name)
    .sort()
    .join(', ')}]`;
}

export function applyRetention(points: readonly Manifest[], policy: RetentionPolicy): RetentionGroup[] {
  validatePolicy(policy);
  const groups = new Map<string, Manifest[]>();
  for (const p of points) {
    const k = groupKey(p);
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  return [...groups].map(([key, members]) => ({ key, decisions: decideGroup(members, policy) }));
}

function decideGroup(members: Manifest[], policy: RetentionPolicy): RetentionDecision[] {
  const sorted = [...members].sort(
    (a, b) => b.finishedAt.localeCompare(a.finishedAt) || b.id.localeCompare(a.id),
  );
  const decisions = sorted.map((point) => ({ point, keep: false, reasons: [] as string[] }));
  const keep = (d: RetentionDecision, reason: string) => {
    d.keep = true;
    d.reasons.push(reason);
  };
  for (const d of decisions.slice(0, policy.last ?? 0)) keep(d, `last ${policy.last}`);
  for (const [rule, bucket] of Object.entries(BUCKETS) as Array<[keyof typeof BUCKETS, Bucket]>) {
    const n = policy[rule] ?? 0;
    const seen = new Set<string>();
    for (const d of decisions) {
      if (seen.size >= n) break;
      const b = bucket(new Date(d.point.finishedAt));
      if (seen.has(b)) continue;
      seen.add(b);
      keep(d, `${rule} ${n}`);
    }
    // restic (0.17): when the periods with points do not fill the count, the oldest point is kept too.
    const oldest = decisions.at(-1);
    if (n > 0 && seen.size < n && oldest) keep(oldest, `oldest (${rule} ${n})`);
  }
  if (policy.withinMs && decisions[0]) {
    const newest = Date.parse(decisions[0].point.finishedAt);
    for (const d of decisions)
      if (newest - Date.parse(d.point.finishedAt) < policy.withinMs) keep(d, 'within');
  }
  return decisions;
}

function isoWeek(t: Date): string {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
  const day = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - day); // Thursday of this week decides the ISO year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86400000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Parses durations like 36h, 7d, 2w, 1y6m (y = 365 days, m = 30 days). */
export function parseDuration(text: string): number {
  const units: Record<string, number> = {
    h: 3600e3,
    d: 86400e3,
    w: 7 * 86400e3,
    m: 30 * 86400e3,
    y: 365 * 86400e3,
  };
  const parts = [...text.matchAll(/(\d+)([hdwmy])/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new RepositoryError('INVALID_ARGUMENT', `"${text}" is not a duration like 36h, 7d, 2w, 6m or 1y`);
  }
  return parts.reduce((ms, p) => ms + Number(p[1]) * units[p[2]!]!, 0);
}
