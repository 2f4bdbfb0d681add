/** Maps items with at most `limit` calls in flight, keeping the order of results. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/**
 * Appends items to target. `target.push(...items)` passes every item as an argument and overflows the stack
 * past ~100k items (a pack of tiny compressed blobs holds half a million).
 */
export function append<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

/**
 * Asynchronous tasks started one after another with at most `limit` of them unsettled at a time. A task's
 * rejection is handled the moment the task starts: a failure while the caller awaits another task is kept, not
 * left unhandled (Node ends the process on an unhandled rejection, printing a stack trace and leaving behind what
 * the caller would have cleaned up). `add` and `finish` rethrow the first failure; `drain` waits for every started
 * task to settle, so that nothing still writes into what the caller is about to close or remove.
 */
export class TaskGroup {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Waits for room, then starts `task`; rethrows the first failure of an earlier task. */
  async add(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit && !this.failure) await Promise.race(this.running);
    this.rethrow();
    const p: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Waits until every started task has settled (never throws). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Waits for every task, then rethrows the first failure. */
  async finish(): Promise<void> {
    await this.drain();
    this.rethrow();
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error;
  }
}
