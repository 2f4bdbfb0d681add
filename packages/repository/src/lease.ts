import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { checkpoint } from './crash.js';
import { isRepositoryError, RepositoryError } from './errors.js';
import { LEASES_PREFIX } from './format.js';
import type { Repository } from './repository.js';

/**
 * The maintenance owner lease: one process at a time runs retention (forget), prune and repair. The lease is a
 * sequence of write-once objects meta/leases/<seq>: the highest one says who holds the lease and until when.
 * Taking, renewing or releasing writes seq+1; because a store refuses to create an object that exists (local
 * link(), S3 If-None-Match), two processes that race for seq+1 cannot both succeed: the loser re-reads and is
 * refused. This is a compare-and-swap on the store, with no clock comparison between hosts except the lease's
 * end. An expired lease blocks nobody; "repo unlock --break" deletes every lease object.
 */
export interface LeaseRecord {
  seq: number;
  holder: string; // random per process, constant across renewals
  owner: string; // user@host pid N, for humans
  acquiredAt: number;
  expiresAt: number;
  released?: boolean;
}

export const LEASE_MS = 15 * 60_000;

const keyOf = (seq: number) => `${LEASES_PREFIX}${String(seq).padStart(12, '0')}`;

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
    const top = await latest(this.repo);
    if (top && isActive(top, this.repo.now())) throw held(top);
    const now = this.repo.now();
    const mine: LeaseRecord = {
      seq: (top?.seq ?? 0) + 1,
      holder: this.holder,
      owner,
      acquiredAt: now,
      expiresAt: now + this.durationMs,
    };
    if (!(await this.write(mine))) {
      const winner = await latest(this.repo);
      throw winner
        ? held(winner)
        : new RepositoryError('LEASE_HELD', 'another process took the maintenance lease at the same moment');
    }
    await checkpoint('lease:acquired');
    await this.prune(mine.seq);
    // Renew at a third of the lease so that a slow store cannot let it lapse.
    this.timer = setInterval(() => void this.renew().catch(() => {}), Math.max(1000, this.durationMs / 3));
    this.timer.unref();
  }

  /** Writes the record as the next lease object; false when another process wrote that sequence number first. */
  private async write(record: LeaseRecord): Promise<boolean> {
    try {
      await this.repo.putMeta(keyOf(record.seq), record);
    } catch (err) {
      if (isRepositoryError(err, 'OBJECT_EXISTS')) return false;
      throw err;
    }
    this.record = record;
    return true;
  }

  /** Deletes lease objects older than seq (best effort: they are superseded anyway). */
  private async prune(seq: number): Promise<void> {
    for await (const o of this.repo.store.list(LEASES_PREFIX)) {
      if (Number(o.key.slice(LEASES_PREFIX.length)) < seq)
        await this.repo.store.delete(o.key).catch(() => {});
    }
  }

  get current(): LeaseRecord | undefined {
    return this.record;
  }

  /** Extends the lease; throws LEASE_LOST if it lapsed and another process took over. */
  async renew(): Promise<void> {
    const old = this.record;
    if (!old) throw new RepositoryError('LEASE_LOST', 'the maintenance lease was released');
    const top = await latest(this.repo);
    if (!top || top.holder !== this.holder || top.seq !== old.seq) throw lost(top);
    const next = { ...old, seq: old.seq + 1, expiresAt: this.repo.now() + this.durationMs };
    if (!(await this.write(next))) throw lost(await latest(this.repo));
    await checkpoint('lease:renewed');
    await this.prune(next.seq);
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const r = this.record;
    this.record = undefined;
    if (!r) return;
    // Only the holder of the current record may end it: after a break, or after our lease lapsed, another
    // process may hold the lease now.
    const top = await latest(this.repo);
    if (!top || top.holder !== this.holder || top.seq !== r.seq) return;
    // A released record (not a deletion) keeps the sequence going up for whoever comes next.
    const done = { ...r, seq: r.seq + 1, expiresAt: this.repo.now(), released: true };
    try {
      await this.repo.putMeta(keyOf(done.seq), done);
      await this.prune(done.seq);
    } catch (err) {
      if (!isRepositoryError(err, 'OBJECT_EXISTS')) throw err; // someone took over after our lease expired
    }
  }
}

function isActive(r: LeaseRecord, now: number): boolean {
  return !r.released && r.expiresAt > now;
}

/** The highest lease object (the current state of the lease), if any. */
async function latest(repo: Repository): Promise<LeaseRecord | undefined> {
  const { items } = await repo.listMeta<LeaseRecord>(LEASES_PREFIX);
  let top: LeaseRecord | undefined;
  for (const { value } of items) if (!top || value.seq > top.seq) top = value;
  return top;
}

/** The lease holder, when the lease is held (an array for the CLI's listing). */
export async function activeLeases(repo: Repository): Promise<LeaseRecord[]> {
  const top = await latest(repo);
  return top && isActive(top, repo.now()) ? [top] : [];
}

/**
 * Ends the lease whoever holds it: for an operator who knows the holder is gone. Writes a released record at the
 * next sequence number (the sequence never goes back, so a stalled old holder cannot overwrite a newer state),
 * then deletes the older objects.
 */
export async function breakLeases(repo: Repository): Promise<LeaseRecord[]> {
  const { items, bad } = await repo.listMeta<LeaseRecord>(LEASES_PREFIX);
  const top = items.reduce<LeaseRecord | undefined>(
    (t, { value }) => (!t || value.seq > t.seq ? value : t),
    undefined,
  );
  const broken = items.map((i) => i.value).filter((l) => isActive(l, repo.now()));
  const now = repo.now();
  const seq = (top?.seq ?? 0) + 1;
  await repo.putMeta(keyOf(seq), {
    seq,
    holder: '',
    owner: 'lifeboat repo unlock --break',
    acquiredAt: now,
    expiresAt: now,
    released: true,
  });
  for (const { key, value } of items) if (value.seq < seq) await repo.store.delete(key);
  for (const key of bad) await repo.store.delete(key);
  return broken;
}

function held(l: LeaseRecord): RepositoryError {
  return new RepositoryError(
    'LEASE_HELD',
    `maintenance is running: ${l.owner} holds the repository's maintenance lease since ${new Date(l.acquiredAt).toISOString()}, until ${new Date(l.expiresAt).toISOString()} unless renewed; if that process is gone, run "lifeboat repo unlock --break"`,
  );
}

function lost(top: LeaseRecord | undefined): RepositoryError {
  return new RepositoryError(
    'LEASE_LOST',
    `the maintenance lease lapsed${top?.holder ? ` and ${top.owner} took over` : ''}; stopping before changing anything more`,
  );
}
