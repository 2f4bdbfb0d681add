import type { IndexEntry } from '../pack.js';
import type { BlobIndex } from './master.js';
import { mergeRecords, mergeRuns, runInput, type SortedInput } from './merge.js';
import { asBuffer, compareId, RECORD, readEntry, sortRecords, writeRecord } from './records.js';
import { DEFAULT_TUNING, type Run, type RunTuning, RunWriter } from './run.js';

export interface PagedIndexLimits {
  /** More runs than this are merged (each lookup probes every run's Bloom filter). */
  maxRuns: number;
  /** Entries committed during this process are kept in memory up to this many, then written as a run. */
  memtableLimit: number;
}

export const DEFAULT_LIMITS: PagedIndexLimits = { maxRuns: 8, memtableLimit: 32_768 };

interface MemEntry {
  entry: IndexEntry;
  source: number;
}

/**
 * The repository index on disk: sorted runs in the local index cache (run.ts), each with its fences and Bloom
 * filter in memory, plus a small table of the entries committed by this process. Lookups are synchronous: a Bloom
 * probe per run, and one page read (pread of 4 KiB) for a hit or a false positive. Memory is about 1.4 bytes per
 * indexed blob plus the table; cache.ts opens and validates it against the store.
 */
export class PagedBlobIndex implements BlobIndex {
  private readonly mem = new Map<string, MemEntry>();
  /** Everything committed, duplicates included: each index file's entries must persist whole (cache.ts). */
  private readonly memList: MemEntry[] = [];
  /** Index files whose entries are in `mem`; source 0 ("") is for entries added with no index file. */
  private memSources: string[] = [''];
  private closed = false;

  constructor(
    readonly dir: string,
    readonly repository: string,
    private runs: Run[],
    private readonly tuning: RunTuning = DEFAULT_TUNING,
    private readonly limits: PagedIndexLimits = DEFAULT_LIMITS,
  ) {}

  get(id: Uint8Array): IndexEntry | undefined {
    const key = asBuffer(id);
    const m = this.mem.get(key.toString('latin1'));
    if (m) return m.entry;
    for (const run of this.runs) {
      const e = run.get(key);
      if (e) return e;
    }
    return undefined;
  }

  has(id: Uint8Array): boolean {
    return this.get(id) !== undefined;
  }

  /** An entry no index file names yet: kept for this process only. */
  add(entry: IndexEntry): void {
    this.addWithSource(entry, 0);
  }

  /** Entries of an index file just stored (the blob writer's); with its id they persist in the cache. */
  commit(entries: readonly IndexEntry[], indexId?: string): void {
    const source = indexId ? this.memSources.push(indexId) - 1 : 0;
    for (const e of entries) this.addWithSource(e, source);
    if (this.memList.length >= this.limits.memtableLimit) this.flush();
  }

  /** Blobs indexed (a blob named by two index files may count twice). */
  get size(): number {
    return this.runs.reduce((n, r) => n + r.liveCount, 0) + this.memList.length;
  }

  get runCount(): number {
    return this.runs.length;
  }

  /** Bytes held in memory apart from the table of this process's entries. */
  get memoryBytes(): number {
    return this.runs.reduce((n, r) => n + r.memoryBytes, 0);
  }

  /** Every entry once, in id order, streamed from the runs (no blob list is built). */
  *entries(): IterableIterator<IndexEntry> {
    const runs = [...this.runs];
    for (const r of runs) r.retain();
    try {
      const inputs: SortedInput[] = runs.map(runInput);
      const [mem] = this.memRecords();
      if (mem.length)
        inputs.push({
          chunks: [[mem, mem.length / RECORD] as [Buffer, number]].values(),
          isAlive: () => true,
        });
      const last = Buffer.alloc(32);
      let first = true;
      for (const [buf, at] of mergeRecords(inputs)) {
        if (!first && compareId(last, buf, at) === 0) continue;
        first = false;
        buf.copy(last, 0, at, at + 32);
        yield readEntry(buf, at);
      }
    } finally {
      for (const r of runs) r.release();
    }
  }

  /** Writes the table as a run, then merges runs if there are too many. */
  flush(): void {
    if (this.memList.length === 0) return;
    const [records, sources] = this.memRecords();
    const writer = new RunWriter(this.dir, this.repository, records.length / RECORD, sources, this.tuning);
    try {
      for (let at = 0; at < records.length; at += RECORD) writer.push(records, at);
      this.runs.unshift(writer.finish());
    } catch (err) {
      writer.abort();
      throw err;
    }
    this.mem.clear();
    this.memList.length = 0;
    this.memSources = [''];
    this.compact();
  }

  /**
   * Keeps the number of runs at most maxRuns: merges the smallest runs, and with them every next run no larger
   * than twice what is merged so far (runs of similar size merge together, so each entry is rewritten about
   * log2(n) times over the life of the cache). Runs whose records are mostly dead are rewritten too.
   */
  compact(): void {
    for (const run of this.runs.filter((r) => r.liveCount === 0)) this.drop([run]);
    for (const run of this.runs.filter((r) => r.liveCount * 2 < r.count)) this.replace([run]);
    while (this.runs.length > this.limits.maxRuns) {
      const bySize = [...this.runs].sort((a, b) => a.liveCount - b.liveCount);
      let take = 2;
      let sum = bySize[0]!.liveCount + bySize[1]!.liveCount;
      while (take < bySize.length && bySize[take]!.liveCount <= 2 * sum) sum += bySize[take++]!.liveCount;
      this.replace(bySize.slice(0, take));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.runs) r.release();
    this.runs = [];
    this.mem.clear();
    this.memList.length = 0;
  }

  private replace(inputs: Run[]): void {
    const merged = mergeRuns(this.dir, this.repository, inputs, this.tuning);
    this.drop(inputs);
    this.runs.push(merged);
  }

  private drop(runs: Run[]): void {
    for (const r of runs) r.remove();
    this.runs = this.runs.filter((r) => !runs.includes(r));
  }

  private addWithSource(entry: IndexEntry, source: number): void {
    const k = entry.id.toString('latin1');
    const item = { entry, source };
    this.memList.push(item);
    // The first place a blob was indexed wins for lookups.
    if (!this.mem.has(k)) this.mem.set(k, item);
  }

  private memRecords(): [Buffer, Array<{ id: string; total: number; supersedes: string[]; size: number }>] {
    const totals = this.memSources.map(() => 0);
    const buf = Buffer.alloc(this.memList.length * RECORD);
    let at = 0;
    for (const { entry, source } of this.memList) {
      writeRecord(buf, at, entry, source);
      totals[source]!++;
      at += RECORD;
    }
    const sources = this.memSources.map((id, i) => ({ id, total: totals[i]!, supersedes: [], size: -1 }));
    return [sortRecords(buf, this.memList.length), sources];
  }
}
