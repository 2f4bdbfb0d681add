/**
 * The maintenance owner lease and backup session markers (docs/repository-format.md, "Retention and garbage
 * collection"): one holder at a time, a clear refusal naming the owner and the end, stale leases taken, exactly
 * one winner of a race, break and renew; sessions renew and expire. Runs on every store of storeFactories().
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRepositoryError, RepositoryError } from '../src/errors.js';
import { LEASES_PREFIX, SESSIONS_PREFIX } from '../src/format.js';
import { activeLeases, breakLeases, LEASE_MS, MaintenanceLease } from '../src/lease.js';
import type { Repository } from '../src/repository.js';
import { activeSessions, BackupSession, SESSION_MS } from '../src/sessions.js';
import type { ObjectInfo, Store } from '../src/store/store.js';
import { tempDir } from './helpers.js';
import {
  CheckpointControl,
  type ClockedStore,
  initRepo,
  listKeys,
  openAgain,
  type StoreFactory,
  storeFactories,
  TestClock,
} from './maintenance-helpers.js';

const tmp = tempDir('lb-lease-');
const factories = storeFactories();
afterAll(async () => {
  tmp.cleanup();
  for (const f of factories) await f.dispose();
});

/** A store that holds some calls at a gate: puts of keys under a prefix, or the first list of a prefix. */
class GatedStore implements Store {
  private gates: Array<{ op: 'put' | 'list'; prefix: string; wait: Promise<void>; arrived: () => void }> = [];
  constructor(readonly inner: Store) {}
  get location(): string {
    return this.inner.location;
  }
  /** The next call of `op` under prefix waits for `wait`; the promise returned resolves when it arrived. */
  hold(op: 'put' | 'list', prefix: string, wait: Promise<void>): Promise<void> {
    return new Promise((arrived) => this.gates.push({ op, prefix, wait, arrived }));
  }
  private async gate(op: 'put' | 'list', key: string): Promise<void> {
    const i = this.gates.findIndex((g) => g.op === op && key.startsWith(g.prefix));
    if (i < 0) return;
    const [g] = this.gates.splice(i, 1);
    g!.arrived();
    await g!.wait;
  }
  async put(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    await this.gate('put', key);
    return this.inner.put(key, data);
  }
  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }
  getRange(key: string, offset: number, length: number): Promise<Buffer> {
    return this.inner.getRange(key, offset, length);
  }
  stat(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.stat(key);
  }
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    await this.gate('list', prefix);
    yield* this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

async function leaseError(p: Promise<unknown>): Promise<RepositoryError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RepositoryError) return err;
    throw err;
  }
  throw new Error('expected the lease to be refused, but it was granted');
}

for (const factory of factories) {
  describe(`maintenance lease (${factory.name})`, () => {
    let n = 0;
    /** Two processes' views of one new repository, on one clock; B's store can hold calls at a gate. */
    async function twoProcesses(f: StoreFactory): Promise<{
      clock: TestClock;
      a: Repository;
      b: Repository;
      gatedB: GatedStore;
      gatedA: GatedStore;
      store: ClockedStore;
    }> {
      const clock = new TestClock(Date.UTC(2026, 0, 5, 12, 0, 0));
      const cache = join(tmp.path, `cache-${n++}`);
      const { repo, store } = await initRepo(await f.create('lease'), clock, cache);
      const gatedA = new GatedStore(store);
      const gatedB = new GatedStore(store);
      const a = await openAgain(gatedA, clock, cache);
      const b = await openAgain(gatedB, clock, cache);
      void repo;
      return { clock, a, b, gatedA, gatedB, store };
    }

    it('a second holder is refused with LEASE_HELD naming the owner and when the lease ends', async () => {
      const { a, b, clock } = await twoProcesses(factory);
      const held = await MaintenanceLease.acquire(a, { owner: 'alice@db-host pid 4242' });
      const err = await leaseError(MaintenanceLease.acquire(b, { owner: 'bob@other pid 7' }));
      expect(err.code).toBe('LEASE_HELD');
      expect(err.message).toContain('alice@db-host pid 4242');
      expect(err.message).toContain(new Date(clock.now() + LEASE_MS).toISOString());
      expect(err.message).toContain('lifeboat repo unlock --break');
      // the refused process left nothing behind
      expect((await listKeys(a.store, LEASES_PREFIX)).size).toBe(1);
      expect((await activeLeases(b)).map((l) => l.owner)).toEqual(['alice@db-host pid 4242']);
      await held.release();
      expect(await activeLeases(b)).toEqual([]);
      expect((await listKeys(a.store, LEASES_PREFIX)).size).toBe(1); // the released record
      const again = await MaintenanceLease.acquire(b, { owner: 'bob@other pid 7' });
      await again.release();
    });

    it('a stale lease (past its end) blocks nobody and is taken; its old holder then loses it', async () => {
      const { a, b, clock } = await twoProcesses(factory);
      const old = await MaintenanceLease.acquire(a, { owner: 'dead@host pid 1' });
      clock.advance(LEASE_MS - 1000);
      expect((await leaseError(MaintenanceLease.acquire(b))).code).toBe('LEASE_HELD');
      clock.advance(1001); // exactly at its end: expired
      expect(await activeLeases(b)).toEqual([]);
      const taken = await MaintenanceLease.acquire(b, { owner: 'new@host pid 2' });
      expect((await activeLeases(a)).map((l) => l.owner)).toEqual(['new@host pid 2']);
      // the old holder comes back: its renewal must not take the repository back
      const lost = await leaseError(old.renew());
      expect(lost.code).toBe('LEASE_LOST');
      expect(lost.message).toContain('new@host pid 2');
      await taken.release();
    });

    it('two racing acquirers that both pass the first look: exactly one wins, the other withdraws', async () => {
      for (const skew of [0, 1, -1]) {
        const { a, b, gatedA, gatedB, clock } = await twoProcesses(factory);
        // Both list the leases (finding none) before either writes.
        const both = deferred();
        const aListed = gatedA.hold('list', LEASES_PREFIX, both.promise);
        const bListed = gatedB.hold('list', LEASES_PREFIX, both.promise);
        const pa = MaintenanceLease.acquire(a, { owner: 'racer A' });
        const pb = MaintenanceLease.acquire(b, { owner: 'racer B' });
        b.now = () => clock.now() + skew; // A's and B's lease times: equal, or either older
        await Promise.all([aListed, bListed]);
        both.resolve();
        const results = await Promise.allSettled([pa, pb]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(won, `skew ${skew}`).toHaveLength(1);
        expect(isRepositoryError(lost[0]!.reason, 'LEASE_HELD'), String(lost[0]!.reason)).toBe(true);
        const winner = (won[0] as PromiseFulfilledResult<MaintenanceLease>).value;
        expect((lost[0]!.reason as Error).message).toContain(winner.current!.owner);
        // only the winner's lease object exists; it names the winner
        expect((await listKeys(a.store, LEASES_PREFIX)).size).toBe(1);
        expect((await activeLeases(a)).map((l) => l.holder)).toEqual([winner.current!.holder]);
        await winner.release();
      }
    });

    it('a lease written late (a slow PUT) does not take over from a holder that already checked', async () => {
      // B looks (no lease), takes its time and starts its PUT, which the store is slow to finish; meanwhile A
      // looks, writes and checks: A holds the lease. B's PUT lands: B's lease is older (it read the clock
      // first). The holder that already checked must stay the only one.
      const { a, b, gatedB, clock } = await twoProcesses(factory);
      const slow = deferred();
      const bWriting = gatedB.hold('put', LEASES_PREFIX, slow.promise);
      const pb = MaintenanceLease.acquire(b, { owner: 'slow B' });
      await bWriting;
      clock.advance(1);
      const la = await MaintenanceLease.acquire(a, { owner: 'fast A' });
      slow.resolve();
      const rb = await Promise.allSettled([pb]);
      const holders = [la.current?.owner, rb[0]!.status === 'fulfilled' ? 'slow B' : undefined].filter(
        Boolean,
      );
      // Exactly one process may believe it holds the lease.
      expect(holders).toHaveLength(1);
      await la.release().catch(() => {});
      if (rb[0]!.status === 'fulfilled') await rb[0]!.value.release();
    });

    it('renew extends the lease with a new object and deletes the old one; others stay refused', async () => {
      const { a, b, clock } = await twoProcesses(factory);
      const lease = await MaintenanceLease.acquire(a, { owner: 'renewer' });
      const first = lease.current!;
      clock.advance(5 * 60_000);
      await lease.renew();
      const second = lease.current!;
      expect(second).not.toEqual(first);
      expect(second.holder).toBe(first.holder);
      expect(second.acquiredAt).toBe(first.acquiredAt);
      expect(second.expiresAt).toBe(clock.now() + LEASE_MS);
      // a new object; the old one is gone
      expect((await listKeys(a.store, LEASES_PREFIX)).size).toBe(1);
      expect(await activeLeases(b)).toEqual([second]);
      clock.advance(LEASE_MS - 60_000); // past the first lease's end, within the renewed one
      const err = await leaseError(MaintenanceLease.acquire(b));
      expect(err.code).toBe('LEASE_HELD');
      expect(err.message).toContain(new Date(second.expiresAt).toISOString());
      await lease.release();
    });

    it('a renewal interrupted between its write and the deletion of the old object counts once', async () => {
      const { a, b, clock } = await twoProcesses(factory);
      const lease = await MaintenanceLease.acquire(a, { owner: 'interrupted' });
      const ctl = new CheckpointControl().install();
      try {
        const pause = ctl.pauseAt('lease:renewed');
        clock.advance(60_000);
        const renewing = lease.renew();
        await pause.reached;
        expect((await listKeys(a.store, LEASES_PREFIX)).size).toBe(2); // both objects exist now
        const active = await activeLeases(b);
        expect(active).toHaveLength(1);
        expect(active[0]!.expiresAt).toBe(clock.now() + LEASE_MS); // the later end of one holder
        expect((await leaseError(MaintenanceLease.acquire(b))).code).toBe('LEASE_HELD');
        pause.release();
        await renewing;
        expect((await listKeys(a.store, LEASES_PREFIX)).size).toBe(1);
      } finally {
        ctl.uninstall();
      }
      await lease.release();
    });

    it('break removes every lease; the broken holder cannot renew once another holds it', async () => {
      const { a, b } = await twoProcesses(factory);
      const lease = await MaintenanceLease.acquire(a, { owner: 'gone@host pid 9' });
      expect((await leaseError(MaintenanceLease.acquire(b))).code).toBe('LEASE_HELD');
      const removed = await breakLeases(b);
      expect([...new Set(removed.map((l) => l.owner))]).toEqual(['gone@host pid 9']);
      expect(await activeLeases(b)).toEqual([]); // a released record remains: the sequence never goes back
      const next = await MaintenanceLease.acquire(b, { owner: 'operator' });
      expect((await leaseError(lease.renew())).code).toBe('LEASE_LOST');
      await next.release();
      // break with nothing to break
      await next.release();
      expect(await breakLeases(b)).toEqual([]);
    });
    it('a holder whose lease was broken does not end the next holder’s lease when it releases', async () => {
      // The operator broke the lease of a process that was only stalled, not gone. When that process wakes and
      // releases, it must not write a "released" record over the new holder's lease.
      const { a, b } = await twoProcesses(factory);
      const stalled = await MaintenanceLease.acquire(a, { owner: 'stalled@host pid 1' });
      await stalled.renew();
      await stalled.renew(); // its sequence is ahead of what a new holder starts at after a break
      await breakLeases(b);
      const next = await MaintenanceLease.acquire(b, { owner: 'operator@host pid 2' });
      await stalled.release().catch(() => {});
      expect((await activeLeases(b)).map((l) => l.owner)).toEqual(['operator@host pid 2']);
      expect((await leaseError(MaintenanceLease.acquire(a, { owner: 'third' }))).code).toBe('LEASE_HELD');
      await next.release();
    });
  });

  describe(`backup session markers (${factory.name})`, () => {
    it('a session is active until it ends or expires; a renewal writes the next marker first', async () => {
      const clock = new TestClock(Date.UTC(2026, 0, 5, 12, 0, 0));
      const cache = join(tmp.path, 'cache-sessions');
      const { repo } = await initRepo(await factory.create('sessions'), clock, cache);
      const s = await BackupSession.start(repo);
      expect((await activeSessions(repo)).map((x) => x.startedAt)).toEqual([clock.now()]);
      const ctl = new CheckpointControl().install();
      try {
        const pause = ctl.pauseAt('session:renewed');
        clock.advance(SESSION_MS / 4);
        const renewing = s.renew();
        await pause.reached;
        expect((await listKeys(repo.store, SESSIONS_PREFIX)).size).toBe(2); // seq 0 and 1 (a crash here)
        const active = await activeSessions(repo);
        expect(active).toHaveLength(1);
        expect(active[0]!.seq).toBe(1);
        expect(active[0]!.expiresAt).toBe(clock.now() + SESSION_MS);
        pause.release();
        await renewing;
      } finally {
        ctl.uninstall();
      }
      expect((await listKeys(repo.store, SESSIONS_PREFIX)).size).toBe(1);
      // a killed backup's marker stops counting when it expires
      clock.advance(SESSION_MS);
      expect(await activeSessions(repo)).toEqual([]);
      await s.end();
      expect((await listKeys(repo.store, SESSIONS_PREFIX)).size).toBe(0);
    });
  });
}
