import { closeSync, constants, openSync } from 'node:fs';

/** Open descriptors kept for reuse (a data file may have two: buffered and O_DIRECT). */
const MAX_OPEN = 512;

/**
 * A small LRU of read-write file descriptors: reading a block is then one pread, not open + read + close. Data
 * files have, beside the buffered fd, an O_DIRECT one for whole aligned blocks (see direct.ts); a file whose
 * file system refuses O_DIRECT (EINVAL) is remembered and served buffered only.
 */
export class FdCache {
  private readonly open = new Map<string, number>(); // fds by path, "\0direct" appended for O_DIRECT fds
  private readonly noDirect = new Set<string>();

  constructor(readonly directIo = true) {}

  /**
   * The buffered fd of a file, created if missing unless `create` is false (reads: a file removed meanwhile fails
   * with ENOENT rather than reading as a new empty file). Use it at once: a later open may evict it.
   */
  get(path: string, create = true): number {
    return this.fd(path, false, create);
  }

  /** The O_DIRECT fd of a file (as get), or undefined when direct I/O is off or refused for it. */
  direct(path: string, create = true): number | undefined {
    if (!this.canDirect(path)) return undefined;
    try {
      return this.fd(path, true, create);
    } catch (e) {
      if (!isEinval(e)) throw e;
      this.noDirect.add(path); // tmpfs of older kernels, some FUSE and network file systems
      return undefined;
    }
  }

  canDirect(path: string): boolean {
    return this.directIo && !this.noDirect.has(path);
  }

  /** Serves the file buffered from now on (a direct read or write answered EINVAL). */
  refuseDirect(path: string): void {
    this.noDirect.add(path);
    this.drop(path + DIRECT);
  }

  close(path: string): void {
    this.drop(path);
    this.drop(path + DIRECT);
    this.noDirect.delete(path);
  }

  closeAll(): void {
    for (const key of [...this.open.keys()]) this.drop(key);
    this.noDirect.clear();
  }

  /** The fd of a file, opened (and created when asked) on first use and kept. */
  private fd(path: string, direct: boolean, create: boolean): number {
    const key = direct ? path + DIRECT : path;
    let fd = this.open.get(key);
    if (fd !== undefined) {
      this.open.delete(key); // refresh its LRU position
      this.open.set(key, fd);
      return fd;
    }
    // Read-write, without O_APPEND (which would make positional writes append).
    const flags = constants.O_RDWR | (create ? constants.O_CREAT : 0) | (direct ? constants.O_DIRECT : 0);
    fd = openSync(path, flags, 0o644);
    this.open.set(key, fd);
    for (const oldKey of this.open.keys()) {
      if (this.open.size <= MAX_OPEN) break;
      this.drop(oldKey);
    }
    return fd;
  }

  private drop(key: string): void {
    const fd = this.open.get(key);
    if (fd === undefined) return;
    this.open.delete(key);
    closeSync(fd);
  }
}

const DIRECT = '\0direct';

export function isEinval(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'EINVAL';
}
