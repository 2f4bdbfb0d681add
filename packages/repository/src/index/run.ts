import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { IndexEntry } from '../pack.js';
import { BLOOM_BITS_PER_ID, BloomFilter } from './bloom.js';
import { compareId, RECORD, readEntry, recordSource } from './records.js';

/**
 * A run: one file of the local index cache holding the entries of some index files, sorted by blob id, as 64-byte
 * records (records.ts), followed by a footer:
 *
 *   records | footer JSON | u32 LE JSON length | SHA-256 of the JSON (32) | "LBIXRUN1"
 *
 * The footer names the repository, the index files the records come from (`sources`, with their `supersedes`),
 * the runs this one replaces (a merge) and the SHA-256 of the records. A run is write-once: written under a
 * temporary name, then renamed. Opening a run reads it once, checking the hash, to build what stays in memory:
 * the first 8 id bytes of each page (fences) and a Bloom filter, about 1.4 bytes per entry.
 */
export const RUN_SUFFIX = '.run';
export const RUN_FORMAT = 'lifeboat-index-cache';
export const RUN_VERSION = 1;
const TAIL_MAGIC = Buffer.from('LBIXRUN1', 'latin1');
const TAIL = 4 + 32 + TAIL_MAGIC.length;
const IO_BYTES = 1 << 20;

export interface RunSource {
  /** Index file id (32 hex), or "" for entries no index file names yet (they are dropped at the next open). */
  id: string;
  /** Records of this source in the run, and entries of its index file: a run holds a source whole or not at all. */
  count: number;
  total: number;
  supersedes: string[];
  /** Size of the index object when it was read, or -1 when unknown. */
  size: number;
}

export interface RunFooter {
  format: typeof RUN_FORMAT;
  version: number;
  repository: string;
  count: number;
  sources: RunSource[];
  replaces: string[];
  sha256: string;
}

export interface RunTuning {
  /** Records per page (64 = 4 KiB pages); tests lower it to get many pages from few records. */
  pageRecords: number;
  bloomBitsPerId: number;
}

export const DEFAULT_TUNING: RunTuning = { pageRecords: 64, bloomBitsPerId: BLOOM_BITS_PER_ID };

/** A run that cannot be trusted: the cache drops it and reloads its index files from the store. */
export class RunDamaged extends Error {}

export function newRunName(): string {
  return `${randomBytes(8).toString('hex')}${RUN_SUFFIX}`;
}

export class Run {
  /** Per source: 1 while its records count (the index file exists and is not superseded). */
  readonly alive: Uint8Array;
  private refs = 1;
  private readonly page: Buffer;

  constructor(
    readonly dir: string,
    readonly name: string,
    private readonly fd: number,
    readonly footer: RunFooter,
    private readonly fenceHi: Uint32Array,
    private readonly fenceLo: Uint32Array,
    private readonly bloom: BloomFilter,
    private readonly tuning: RunTuning,
  ) {
    this.alive = new Uint8Array(footer.sources.length).fill(1);
    this.page = Buffer.alloc(tuning.pageRecords * RECORD);
  }

  get count(): number {
    return this.footer.count;
  }

  get path(): string {
    return join(this.dir, this.name);
  }

  /** Bytes this run keeps in memory (fences and Bloom filter). */
  get memoryBytes(): number {
    return this.fenceHi.byteLength * 2 + this.bloom.byteLength + this.alive.byteLength;
  }

  /** Records whose source is alive. */
  get liveCount(): number {
    let n = 0;
    this.footer.sources.forEach((s, i) => {
      if (this.alive[i]) n += s.count;
    });
    return n;
  }

  isAlive(source: number): boolean {
    return this.alive[source] === 1;
  }

  /** One page read at most in the common case (a bloom false positive or a hit). */
  get(id: Buffer): IndexEntry | undefined {
    if (this.footer.count === 0 || !this.bloom.mayHave(id)) return undefined;
    const hi = id.readUInt32BE(0);
    const lo = id.readUInt32BE(4);
    const last = this.lastPage(hi, lo, false);
    if (last < 0) return undefined;
    // Pages whose fence equals the key's prefix may be preceded by one that holds the key too.
    const first = Math.max(0, this.lastPage(hi, lo, true));
    for (let p = first; p <= last; p++) {
      const n = this.readPage(p);
      for (let i = lowerBound(this.page, n, id); i < n && compareId(id, this.page, i * RECORD) === 0; i++) {
        if (this.isAlive(recordSource(this.page, i * RECORD))) return readEntry(this.page, i * RECORD);
      }
    }
    return undefined;
  }

  /** Every record in id order, in chunks: (buffer, record count); the buffer is reused between chunks. */
  *chunks(): Generator<[Buffer, number]> {
    const buf = Buffer.alloc(IO_BYTES);
    for (let done = 0; done < this.footer.count; ) {
      const want = Math.min(IO_BYTES / RECORD, this.footer.count - done);
      readFully(this.fd, buf, want * RECORD, done * RECORD, this.path);
      yield [buf, want];
      done += want;
    }
  }

  retain(): void {
    this.refs++;
  }

  /** Closes the file once nobody iterates it any more. */
  release(): void {
    if (--this.refs === 0) closeSync(this.fd);
  }

  /** Drops the file from the cache; open iterators keep reading it (the fd outlives the name). */
  remove(): void {
    removeQuietly(this.path);
    this.release();
  }

  private readPage(p: number): number {
    const first = p * this.tuning.pageRecords;
    const n = Math.min(this.tuning.pageRecords, this.footer.count - first);
    readFully(this.fd, this.page, n * RECORD, first * RECORD, this.path);
    return n;
  }

  /** Last page whose fence is below (strict) or at most the key's 8-byte prefix; -1 if none. */
  private lastPage(hi: number, lo: number, strict: boolean): number {
    let a = 0;
    let b = this.fenceHi.length; // invariant: pages < a qualify, pages >= b do not
    while (a < b) {
      const m = (a + b) >>> 1;
      const fh = this.fenceHi[m]!;
      const fl = this.fenceLo[m]!;
      const below = fh < hi || (fh === hi && (strict ? fl < lo : fl <= lo));
      if (below) a = m + 1;
      else b = m;
    }
    return a - 1;
  }
}

function lowerBound(page: Buffer, n: number, id: Buffer): number {
  let a = 0;
  let b = n;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (compareId(id, page, m * RECORD) > 0) a = m + 1;
    else b = m;
  }
  return a;
}

export function readFully(fd: number, buf: Buffer, length: number, position: number, what: string): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new RunDamaged(`${what} is shorter than its footer says`);
    done += n;
  }
}

export function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone (another process cleaned up)
  }
}

/** Streams sorted records into a new run file; `finish` renames it into place and returns it open. */
export class RunWriter {
  private readonly tmp: string;
  private readonly fd: number;
  private readonly out = Buffer.alloc(IO_BYTES);
  private used = 0;
  private count = 0;
  private readonly hash = createHash('sha256');
  private readonly hi: number[] = [];
  private readonly lo: number[] = [];
  private readonly bloom: BloomFilter;
  private readonly counts: number[];
  readonly name = newRunName();

  constructor(
    private readonly dir: string,
    private readonly repository: string,
    expected: number,
    private readonly sources: Array<Omit<RunSource, 'count'>>,
    private readonly tuning: RunTuning,
    private readonly replaces: string[] = [],
  ) {
    this.tmp = join(dir, `${this.name}.tmp-${process.pid}`);
    this.fd = openSync(this.tmp, 'wx', 0o600);
    this.bloom = new BloomFilter(expected, tuning.bloomBitsPerId);
    this.counts = sources.map(() => 0);
  }

  /** Appends the record at `at` of buf; records must come in id order. */
  push(buf: Buffer, at: number): void {
    if (this.count % this.tuning.pageRecords === 0) {
      this.hi.push(buf.readUInt32BE(at));
      this.lo.push(buf.readUInt32BE(at + 4));
    }
    this.bloom.add(buf, at);
    this.counts[recordSource(buf, at)]!++;
    if (this.used === IO_BYTES) this.flush();
    buf.copy(this.out, this.used, at, at + RECORD);
    this.used += RECORD;
    this.count++;
  }

  finish(): Run {
    this.flush();
    const footer: RunFooter = {
      format: RUN_FORMAT,
      version: RUN_VERSION,
      repository: this.repository,
      count: this.count,
      sources: this.sources.map((s, i) => ({ ...s, count: this.counts[i]! })),
      replaces: this.replaces,
      sha256: this.hash.digest('hex'),
    };
    writeAll(this.fd, encodeFooter(footer));
    closeSync(this.fd);
    renameSync(this.tmp, join(this.dir, this.name));
    const fd = openSync(join(this.dir, this.name), 'r');
    return new Run(
      this.dir,
      this.name,
      fd,
      footer,
      Uint32Array.from(this.hi),
      Uint32Array.from(this.lo),
      this.bloom,
      this.tuning,
    );
  }

  /** After a failure: nothing of the run stays behind. */
  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    removeQuietly(this.tmp);
  }

  private flush(): void {
    if (this.used === 0) return;
    const chunk = this.out.subarray(0, this.used);
    this.hash.update(chunk);
    writeAll(this.fd, chunk);
    this.used = 0;
  }
}

function writeAll(fd: number, data: Buffer): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done);
}

function encodeFooter(footer: RunFooter): Buffer {
  const json = Buffer.from(JSON.stringify(footer));
  const tail = Buffer.alloc(TAIL);
  tail.writeUInt32LE(json.length, 0);
  createHash('sha256').update(json).digest().copy(tail, 4);
  TAIL_MAGIC.copy(tail, 36);
  return Buffer.concat([json, tail]);
}

/**
 * Opens a run of the cache: checks its footer and the hash of its records while building fences and the Bloom
 * filter. Throws RunDamaged when anything is off; the caller deletes the file and reloads from the store.
 */
export function openRun(dir: string, name: string, repository: string, tuning: RunTuning): Run {
  const path = join(dir, name);
  const fd = openSync(path, 'r');
  try {
    const footer = readFooter(fd, path, repository);
    const pages = Math.ceil(footer.count / tuning.pageRecords);
    const hi = new Uint32Array(pages);
    const lo = new Uint32Array(pages);
    const bloom = new BloomFilter(footer.count, tuning.bloomBitsPerId);
    const hash = createHash('sha256');
    const buf = Buffer.alloc(IO_BYTES);
    for (let done = 0; done < footer.count; ) {
      const n = Math.min(IO_BYTES / RECORD, footer.count - done);
      readFully(fd, buf, n * RECORD, done * RECORD, path);
      hash.update(buf.subarray(0, n * RECORD));
      for (let i = 0; i < n; i++) {
        const at = i * RECORD;
        if ((done + i) % tuning.pageRecords === 0) {
          hi[(done + i) / tuning.pageRecords] = buf.readUInt32BE(at);
          lo[(done + i) / tuning.pageRecords] = buf.readUInt32BE(at + 4);
        }
        if (recordSource(buf, at) >= footer.sources.length) throw new RunDamaged(`${path}: bad source`);
        bloom.add(buf, at);
      }
      done += n;
    }
    if (hash.digest('hex') !== footer.sha256)
      throw new RunDamaged(`${path}: records do not match their hash`);
    return new Run(dir, name, fd, footer, hi, lo, bloom, tuning);
  } catch (err) {
    closeSync(fd);
    throw err instanceof RunDamaged ? err : new RunDamaged(`${path}: ${(err as Error).message}`);
  }
}

function readFooter(fd: number, path: string, repository: string): RunFooter {
  const size = fstatSync(fd).size;
  if (size < TAIL) throw new RunDamaged(`${path} is truncated`);
  const tail = Buffer.alloc(TAIL);
  readFully(fd, tail, TAIL, size - TAIL, path);
  if (!tail.subarray(36).equals(TAIL_MAGIC)) throw new RunDamaged(`${path} has no run footer`);
  const len = tail.readUInt32LE(0);
  if (len > size - TAIL) throw new RunDamaged(`${path} has a bad footer length`);
  const json = Buffer.alloc(len);
  readFully(fd, json, len, size - TAIL - len, path);
  if (!createHash('sha256').update(json).digest().equals(tail.subarray(4, 36)))
    throw new RunDamaged(`${path}: footer does not match its hash`);
  const footer = JSON.parse(json.toString('utf8')) as RunFooter;
  if (footer.format !== RUN_FORMAT || footer.version !== RUN_VERSION || footer.repository !== repository)
    throw new RunDamaged(`${path} belongs to another repository or cache version`);
  if (footer.count * RECORD !== size - TAIL - len) throw new RunDamaged(`${path}: size does not match count`);
  return footer;
}
