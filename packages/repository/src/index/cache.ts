import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Codec } from '../compress.js';
import type { MasterKey } from '../crypto/keys.js';
import { isRepositoryError, RepositoryError } from '../errors.js';
import { INDEX_PREFIX } from '../format.js';
import type { Store } from '../store/store.js';
import { append, mapLimit } from '../util.js';
import { mergeRuns } from './merge.js';
import { DEFAULT_LIMITS, PagedBlobIndex, type PagedIndexLimits } from './paged.js';
import {
  type DecodedIndexRecords,
  decodeIndexRecords,
  RECORD,
  setRecordSource,
  sortRecords,
} from './records.js';
import {
  DEFAULT_TUNING,
  openRun,
  RUN_SUFFIX,
  type Run,
  RunDamaged,
  type RunSource,
  type RunTuning,
  RunWriter,
  removeQuietly,
} from './run.js';

/**
 * The local index cache of a repository: <root>/<repository id>/index/*.run. It is a copy of what the index files
 * of the store say, never the truth: at every open it is checked against the list of index files (new ones are
 * read into new runs, vanished and superseded ones stop counting and are merged away) and every run is checked
 * against its hash (a damaged run is deleted and its index files read again). Several processes may share it:
 * runs are write-once (temporary name, then rename), and a merge names the runs it replaces, so that whatever
 * a crash leaves behind is sorted out at the next open.
 */
export interface IndexCacheSource {
  repository: string;
  store: Store;
  key: MasterKey;
  codec: Codec;
}

export interface PagedIndexOptions {
  tuning?: Partial<RunTuning>;
  limits?: Partial<PagedIndexLimits>;
  /** Entries read from index files are sorted and written as a run every this many (memory while building). */
  buildLimit?: number;
  /** Tolerant mode (check): a damaged index file is reported here and skipped instead of failing the open. */
  onDamaged?: (key: string, error: RepositoryError) => void;
}

const BUILD_LIMIT = 262_144; // 16 MiB of records
const FETCH_BATCH = 16;
const FETCH_CONCURRENCY = 4;

/** $LIFEBOAT_CACHE, else $XDG_CACHE_HOME/lifeboat, else ~/.cache/lifeboat. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LIFEBOAT_CACHE) return env.LIFEBOAT_CACHE;
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'lifeboat');
  return join(homedir(), '.cache', 'lifeboat');
}

export function indexCacheDir(root: string, repository: string): string {
  return join(root, repository, 'index');
}

export async function openPagedIndex(
  src: IndexCacheSource,
  dir: string,
  options: PagedIndexOptions = {},
): Promise<PagedBlobIndex> {
  const tuning = { ...DEFAULT_TUNING, ...options.tuning };
  prepareDir(dir);
  const listed = new Map<string, number>();
  for await (const o of src.store.list(INDEX_PREFIX)) listed.set(o.key.slice(INDEX_PREFIX.length), o.size);
  const runs = cacheIo(dir, () => openRuns(dir, src.repository, tuning));
  const held = holdSources(runs, listed);
  const fetch = [...listed.keys()].filter((id) => !held.has(id));
  const built = await buildRuns(src, dir, fetch, listed, tuning, options);
  append(runs, built);
  // A superseded index file stops counting, whether the file that supersedes it was cached or just read.
  const superseded = new Set<string>();
  for (const run of runs)
    run.footer.sources.forEach((s, i) => {
      if (run.isAlive(i)) for (const id of s.supersedes) superseded.add(id);
    });
  for (const run of runs)
    run.footer.sources.forEach((s, i) => {
      if (superseded.has(s.id)) run.alive[i] = 0;
    });
  const index = new PagedBlobIndex(dir, src.repository, runs, tuning, {
    ...DEFAULT_LIMITS,
    ...options.limits,
  });
  cacheIo(dir, () => index.compact());
  return index;
}

function prepareDir(dir: string): void {
  cacheIo(dir, () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    // Temporary files of processes that died while writing a run.
    for (const name of readdirSync(dir)) {
      const m = /\.tmp-(\d+)$/.exec(name);
      if (m && !processAlive(Number(m[1]))) removeQuietly(join(dir, name));
    }
  });
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every run of the cache that opens and checks out; damaged runs and runs a merge replaced are deleted. */
function openRuns(dir: string, repository: string, tuning: RunTuning): Run[] {
  const runs: Run[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(RUN_SUFFIX)) continue;
    try {
      runs.push(openRun(dir, name, repository, tuning));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process merged it away
      if (!(err instanceof RunDamaged)) throw err;
      removeQuietly(join(dir, name));
    }
  }
  const replaced = new Set(runs.flatMap((r) => r.footer.replaces));
  for (const r of runs.filter((r) => replaced.has(r.name))) r.remove();
  return runs.filter((r) => !replaced.has(r.name));
}

/**
 * Decides which sources of the runs count: an index file still listed, held whole (a crash may leave a partial
 * one), of the size it had when read, and held by one run only (two processes may have read it at once).
 */
function holdSources(runs: Run[], listed: Map<string, number>): Set<string> {
  const held = new Set<string>();
  // Larger runs first: they are the merged ones, keep their copy of a source.
  for (const run of [...runs].sort((a, b) => b.count - a.count)) {
    run.footer.sources.forEach((s: RunSource, i) => {
      const size = listed.get(s.id);
      const ok =
        size !== undefined && s.count === s.total && (s.size < 0 || s.size === size) && !held.has(s.id);
      if (ok) held.add(s.id);
      else run.alive[i] = 0;
    });
  }
  return held;
}

/** Reads index files of the store into new runs, a batch at a time (bounded memory). */
async function buildRuns(
  src: IndexCacheSource,
  dir: string,
  ids: string[],
  listed: Map<string, number>,
  tuning: RunTuning,
  options: PagedIndexOptions,
): Promise<Run[]> {
  const builder = new RunBuilder(dir, src.repository, tuning, options.buildLimit ?? BUILD_LIMIT);
  for (let i = 0; i < ids.length; i += FETCH_BATCH) {
    const batch = ids.slice(i, i + FETCH_BATCH);
    const files = await mapLimit(batch, FETCH_CONCURRENCY, (id) => fetchIndex(src, id, options));
    files.forEach((f, j) => {
      if (f) cacheIo(dir, () => builder.add(batch[j]!, listed.get(batch[j]!)!, f));
    });
  }
  cacheIo(dir, () => builder.flush());
  return builder.runs;
}

async function fetchIndex(
  src: IndexCacheSource,
  id: string,
  options: PagedIndexOptions,
): Promise<DecodedIndexRecords | undefined> {
  const key = `${INDEX_PREFIX}${id}`;
  try {
    return decodeIndexRecords(src.key, src.codec, id, await src.store.get(key));
  } catch (err) {
    if (isRepositoryError(err, 'NOT_FOUND')) return undefined; // deleted since listed: it no longer counts
    if (options.onDamaged && isRepositoryError(err, 'REPO_CORRUPT')) {
      options.onDamaged(key, err);
      return undefined;
    }
    throw err;
  }
}

/** Collects the records of whole index files, sorts them and writes runs of about `limit` entries. */
class RunBuilder {
  readonly runs: Run[] = [];
  private parts: Buffer[] = [];
  private sources: Array<Omit<RunSource, 'count'>> = [];
  private count = 0;

  constructor(
    private readonly dir: string,
    private readonly repository: string,
    private readonly tuning: RunTuning,
    private readonly limit: number,
  ) {}

  add(id: string, size: number, file: DecodedIndexRecords): void {
    const source = { id, total: file.count, supersedes: file.supersedes, size };
    if (file.count > this.limit) {
      this.addLarge(source, file);
      return;
    }
    const records = file.slice(0, file.count);
    for (let at = 0; at < records.length; at += RECORD) setRecordSource(records, at, this.sources.length);
    this.parts.push(records);
    this.sources.push(source);
    this.count += file.count;
    if (this.count >= this.limit) this.flush();
  }

  flush(): void {
    if (this.sources.length === 0) return;
    const records = sortRecords(Buffer.concat(this.parts), this.count);
    this.parts = [];
    this.runs.push(this.write(records, this.sources));
    this.sources = [];
    this.count = 0;
  }

  /** An index file larger than the limit (a compaction's): sorted slice by slice, then merged into one run. */
  private addLarge(source: Omit<RunSource, 'count'>, file: DecodedIndexRecords): void {
    const slices: Run[] = [];
    try {
      for (let from = 0; from < file.count; from += this.limit) {
        const to = Math.min(file.count, from + this.limit);
        slices.push(this.write(sortRecords(file.slice(from, to), to - from), [source]));
      }
      this.runs.push(mergeRuns(this.dir, this.repository, slices, this.tuning));
    } finally {
      for (const s of slices) s.remove();
    }
  }

  private write(records: Buffer, sources: Array<Omit<RunSource, 'count'>>): Run {
    const writer = new RunWriter(this.dir, this.repository, records.length / RECORD, sources, this.tuning);
    try {
      for (let at = 0; at < records.length; at += RECORD) writer.push(records, at);
      return writer.finish();
    } catch (err) {
      writer.abort();
      throw err;
    }
  }
}

/** File system errors of the cache become CACHE_IO, naming the folder and how to move it. */
function cacheIo<T>(dir: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isRepositoryError(err)) throw err;
    const e = err as NodeJS.ErrnoException;
    if (!e.code) throw err;
    throw new RepositoryError(
      'CACHE_IO',
      `the local index cache ${dir} cannot be used (${e.code}: ${e.message}); set LIFEBOAT_CACHE to a writable folder`,
      { cause: err },
    );
  }
}
