import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RepositoryError } from '../errors.js';
import type { InitMessage, WorkerReply, WorkerRequest } from './protocol.js';

function workerScript(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  if (existsSync(here)) return here;
  // Running from TypeScript sources (tests): use the built worker.
  return fileURLToPath(new URL('../../dist/workers/worker.js', import.meta.url));
}

interface Pending {
  resolve: (r: WorkerReply) => void;
  reject: (e: Error) => void;
}

/**
 * A fixed set of data workers, one per core by default. Requests carry a job number; a job's requests go to the
 * worker chosen for it (seal needs the blocks its hash kept).
 */
export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly load: number[] = [];
  private nextJob = 1;
  private failure: Error | undefined;
  private closing = false;

  constructor(init: InitMessage, size = Math.max(1, Math.min(availableParallelism(), 8))) {
    const script = workerScript();
    for (let i = 0; i < size; i++) {
      const w = new Worker(script, { workerData: init });
      w.on('message', (reply: WorkerReply) => this.onReply(i, reply));
      // A worker's uncaught error, a reply that cannot be decoded or a worker that ends: every request waiting
      // on the pool is rejected with it (the caller reports it), and later requests are refused.
      w.on('error', (err) => this.fail(new Error(`a data worker failed: ${err.message}`, { cause: err })));
      w.on('messageerror', (err) =>
        this.fail(new Error(`a data worker's reply is unreadable: ${err.message}`)),
      );
      w.on('exit', (code) => {
        if (!this.closing) this.fail(new Error(`a data worker ended unexpectedly (exit code ${code})`));
      });
      this.workers.push(w);
      this.load.push(0);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  newJob(): { job: number; worker: number } {
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[best]!) best = i;
    return { job: this.nextJob++, worker: best };
  }

  request<T extends WorkerReply>(
    worker: number,
    req: WorkerRequest,
    transfer: ArrayBuffer[] = [],
  ): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    this.load[worker]!++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(req.job, { resolve: resolve as (r: WorkerReply) => void, reject });
      this.workers[worker]!.postMessage(req, transfer);
    }).finally(() => {
      this.load[worker]!--;
    });
  }

  private onReply(_worker: number, reply: WorkerReply): void {
    const p = this.pending.get(reply.job);
    if (!p) return;
    this.pending.delete(reply.job);
    if (reply.error) p.reject(new RepositoryError('SOURCE_IO', reply.error));
    else p.resolve(reply);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
