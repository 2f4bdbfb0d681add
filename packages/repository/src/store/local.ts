import { randomBytes } from 'node:crypto';
import { constants, type Dirent } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeDirect, writevFully } from '../direct-io.js';
import { isRepositoryError, RepositoryError } from '../errors.js';
import { isValidKey, type ObjectInfo, type Store } from './store.js';

const TMP_DIR = '.tmp';
/** Objects this large (pack files) are written with direct I/O (direct-io.ts); small ones are not worth it. */
const DIRECT_MIN_BYTES = 1024 * 1024;

export interface LocalStoreOptions {
  /** Write large objects with O_DIRECT where the file system allows it (default true). */
  directIo?: boolean;
}

/**
 * A repository in a local folder: one file per object. A put writes a temporary file under .tmp/, fsyncs it and
 * hard-links it to its key, which fails if the key exists (write-once without a race) and is atomic, so that a
 * crash or a full disk never leaves a partial object under a real key.
 */
export class LocalStore implements Store {
  private swept = false;

  constructor(
    readonly root: string,
    private readonly options: LocalStoreOptions = {},
  ) {}

  /** Temporary files of writers that were killed: removed once they are an hour old (no writer takes that long). */
  private async sweepTemporary(): Promise<void> {
    if (this.swept) return;
    this.swept = true;
    const dir = join(this.root, TMP_DIR);
    const names = await readdir(dir).catch(() => [] as string[]);
    const cutoff = Date.now() - 3600_000;
    for (const name of names) {
      const s = await stat(join(dir, name)).catch(() => undefined);
      if (s && s.mtimeMs < cutoff) await unlink(join(dir, name)).catch(() => {});
    }
  }

  get location(): string {
    return this.root;
  }

  private path(key: string): string {
    if (!isValidKey(key)) throw new RepositoryError('INVALID_ARGUMENT', `invalid object key "${key}"`);
    return join(this.root, key);
  }

  async put(key: string, data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const target = this.path(key);
    const parts = data instanceof Uint8Array ? [data] : data;
    const tmp = join(this.root, TMP_DIR, `${randomBytes(8).toString('hex')}.part`);
    await this.sweepTemporary();
    try {
      await mkdir(dirname(tmp), { recursive: true });
      await mkdir(dirname(target), { recursive: true });
      const fh = await open(tmp, 'wx');
      try {
        const total = parts.reduce((n, p) => n + p.length, 0);
        const direct =
          this.options.directIo !== false &&
          total >= DIRECT_MIN_BYTES &&
          (await writeDirect(tmp, fh, parts, total));
        if (!direct) await writevFully(fh.fd, parts, 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await link(tmp, target);
      await syncDir(dirname(target));
    } catch (err) {
      throw storeError(err, `cannot write ${key} to ${this.root}`);
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      throw storeError(err, `cannot read ${key} from ${this.root}`);
    }
  }

  async getRange(key: string, offset: number, length: number, into?: Uint8Array): Promise<Buffer> {
    let fh: Awaited<ReturnType<typeof open>> | undefined;
    try {
      fh = await open(this.path(key), constants.O_RDONLY);
      const buf =
        into && into.length >= length
          ? Buffer.from(into.buffer, into.byteOffset, length)
          : Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      if (done < length) {
        throw new RepositoryError(
          'REPO_CORRUPT',
          `${key} is truncated: wanted bytes ${offset}-${offset + length - 1}, the object ends at ${offset + done}`,
        );
      }
      return buf;
    } catch (err) {
      throw storeError(err, `cannot read ${key} from ${this.root}`);
    } finally {
      await fh?.close();
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await stat(this.path(key));
      return { key, size: s.size, lastModified: s.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storeError(err, `cannot stat ${key} in ${this.root}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const slash = prefix.lastIndexOf('/');
    const dir = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    yield* this.walk(dir, namePrefix);
  }

  private async *walk(dir: string, namePrefix: string): AsyncIterable<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.root, dir), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw storeError(err, `cannot list ${dir} in ${this.root}`);
    }
    for (const e of entries) {
      if (!e.name.startsWith(namePrefix) || (dir === '' && e.name === TMP_DIR)) continue;
      const key = `${dir}${e.name}`;
      if (e.isDirectory()) yield* this.walk(`${key}/`, '');
      else if (e.isFile()) {
        const s = await stat(join(this.root, key)).catch(() => undefined);
        if (s) yield { key, size: s.size, lastModified: s.mtimeMs };
      }
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.path(key), { force: true });
    } catch (err) {
      throw storeError(err, `cannot delete ${key} from ${this.root}`);
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function storeError(err: unknown, what: string): RepositoryError {
  if (isRepositoryError(err)) return err;
  const code = (err as NodeJS.ErrnoException).code;
  const reason = (err as Error).message;
  if (code === 'ENOENT')
    return new RepositoryError('NOT_FOUND', `${what}: the object does not exist`, { cause: err });
  if (code === 'EEXIST') {
    return new RepositoryError(
      'OBJECT_EXISTS',
      `${what}: the object exists and objects are never overwritten`,
      {
        cause: err,
      },
    );
  }
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') {
    return new RepositoryError(
      'STORE_FULL',
      `${what}: no space left on the device; free space and run again`,
      {
        cause: err,
      },
    );
  }
  return new RepositoryError('STORE_IO', `${what}: ${reason}`, { cause: err });
}
