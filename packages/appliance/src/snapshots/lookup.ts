import type { Ec2Snapshots, SnapshotView } from '@lifeboat/aws';
import { type Clock, sleepOn } from '../clock.js';
import { retryReason } from '../jobs/retry.js';

/** A waited snapshot the Describe call did not return for this long is reported missing (deleted, or lost). */
const MISSING_AFTER_MS = 5 * 60_000;

interface Waiter {
  id: string;
  /** The waiting task's client: alive while it waits (a task destroys its client once it ended). */
  ec2: Ec2Snapshots;
  due: number;
  backoff: number;
  since: number;
  resolve(view: SnapshotView | undefined): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
}

interface Batch {
  waiters: Waiter[];
  /** One-off lookups joining the next request. */
  asks: Array<{
    ids: string[];
    ec2: Ec2Snapshots;
    resolve(m: Map<string, SnapshotView>): void;
    reject(e: unknown): void;
  }>;
  wake: AbortController;
  running: boolean;
}

/**
 * DescribeSnapshots, batched: every task of a session in an account × region that waits for its snapshots (or
 * looks some up) joins one request, so that a session over hundreds of instances polls with a handful of calls,
 * never a loop per snapshot. A waiter is due a second after it joins and backs off to `maxPollMs`; when one is
 * due, every waiting id is asked for in the same request, through the client of one of the tasks it answers
 * (the tasks of a key share an account × region and session; a task destroys its client when it ends, so a
 * batch must not keep the client of whichever task came first).
 */
export class SnapshotLookup {
  private readonly batches = new Map<string, Batch>();
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly pollMs: number,
    private readonly maxPollMs: number,
  ) {}

  /** The current view of these snapshots (absent: AWS does not show it), in the next batched request. */
  describe(key: string, ec2: Ec2Snapshots, ids: string[]): Promise<Map<string, SnapshotView>> {
    return new Promise((resolve, reject) => {
      const b = this.batch(key);
      b.asks.push({ ids, ec2, resolve, reject });
      this.kick(key, b);
    });
  }

  /**
   * Resolves when the snapshot is no longer pending (completed, error), or undefined when AWS has not shown it for
   * five minutes; rejects with the signal's reason on abort, or with the error of the Describe call.
   */
  waitDone(
    key: string,
    ec2: Ec2Snapshots,
    id: string,
    signal?: AbortSignal,
  ): Promise<SnapshotView | undefined> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const now = this.clock.now().getTime();
      const b = this.batch(key);
      const w: Waiter = {
        id,
        ec2,
        due: now + this.pollMs,
        backoff: this.pollMs,
        since: now,
        resolve,
        reject,
        signal,
      };
      signal?.addEventListener(
        'abort',
        () => {
          b.waiters = b.waiters.filter((x) => x !== w);
          reject(signal.reason);
        },
        { once: true },
      );
      b.waiters.push(w);
      this.kick(key, b);
    });
  }

  close(): void {
    this.closed = true;
    for (const b of this.batches.values()) b.wake.abort();
  }

  private batch(key: string): Batch {
    let b = this.batches.get(key);
    if (!b) {
      b = { waiters: [], asks: [], wake: new AbortController(), running: false };
      this.batches.set(key, b);
    }
    return b;
  }

  private kick(key: string, b: Batch): void {
    if (b.running) {
      b.wake.abort();
      return;
    }
    b.running = true;
    void this.loop(key, b);
  }

  private async loop(key: string, b: Batch): Promise<void> {
    try {
      while (!this.closed && (b.waiters.length > 0 || b.asks.length > 0)) {
        if (b.asks.length === 0) {
          const next = Math.min(...b.waiters.map((w) => w.due));
          const wait = next - this.clock.now().getTime();
          if (wait > 0) {
            b.wake = new AbortController();
            await sleepOn(this.clock, wait, b.wake.signal).catch(() => {});
            continue;
          }
        } else {
          // Let the other tasks that are about to ask join this request.
          await new Promise((r) => setTimeout(r, 20));
        }
        await this.poll(b);
      }
    } finally {
      b.running = false;
      if (b.waiters.length === 0 && b.asks.length === 0) this.batches.delete(key);
      else if (!this.closed) this.kick(key, b);
    }
  }

  private async poll(b: Batch): Promise<void> {
    const asks = b.asks.splice(0);
    const waiters = [...b.waiters];
    const ids = [...new Set([...asks.flatMap((a) => a.ids), ...waiters.map((w) => w.id)])];
    // A client of a task this request answers: that task cannot end (and destroy it) before the answer.
    const ec2 = asks[0]?.ec2 ?? waiters[0]?.ec2;
    if (!ec2) return;
    let views: SnapshotView[];
    try {
      views = await ec2.describeSnapshots({ ids });
    } catch (err) {
      // One-off lookups are retried by their callers; waiters wait on through throttling, 5xx and network errors
      // (backing off as if the snapshots were still pending) and fail only on a refusal.
      for (const a of asks) a.reject(err);
      const transient = retryReason(err) !== undefined;
      const now = this.clock.now().getTime();
      for (const w of waiters) {
        if (transient) {
          w.backoff = Math.min(w.backoff * 2, this.maxPollMs);
          w.due = now + w.backoff;
          continue;
        }
        b.waiters = b.waiters.filter((x) => x !== w);
        w.reject(err);
      }
      return;
    }
    const byId = new Map(views.map((v) => [v.snapshotId, v]));
    for (const a of asks)
      a.resolve(new Map(a.ids.flatMap((id) => (byId.has(id) ? [[id, byId.get(id)!]] : []))));
    const now = this.clock.now().getTime();
    for (const w of waiters) {
      const v = byId.get(w.id);
      const done = v ? v.state !== 'pending' : now - w.since >= MISSING_AFTER_MS;
      if (done) {
        b.waiters = b.waiters.filter((x) => x !== w);
        w.resolve(v);
      } else {
        w.backoff = Math.min(w.backoff * 2, this.maxPollMs);
        w.due = now + w.backoff;
      }
    }
  }
}
