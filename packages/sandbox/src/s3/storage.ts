import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Segment } from './records.js';

/** Bytes gathered before one write: fewer, larger writes than the socket's 64 KiB chunks. */
const WRITE_BATCH = 1024 * 1024;
const READ_CHUNK = 1024 * 1024;

/**
 * Object bytes on disk: `data/<id>` files named by segments, `tmp/<id>` while a body arrives. A body is written
 * aside and renamed into data/ only when complete and verified, so a kill -9 leaves at worst a temp file or an
 * unreferenced data file, both removed at the next start (sweep).
 */
export class ObjectFiles {
  private readonly data: string;
  private readonly tmp: string;

  constructor(root: string) {
    this.data = join(root, 'data');
    this.tmp = join(root, 'tmp');
    mkdirSync(this.data, { recursive: true });
    rmSync(this.tmp, { recursive: true, force: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  async create(): Promise<TempFile> {
    const name = randomBytes(12).toString('hex');
    const path = join(this.tmp, name);
    return new TempFile(name, path, await open(path, 'w'), (to) => renameSync(path, join(this.data, to)));
  }

  path(file: string): string {
    return join(this.data, file);
  }

  /** Files no longer referenced; a reader that opened one keeps its bytes until it closes it. */
  remove(files: Iterable<string>): void {
    for (const f of files) unlink(join(this.data, f)).catch(() => {});
  }

  /** Removes data files that no record names (left by a crash between rename and journal line). */
  sweep(referenced: Set<string>): void {
    for (const f of readdirSync(this.data))
      if (!referenced.has(f)) rmSync(join(this.data, f), { force: true });
  }

  /** Opens the segments now, in the caller's turn: a concurrent overwrite cannot take the bytes away. */
  openAll(segments: Segment[]): OpenObject {
    const fds: number[] = [];
    try {
      for (const s of segments) fds.push(openSync(this.path(s.file), 'r'));
    } catch (e) {
      for (const fd of fds) closeSync(fd);
      throw e;
    }
    return new OpenObject(segments, fds);
  }
}

/** A body being written; commit() renames it into data/ under its own name. */
export class TempFile {
  private batch: Buffer[] = [];
  private batched = 0;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly path: string,
    private readonly fh: FileHandle,
    private readonly rename: (to: string) => void,
  ) {}

  async write(chunk: Buffer): Promise<void> {
    this.batch.push(chunk);
    this.batched += chunk.length;
    if (this.batched >= WRITE_BATCH) await this.flush();
  }

  async finish(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.fh.close();
  }

  /** Synchronous, so that a caller can check a condition and commit in one turn (atomic conditional writes). */
  commit(): string {
    this.rename(this.name);
    return this.name;
  }

  async discard(): Promise<void> {
    if (!this.closed) await this.fh.close().catch(() => {});
    this.closed = true;
    await unlink(this.path).catch(() => {});
  }

  private async flush(): Promise<void> {
    if (this.batched === 0) return;
    const chunks = this.batch;
    this.batch = [];
    this.batched = 0;
    await this.fh.writev(chunks);
  }
}

/** An object's segments opened for reading; streams a byte range into a response, then closes. */
export class OpenObject {
  constructor(
    private readonly segments: Segment[],
    private readonly fds: number[],
  ) {}

  /**
   * Streams bytes [start, end] (inclusive) and ends the response, with backpressure; the fds are closed in every
   * case. One pipeline for all segments: one per segment left its listeners on the response (11 parts, 11 'close'
   * listeners: Node's MaxListenersExceededWarning).
   */
  async pipeTo(res: ServerResponse, start: number, end: number): Promise<void> {
    try {
      await pipeline(this.bytes(start, end), res);
    } finally {
      this.close();
    }
  }

  private async *bytes(start: number, end: number): AsyncGenerator<Buffer> {
    let base = 0;
    for (const [i, s] of this.segments.entries()) {
      const from = Math.max(start, base);
      const to = Math.min(end, base + s.size - 1);
      if (from <= to) {
        yield* createReadStream('', {
          fd: this.fds[i] as number,
          start: from - base,
          end: to - base,
          highWaterMark: READ_CHUNK,
          autoClose: false,
        });
      }
      base += s.size;
    }
  }

  fd(i: number): number {
    return this.fds[i] as number;
  }

  close(): void {
    for (const fd of this.fds.splice(0)) closeSync(fd);
  }
}
