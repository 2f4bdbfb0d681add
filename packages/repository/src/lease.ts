import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { checkpoint } from './crash.js';
import { RepositoryError } from './errors.js';
import { LEASES_PREFIX } from './format.js';
import type { Repository } from './repository.js';

/**
 * The maintenance owner lease: one process at a time runs retention (forget) and prune on a repository. A lease
 * is a write-once object naming its holder and when it ends; the holder renews it by writing a new object and
 * deleting the old. Two processes that write leases at the same moment both see both, and the older lease (then
 * the smaller id) wins; the other withdraws. A lease that is past its end is stale: it no longer blocks anyone,
 * and "unlock --break" removes leases explicitly.
 */
export interface LeaseRecord {
  id: string; // random, sorts ties
  holder: string; // random per process, constant across renewals
  owner: string; // user@host pid N, for humans
  acquiredAt: number;
  expiresAt: number;
}

export const LEASE_MS = 15 * 60_000;

export class MaintenanceLease {
  private record: LeaseRecord | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly repo: Repository,
    private readonly holder: string,
    private readonly durationMs: number,
  ) {}

  static async acquire(
    repo: Repository,
    options: { durationMs?: number; owner?: string } = {},
  ): Promise<MaintenanceLease> {
    const lease = new MaintenanceLease(repo, randomBytes(8).toString('hex'), options.durationMs ?? LEASE_MS);
    await lease.take(options.owner ?? `${userInfo().username}@${hostname()} pid ${process.pid}`);
    return lease;
  }

  private async take(owner: string): Promise<void> {
    const blocking = (await activeLeases(this.repo)).find((l) => l.holder !== this.holder);
    if (blocking) throw held(blocking);
    const now = this.repo.now();
    const mine: LeaseRecord = {
      id: leaseId(now),
      holder: this.holder,
      owner,
      acquiredAt: now,
      expiresAt: now + this.durationMs,
    };
    await this.repo.putMeta(`${LEASES_PREFIX}${mine.id}`, mine);
    this.record = mine;
    await checkpoint('lease:acquired');
    const winner = (await activeLeases(this.repo))[0];
    if (winner && winner.holder !== this.holder) {
      await this.release();
      throw held(winner);
    }
    // Renew at a third of the lease so that a slow store cannot let it lapse.
    this.timer = setInterval(() => void this.renew().catch(() => {}), Math.max(1000, this.durationMs / 3));
    this.timer.unref();
  }

  get current(): LeaseRecord | undefined {
    return this.record;
  }

  /** Extends the lease; throws LEASE_LOST if it lapsed and another process took over. */
  async renew(): Promise<void> {
    const old = this.record;
    if (!old) throw new RepositoryError('LEASE_LOST', 'the maintenance lease was released');
    const winner = (await activeLeases(this.repo)).find((l) => l.holder !== this.holder);
    if (winner)
      throw new RepositoryError('LEASE_LOST', `the maintenance lease lapsed and ${winner.owner} took over`);
    const now = this.repo.now();
    const next: LeaseRecord = { ...old, id: leaseId(now), expiresAt: now + this.durationMs };
    await this.repo.putMeta(`${LEASES_PREFIX}${next.id}`, next);
    this.record = next;
    await checkpoint('lease:renewed');
    await this.repo.store.delete(`${LEASES_PREFIX}${old.id}`);
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const r = this.record;
    this.record = undefined;
    if (r) await this.repo.store.delete(`${LEASES_PREFIX}${r.id}`);
  }
}

function leaseId(now: number): string {
  // Time first, so that ids sort by acquisition; random after, to break ties.
  return `${now.toString(36).padStart(10, '0')}-${randomBytes(6).toString('hex')}`;
}

/** Unexpired leases, oldest holder first (the one that owns maintenance). */
export async function activeLeases(repo: Repository): Promise<LeaseRecord[]> {
  const { items } = await repo.listMeta<LeaseRecord>(LEASES_PREFIX);
  const now = repo.now();
  const byHolder = new Map<string, LeaseRecord>();
  for (const { value } of items) {
    if (value.expiresAt <= now) continue;
    const prev = byHolder.get(value.holder);
    // A holder's renewals share acquiredAt; keep its latest expiry.
    if (!prev || value.expiresAt > prev.expiresAt) byHolder.set(value.holder, value);
  }
  return [...byHolder.values()].sort((a, b) => a.acquiredAt - b.acquiredAt || a.id.localeCompare(b.id));
}

/** Removes every lease, active or not: for an operator who knows the holder is gone. */
export async function breakLeases(repo: Repository): Promise<LeaseRecord[]> {
  const { items, bad } = await repo.listMeta<LeaseRecord>(LEASES_PREFIX);
  for (const { key } of items) await repo.store.delete(key);
  for (const key of bad) await repo.store.delete(key);
  return items.map((i) => i.value);
}

function held(l: LeaseRecord): RepositoryError {
  return new RepositoryError(
    'LEASE_HELD',
    `maintenance is running: ${l.owner} holds the repository's maintenance lease since ${new Date(l.acquiredAt).toISOString()}, until ${new Date(l.expiresAt).toISOString()} unless renewed; if that process is gone, run "lifeboat repo unlock --break"`,
  );
}
