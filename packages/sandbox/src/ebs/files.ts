import { closeSync, constants, openSync } from 'node:fs';

/** Open descriptors kept for reuse (a data file may have two: buffered and O_DIRECT). */
const MAX_OPEN = 512;

interface Handle {
  fd: number;
  /** Reads in flight on the thread pool: the fd is closed only once none is left (its number not reused). */
  pins: number;
  /** Out of the cache (evicted or its file closed): closed when the last pin goes. */
  retired: boolean;
}

/** An fd held open for an asynchronous read; release() exactly once, when the read has settled. */
export interface Pin {
  readonly fd: number;
  readonly direct: boolean;
  release(): void;
}

/**
 * A small LRU of read-write file descriptors: reading a block is then one pread, not open + read + close. Data
 * files have, beside the buffered fd, an O_DIRECT one for whole aligned blocks (see direct.ts); a file whose
 * file system refuses O_DIRECT (EINVAL) is remembered and served buffered only.
 */
export class FdCache {
  private readonly open = new Map<string, Handle>(); // by path, "\0direct" appended for O_DIRECT fds
  private readonly noDirect = new Set<string>();

  constructor(readonly directIo = true) {}

  /** The buffered fd of a file, created if missing: use it at once (a later open may evict it). */
  get(path: string): number {
    return this.handle(path, false, true).fd;
  }

  /** The O_DIRECT fd of a file (created if missing), or undefined when direct I/O is off or refused for it. */
  direct(path: string): number | undefined {
    return this.directHandle(path, true)?.fd;
  }

  canDirect(path: string): boolean {
    return this.directIo && !this.noDirect.has(path);
  }

  /** Serves the file buffered from now on (a direct read or write answered EINVAL). */
  refuseDirect(path: string): void {
    this.noDirect.add(path);
    this.drop(path + DIRECT);
  }

  /**
   * Holds an fd open across an asynchronous read: the direct one when asked and possible, else the buffered one.
   * The file is not created: a file removed meanwhile fails with ENOENT rather than reading as a new empty file.
   */
  pin(path: string, direct: boolean): Pin {
    const d = direct ? this.directHandle(path, false) : undefined;
    const h = d ?? this.handle(path, false, false);
    h.pins++;
    let released = false;
    return {
      fd: h.fd,
      direct: d !== undefined,
      release: () => {
        if (released) return;
        released = true;
        if (--h.pins === 0 && h.retired) closeSync(h.fd);
      },
    };
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

  private directHandle(path: string, create: boolean): Handle | undefined {
    if (!this.canDirect(path)) return undefined;
    try {
      return this.handle(path, true, create);
    } catch (e) {
      if (!isEinval(e)) throw e;
      this.noDirect.add(path); // tmpfs of older kernels, some FUSE and network file systems
      return undefined;
    }
  }

  private handle(path: string, direct: boolean, create: boolean): Handle {
    const key = direct ? path + DIRECT : path;
    let h = this.open.get(key);
    if (h) {
      this.open.delete(key); // refresh its LRU position
      this.open.set(key, h);
      return h;
    }
    // Read-write, without O_APPEND (which would make positional writes append).
    const flags = constants.O_RDWR | (create ? constants.O_CREAT : 0) | (direct ? constants.O_DIRECT : 0);
    h = { fd: openSync(path, flags, 0o644), pins: 0, retired: false };
    this.open.set(key, h);
    for (const oldKey of this.open.keys()) {
      if (this.open.size <= MAX_OPEN) break;
      this.drop(oldKey);
    }
    return h;
  }

  private drop(key: string): void {
    const h = this.open.get(key);
    if (!h) return;
    this.open.delete(key);
    h.retired = true;
    if (h.pins === 0) closeSync(h.fd);
  }
}

const DIRECT = '\0direct';

export function isEinval(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'EINVAL';
}
