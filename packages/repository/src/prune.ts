import { randomBytes } from 'node:crypto';
import { checkpoint } from './crash.js';
import { SEAL_OVERHEAD } from './crypto/seal.js';
import {
  type BlobType,
  DATA_PREFIX,
  INDEX_PREFIX,
  indexKey,
  PACK_TARGET_SIZE,
  PLANS_PREFIX,
  packKey,
  SESSIONS_PREFIX,
  TREE_PACK_PREFIX,
} from './format.js';
import { decodeIndexFile, encodeIndexFile, newIndexId } from './index/file.js';
import { supersedeEntries } from './index/rewrite.js';
import { MaintenanceLease } from './lease.js';
import { type IndexEntry, PACK_HEADER, PackBuilder } from './pack.js';
import { type BlobSet, markReachable } from './reachable.js';
import type { Repository } from './repository.js';
import { activeSessions, type SessionRecord } from './sessions.js';
import type { ObjectInfo } from './store/store.js';
import { append } from './util.js';

/**
 * Garbage collection that never blocks backups and never deletes what a backup may still need. Two phases:
 *
 * 1. Plan: mark the blobs reachable from restore points; packs whose blobs are all unreachable (and indexed
 *    packs whose unused share is at least `repackThreshold`, after their live blobs are copied into new packs)
 *    are written into a prune plan (meta/prune/<id>). From then on, backups that start see the plan and do not
 *    deduplicate against those packs.
 * 2. Complete (a later prune run): once every backup session that started before the plan (plus a clock-skew
 *    margin) has ended or expired, and the plan is at least `graceMs` old (readers that loaded an older index
 *    finish), mark again — manifests written meanwhile may have made doomed blobs reachable: those packs are
 *    spared — then write an index file superseding every index file that names a doomed pack, delete the
 *    superseded index files, the doomed packs (unless their retain-until time forbids it yet) and the plan.
 *
 * Each step is safe to interrupt: the plan object exists until its last deletion, and every step is repeated or
 * skipped by the next run. See docs/repository-format.md, "Retention and garbage collection".
 */
export interface PruneOptions {
  dryRun?: boolean;
  /** A plan is completed only this long after it was made (default 1 hour). */
  graceMs?: number;
  /** Tolerated clock difference between hosts (default 5 minutes). */
  safetyMarginMs?: number;
  /** Repack an indexed pack when this share of its bytes is unused (default 0.25; 1 disables repacking). */
  repackThreshold?: number;
  lease?: MaintenanceLease;
}

export interface PlanRecord {
  id: string;
  createdAt: number;
  packs: Array<{ id: string; type: BlobType; size: number; reason: 'unused' | 'repacked' | 'unindexed' }>;
}

export interface PruneReport {
  reachableBlobs: number;
  completed: Array<{
    plan: string;
    packsDeleted: number;
    bytesFreed: number;
    spared: number;
    retained: number;
  }>;
  waiting: Array<{ plan: string; reason: string }>;
  planned?: { plan: string; packs: number; bytes: number; repackedBlobs: number; repackedBytes: number };
  dryRun: boolean;
}

interface PackUse {
  id: string;
  type: BlobType;
  size: number;
  usedBytes: number;
  liveBlobs: number;
  /** Blobs the pack holds (live or not): its trailer lists them all. */
  blobs: number;
  live: IndexEntry[];
  indexed: boolean;
  lastModified?: number;
  retainUntil?: number;
}

export async function prune(repo: Repository, options: PruneOptions = {}): Promise<PruneReport> {
  const graceMs = options.graceMs ?? 3600_000;
  const margin = options.safetyMarginMs ?? 300_000;
  const lease = options.lease ?? (await MaintenanceLease.acquire(repo));
  try {
    const report: PruneReport = {
      reachableBlobs: 0,
      completed: [],
      waiting: [],
      dryRun: Boolean(options.dryRun),
    };
    const sessions = await activeSessions(repo); // before marking: a session ending later wrote its manifest later
    const plans = (await repo.listMeta<PlanRecord>(PLANS_PREFIX)).items;
    const ready = plans.filter(({ value: p }) => {
      const blocking = sessions.find((s) => s.startedAt < p.createdAt + margin);
      const reason = blocking
        ? `backup session ${blocking.id} on ${blocking.host} (pid ${blocking.pid}) started before the plan and is still running`
        : repo.now() < p.createdAt + graceMs
          ? `the plan is younger than the grace period (${Math.round(graceMs / 1000)} s)`
          : undefined;
      if (reason) report.waiting.push({ plan: p.id, reason });
      return !reason;
    });
    const points = await repo.points();
    const reachable = await markReachable(repo, points);
    report.reachableBlobs = reachable.size;
    await checkpoint('prune:after-mark');
    if (!options.dryRun) {
      for (const { key, value } of ready)
        report.completed.push(await completePlan(repo, key, value, reachable, lease));
    }
    const pending = new Set(
      plans
        .filter((p) => !ready.includes(p) || options.dryRun)
        .flatMap((p) => p.value.packs.map((x) => x.id)),
    );
    report.planned = await makePlan(
      repo,
      reachable,
      pending,
      sessions.map((s) => s.startedAt),
      { ...options, graceMs, margin },
    );
    if (!options.dryRun) await removeDeadSessions(repo, margin);
    await lease.renew();
    return report;
  } finally {
    if (!options.lease) await lease.release();
  }
}

/** Session markers of backups that died (expired long enough ago) are garbage: they hold nothing back. */
async function removeDeadSessions(repo: Repository, margin: number): Promise<void> {
  const { items } = await repo.listMeta<SessionRecord>(SESSIONS_PREFIX);
  const latest = new Map<string, number>();
  for (const { value } of items) latest.set(value.id, Math.max(latest.get(value.id) ?? 0, value.expiresAt));
  for (const { key, value } of items) {
    if (latest.get(value.id)! + margin < repo.now()) await repo.store.delete(key);
  }
}

/** Ids of the index files in force (not superseded by another). */
async function liveIndexFiles(repo: Repository): Promise<string[]> {
  const ids: string[] = [];
  const superseded = new Set<string>();
  for await (const o of repo.store.list(INDEX_PREFIX)) {
    const id = o.key.slice(INDEX_PREFIX.length);
    ids.push(id);
    for (const s of decodeIndexFile(repo.key, repo.codec, id, await repo.store.get(o.key)).supersedes)
      superseded.add(s);
  }
  return ids.filter((id) => !superseded.has(id));
}

/** Every index entry in force, one index file at a time; a blob stored twice appears twice. */
async function* allEntries(repo: Repository, files: readonly string[]): AsyncIterable<IndexEntry> {
  for (const id of files)
    yield* decodeIndexFile(repo.key, repo.codec, id, await repo.store.get(indexKey(id))).entries;
}

/** Packs in the store with their used bytes; live entries are kept only for the packs in `collect`. */
async function packUsage(
  repo: Repository,
  reachable: BlobSet,
  collect?: Set<string>,
): Promise<Map<string, PackUse>> {
  const packs = new Map<string, PackUse>();
  for (const prefix of [DATA_PREFIX, TREE_PACK_PREFIX]) {
    for await (const o of repo.store.list(prefix)) {
      const id = o.key.slice(o.key.lastIndexOf('/') + 1);
      packs.set(id, {
        id,
        type: prefix === DATA_PREFIX ? 'data' : 'tree',
        size: o.size,
        usedBytes: 0,
        liveBlobs: 0,
        blobs: 0,
        live: [],
        indexed: false,
        ...times(o),
      });
    }
  }
  for await (const e of allEntries(repo, await liveIndexFiles(repo))) {
    const p = packs.get(e.packId);
    if (!p) continue; // indexed but missing: damage, reported by check
    p.indexed = true;
    p.blobs++;
    if (!reachable.has(e.id)) continue;
    p.usedBytes += e.length;
    p.liveBlobs++;
    if (collect?.has(p.id)) p.live.push(e);
  }
  return packs;
}

/**
 * Doomed packs holding a blob that is reachable now and stored nowhere else: a backup that started before the plan
 * deduplicated against it after the plan was made. Those packs are spared.
 */
async function packsToSpare(
  repo: Repository,
  reachable: BlobSet,
  candidates: Set<string>,
  existing: ReadonlySet<string>,
): Promise<Set<string>> {
  const files = await liveIndexFiles(repo);
  const inCandidates = new Map<string, Set<string>>(); // blob id -> doomed packs holding it
  for await (const e of allEntries(repo, files)) {
    if (!candidates.has(e.packId) || !reachable.has(e.id)) continue;
    const k = e.id.toString('latin1');
    inCandidates.set(k, (inCandidates.get(k) ?? new Set()).add(e.packId));
  }
  const covered = new Set<string>();
  for await (const e of allEntries(repo, files)) {
    const k = e.id.toString('latin1');
    if (!candidates.has(e.packId) && inCandidates.has(k) && existing.has(e.packId)) covered.add(k);
  }
  const spare = new Set<string>();
  for (const [k, packs] of inCandidates) if (!covered.has(k)) for (const p of packs) spare.add(p);
  return spare;
}

/**
 * Bytes of unreachable blobs: what repacking frees. The pack's own framing (header, trailer) is not counted, or
 * a small pack would look mostly unused and be repacked into another small pack at every prune.
 */
function deadBytes(p: PackUse): number {
  const framing = PACK_HEADER.length + 4 + SEAL_OVERHEAD + 4 + 45 * p.blobs;
  return Math.max(0, p.size - framing - p.usedBytes);
}

function times(o: ObjectInfo): Pick<PackUse, 'lastModified' | 'retainUntil'> {
  return { lastModified: o.lastModified, retainUntil: o.retainUntil };
}

async function makePlan(
  repo: Repository,
  reachable: BlobSet,
  pending: Set<string>,
  sessionStarts: number[],
  o: PruneOptions & { graceMs: number; margin: number },
): Promise<PruneReport['planned']> {
  const threshold = o.repackThreshold ?? 0.25;
  const packs = await packUsage(repo, reachable);
  repo.invalidateIndex();
  // Unindexed packs may belong to a backup still writing its index: only old ones, older than any session, go.
  const orphanBefore = Math.min(repo.now() - o.graceMs, ...sessionStarts) - o.margin;
  const doomed: PlanRecord['packs'] = [];
  const toRepack: PackUse[] = [];
  for (const p of packs.values()) {
    if (pending.has(p.id)) continue;
    if (!p.indexed) {
      if ((p.lastModified ?? Number.POSITIVE_INFINITY) < orphanBefore)
        doomed.push({ id: p.id, type: p.type, size: p.size, reason: 'unindexed' });
    } else if (p.usedBytes === 0) doomed.push({ id: p.id, type: p.type, size: p.size, reason: 'unused' });
    else if (threshold < 1 && deadBytes(p) / p.size >= threshold) toRepack.push(p);
  }
  if (doomed.length === 0 && toRepack.length === 0) return undefined;
  const plan: PlanRecord = {
    id: `${repo.now().toString(36)}-${randomBytes(6).toString('hex')}`,
    createdAt: repo.now(),
    packs: doomed,
  };
  let repackedBlobs = 0;
  let repackedBytes = 0;
  for (const p of toRepack) {
    repackedBlobs += p.liveBlobs;
    repackedBytes += p.usedBytes;
    plan.packs.push({ id: p.id, type: p.type, size: p.size, reason: 'repacked' });
  }
  if (!o.dryRun) {
    if (toRepack.length) {
      const withLive = await packUsage(repo, reachable, new Set(toRepack.map((p) => p.id)));
      await repack(
        repo,
        toRepack.map((p) => withLive.get(p.id)!),
      );
    }
    await checkpoint('prune:before-plan');
    await repo.putMeta(`${PLANS_PREFIX}${plan.id}`, plan);
    await checkpoint('prune:plan-stored');
  }
  const bytes = plan.packs.reduce((n, p) => n + p.size, 0);
  return { plan: plan.id, packs: plan.packs.length, bytes, repackedBlobs, repackedBytes };
}

/** Copies the live blobs of packs into new packs (sealed bytes as they are: a blob's key depends on its id only). */
async function repack(repo: Repository, packs: PackUse[]): Promise<void> {
  const entries: IndexEntry[] = [];
  const builders: Partial<Record<BlobType, PackBuilder>> = {};
  const flush = async (type: BlobType) => {
    const b = builders[type];
    if (!b) return;
    delete builders[type];
    await repo.store.put(packKey(type, b.packId), b.finish(repo.key));
    await checkpoint('prune:repack-pack-stored');
    append(entries, b.entries);
  };
  for (const p of packs) {
    for (const e of p.live.sort((a, b) => a.offset - b.offset)) {
      const sealed = await repo.store.getRange(packKey(e.type, e.packId), e.offset, e.length);
      builders[e.type] ??= new PackBuilder(e.type);
      builders[e.type]!.add(e.id, [sealed], e.rawLength);
      if (builders[e.type]!.size >= PACK_TARGET_SIZE) await flush(e.type);
    }
  }
  await flush('data');
  await flush('tree');
  const id = newIndexId();
  await repo.store.put(indexKey(id), encodeIndexFile(repo.key, repo.codec, { id, supersedes: [], entries }));
  await checkpoint('prune:repack-index-stored');
}

async function completePlan(
  repo: Repository,
  planKey: string,
  plan: PlanRecord,
  reachable: BlobSet,
  lease: MaintenanceLease,
): Promise<PruneReport['completed'][number]> {
  const usage = await packUsage(repo, reachable);
  // Packs listed just now, under the lease: only a lease holder deletes packs, so the listing stays true.
  const existing = new Set(usage.keys());
  const spared = await packsToSpare(repo, reachable, new Set(plan.packs.map((p) => p.id)), existing);
  const doomed = new Set(plan.packs.map((p) => p.id).filter((id) => !spared.has(id)));
  await supersedeEntries(repo, (e) => doomed.has(e.packId));
  await lease.renew();
  let packsDeleted = 0;
  let bytesFreed = 0;
  const retained: PlanRecord['packs'] = [];
  for (const p of plan.packs) {
    if (!doomed.has(p.id)) continue;
    const info = usage.get(p.id);
    if (info?.retainUntil && info.retainUntil > repo.now()) {
      retained.push(p);
      continue;
    }
    await repo.store.delete(packKey(p.type, p.id));
    await checkpoint('prune:pack-deleted');
    packsDeleted++;
    bytesFreed += p.size;
  }
  if (retained.length) {
    // Object Lock keeps them for now: a follow-up plan deletes them when their retention ends.
    const next: PlanRecord = { ...plan, id: `${plan.id}-r${repo.now().toString(36)}`, packs: retained };
    await repo.putMeta(`${PLANS_PREFIX}${next.id}`, next);
  }
  await checkpoint('prune:before-plan-delete');
  await repo.store.delete(planKey);
  await checkpoint('prune:plan-completed');
  repo.invalidateIndex();
  return { plan: plan.id, packsDeleted, bytesFreed, spared: spared.size, retained: retained.length };
}
