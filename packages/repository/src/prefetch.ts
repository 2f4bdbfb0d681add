import { statSync } from 'node:fs';
import { RepositoryError } from './errors.js';
import { CHUNK_SIZE } from './format.js';
import { WorkerPool } from './workers/pool.js';

/** Blocks per worker request of the backup pipeline (and of a prefetch: the same batches). */
export const BATCH_BLOCKS = 8;
/** At most this many blocks are read ahead: 64 MiB, held compressed (raw only when they do not compress). */
const PREFETCH_BLOCKS = 128;

/** What a prefetch needs to know of a disk: the blocks the backup will read, in its order. */
export interface PrefetchDisk {
  name: string;
  path: string;
  changedBlocks?: readonly number[];
}

/**
 * A backup made ready before the repository is open: the worker threads start and the first blocks of the
 * disks are read, hashed (SHA-256) and compressed while the key is derived (scrypt takes ~0.4 s of one core),
 * because none of that needs the key. The backup then claims each read-ahead batch by its exact blocks, and the
 * worker that holds it only derives the ids (an HMAC of each digest) and encrypts. Nothing of the repository is
 * touched; close() drops whatever was not claimed (e.g. the repository did not open).
 */
export class PreparedBackup {
  private readonly batches = new Map<string, { job: number; worker: number }>();
  private readonly jobs: Array<{ job: number; worker: number }> = [];
  private keyed = false;
  /** Read-ahead batches the backup used (a measure of the overlap; tests check it). */
  claimed = 0;
  private closed = false;

  private constructor(readonly pool: WorkerPool) {}

  static start(disks: readonly PrefetchDisk[], options: { workers?: number } = {}): PreparedBackup {
    const prepared = new PreparedBackup(new WorkerPool(undefined, options.workers));
    let budget = PREFETCH_BLOCKS;
    let next = 0;
    for (const disk of disks) {
      const order = readOrder(disk, budget);
      for (let i = 0; i < order.length; i += BATCH_BLOCKS) {
        const blocks = order.slice(i, i + BATCH_BLOCKS);
        const { job } = prepared.pool.newJob();
        const worker = next++ % prepared.pool.size;
        prepared.pool.post(worker, { op: 'prefetch', job, path: disk.path, blocks });
        prepared.batches.set(batchKey(disk.name, blocks), { job, worker });
        prepared.jobs.push({ job, worker });
      }
      budget -= order.length;
      if (budget <= 0) break;
    }
    return prepared;
  }

  /** The workers get the repository's key (once). */
  useKey(secret: Uint8Array, repositoryId: string): void {
    if (this.keyed) return;
    this.keyed = true;
    this.pool.setKey({ secret, repositoryId });
  }

  /** The job and worker holding this batch of a disk, read ahead; undefined when it was not. */
  claim(disk: string, blocks: readonly number[]): { job: number; worker: number } | undefined {
    const key = batchKey(disk, blocks);
    const batch = this.batches.get(key);
    if (!batch) return undefined;
    this.batches.delete(key);
    this.claimed++;
    return batch;
  }

  /** Drops the unclaimed read-ahead and stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const unclaimed = new Set([...this.batches.values()].map((b) => b.job));
    for (let w = 0; w < this.pool.size; w++) {
      const jobs = this.jobs.filter((j) => j.worker === w && unclaimed.has(j.job)).map((j) => j.job);
      if (jobs.length) this.pool.post(w, { op: 'drop', jobs });
    }
    this.batches.clear();
    await this.pool.close();
  }
}

function batchKey(disk: string, blocks: readonly number[]): string {
  return `${disk}\0${blocks.join(',')}`;
}

/**
 * The first `limit` blocks the backup will read from a disk: the changed blocks, or every block. Anything odd
 * (no such file, a bad list) reads nothing ahead: the backup itself reports it.
 */
function readOrder(disk: PrefetchDisk, limit: number): number[] {
  let blocks: number;
  try {
    blocks = Math.ceil(statSync(disk.path).size / CHUNK_SIZE);
  } catch {
    return [];
  }
  if (!disk.changedBlocks) return Array.from({ length: Math.min(blocks, limit) }, (_, i) => i);
  try {
    return normalizeChanged(disk.changedBlocks, blocks, disk.name).slice(0, limit);
  } catch {
    return [];
  }
}

/** Changed blocks sorted and without repeats; one outside the image is refused. */
export function normalizeChanged(list: readonly number[], blocks: number, name: string): number[] {
  for (const b of list) {
    if (!Number.isInteger(b) || b < 0 || b >= blocks) {
      throw new RepositoryError(
        'INVALID_ARGUMENT',
        `changed block ${b} of disk "${name}" is outside the image (blocks 0-${blocks - 1} of ${CHUNK_SIZE} bytes)`,
      );
    }
  }
  return [...new Set(list)].sort((a, b) => a - b);
}
