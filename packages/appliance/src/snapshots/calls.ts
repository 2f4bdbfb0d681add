import type { Catalog } from '@lifeboat/catalog';

/**
 * AWS calls per session, API and region, counted as they are sent and added to the catalog in batches (at a
 * task's end and by `flush`): the start of the cost history. A crash loses at most the counts not yet flushed.
 */
export class CallRecorder {
  private readonly pending = new Map<string, Map<string, number>>();

  constructor(private readonly catalog: Catalog) {}

  count(sessionId: string, api: string, region: string): void {
    let m = this.pending.get(sessionId);
    if (!m) {
      m = new Map();
      this.pending.set(sessionId, m);
    }
    const key = `${api}\n${region}`;
    m.set(key, (m.get(key) ?? 0) + 1);
  }

  /** Counts made before a session existed (its planning) become the session's. */
  move(from: string, to: string): void {
    const m = this.pending.get(from);
    if (!m) return;
    this.pending.delete(from);
    for (const [key, n] of m) {
      const [api, region] = key.split('\n') as [string, string];
      for (let i = 0; i < n; i++) this.count(to, api, region);
    }
  }

  async flush(sessionId: string): Promise<void> {
    const m = this.pending.get(sessionId);
    if (!m || m.size === 0) return;
    this.pending.delete(sessionId);
    const counts = [...m].map(([key, count]) => {
      const [api, region] = key.split('\n') as [string, string];
      return { api, region, count };
    });
    await this.catalog.awsCalls.add(sessionId, counts);
  }
}
