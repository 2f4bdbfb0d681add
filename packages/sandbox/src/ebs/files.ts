import { closeSync, constants, openSync } from 'node:fs';

/** Open data files, kept open for reuse: reading a block is then one pread, not open + read + close. */
const MAX_OPEN = 256;

/** A small LRU of read-write file descriptors (files are created on first use). */
export class FdCache {
  private readonly fds = new Map<string, number>();

  get(path: string): number {
    let fd = this.fds.get(path);
    if (fd !== undefined) {
      this.fds.delete(path); // refresh its LRU position
      this.fds.set(path, fd);
      return fd;
    }
    // Read-write, created if missing, without O_APPEND (which would make positional writes append).
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
    this.fds.set(path, fd);
    for (const [oldPath, oldFd] of this.fds) {
      if (this.fds.size <= MAX_OPEN) break;
      this.fds.delete(oldPath);
      closeSync(oldFd);
    }
    return fd;
  }

  close(path: string): void {
    const fd = this.fds.get(path);
    if (fd === undefined) return;
    this.fds.delete(path);
    closeSync(fd);
  }

  closeAll(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
