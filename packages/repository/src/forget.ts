import { checkpoint } from './crash.js';
import { RepositoryError } from './errors.js';
import { pointKey } from './format.js';
import { MaintenanceLease } from './lease.js';
import type { Manifest } from './manifest.js';
import type { Repository } from './repository.js';
import { applyRetention, type RetentionGroup, type RetentionPolicy } from './retention.js';

export interface ForgetOptions {
  /** Forget by retention rules ... */
  policy?: RetentionPolicy;
  /** ... or these restore points (ids or unique prefixes). */
  ids?: string[];
  /** Only restore points of this resource. */
  resource?: string;
  dryRun?: boolean;
  lease?: MaintenanceLease;
}

export interface ForgetReport {
  groups: RetentionGroup[];
  removed: string[];
  dryRun: boolean;
}

/**
 * Forgets restore points: deletes their manifests, nothing else (their data goes at the next prune, once nothing
 * else needs it). Runs under the maintenance lease, so one process at a time applies retention.
 */
export async function forget(repo: Repository, options: ForgetOptions): Promise<ForgetReport> {
  if (!options.policy === !options.ids?.length) {
    throw new RepositoryError(
      'INVALID_ARGUMENT',
      'forget needs either restore point ids or --keep-* rules, not both',
    );
  }
  const lease = options.lease ?? (await MaintenanceLease.acquire(repo));
  try {
    const all = (await repo.points()).filter((p) => !options.resource || p.resource.id === options.resource);
    let groups: RetentionGroup[];
    if (options.policy) groups = applyRetention(all, options.policy);
    else {
      const chosen = new Set<string>();
      for (const ref of options.ids!) chosen.add((await repo.readPoint(ref)).id);
      groups = [
        {
          key: 'chosen',
          decisions: all
            .filter((p) => chosen.has(p.id))
            .map((point) => ({ point, keep: false, reasons: [] })),
        },
      ];
    }
    const removed: Manifest[] = groups.flatMap((g) => g.decisions.filter((d) => !d.keep).map((d) => d.point));
    if (!options.dryRun) {
      for (const m of removed) {
        await repo.store.delete(pointKey(m.id));
        await checkpoint('forget:manifest-deleted');
      }
    }
    return { groups, removed: removed.map((m) => m.id), dryRun: Boolean(options.dryRun) };
  } finally {
    if (!options.lease) await lease.release();
  }
}
