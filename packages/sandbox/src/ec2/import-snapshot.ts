import { createHash } from 'node:crypto';
import { read } from 'node:fs';
import { promisify } from 'node:util';
import { BLOCK_SIZE, type BlockEngine } from '../core/blocks.js';
import { AwsError } from '../core/errors.js';
import type { SnapshotRecord, Tag } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import { hostBucket, objectStoreOf, type VersionRecord } from '../s3/index.js';
import { type Call, encryptionOf, type Handler, iso, tables } from './call.js';
import { applyFilters } from './filters.js';
import { paginate } from './paging.js';
import type { Params } from './query.js';
import { tagSet, tagSpecs } from './tags.js';

const readAt = promisify(read);
const GIB = 1024 ** 3;
const ZERO = Buffer.alloc(BLOCK_SIZE);
const TABLE = 'ec2.importSnapshotTasks';
/** An import takes a few snapshot-times: long enough for clients to watch "active" move. */
const IMPORT_TIME_FACTOR = 3;

interface ImportTask {
  importTaskId: string;
  ownerId: string;
  region: string;
  description?: string;
  diskDescription?: string;
  format: string;
  bucket?: string;
  key?: string;
  url?: string;
  encrypted: boolean;
  kmsKeyId?: string;
  startTime: string;
  /** Shown active until this instant whatever the copy did, then completed or deleted. */
  readyAt: string;
  phase: 'running' | 'done' | 'failed' | 'cancelled';
  statusMessage?: string;
  snapshotId: string;
  diskImageSize?: number;
  tags: Tag[];
}

/** Imports copying right now in this process; a task "running" but not here was cut short by a restart. */
const running = new Set<string>();

const table = (ctx: SandboxContext) => ctx.state.table<ImportTask>(TABLE);

function source(p: Params): { bucket: string; key: string; url?: string } {
  const url = p.str('DiskContainer.Url');
  const bucket = p.str('DiskContainer.UserBucket.S3Bucket');
  const key = p.str('DiskContainer.UserBucket.S3Key');
  if (bucket && key) return { bucket, key };
  if (!url) throw new AwsError('InvalidParameter', 'DiskContainer must specify either UserBucket or Url.');
  const s3 = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  if (s3) return { bucket: s3[1] as string, key: s3[2] as string, url };
  const https = /^https:\/\/([^/]+)\/(.+)$/.exec(url);
  const hosted = https ? hostBucket(https[1]) : undefined;
  if (https && hosted) return { bucket: hosted, key: decodeURIComponent(https[2] as string), url };
  throw new AwsError('InvalidParameter', `The URL ${url} is not an Amazon S3 URL.`);
}

/** Why the disk image cannot be imported, as the task's "ClientError: ..." status message says it. */
function problem(c: Call, t: ImportTask): string | VersionRecord {
  if (t.format !== 'RAW') return `ClientError: Disk validation failed [Unsupported ${t.format} File Format]`;
  const store = objectStoreOf(c.ctx);
  const b = store?.records.buckets.get(t.bucket as string);
  if (!store || !b)
    return 'ClientError: Disk validation failed [We do not have access to the given resource. Reason 404 Not Found]';
  if (b.ownerId !== c.accountId)
    return 'ClientError: Disk validation failed [We do not have access to the given resource. Reason 403 Forbidden]';
  if (b.region !== c.region) return 'ClientError: The given S3 bucket is not local to the region.';
  const v = store.records.latest(b.name, t.key as string);
  if (!v)
    return 'ClientError: Disk validation failed [We do not have access to the given resource. Reason 404 Not Found]';
  if (v.size === 0 || v.size % 512 !== 0)
    return 'ClientError: Disk validation failed [Invalid RAW disk image size: must be a non-zero multiple of 512 bytes]';
  return v;
}

export const importSnapshot: Handler = (c) => {
  const format = (c.p.str('DiskContainer.Format') ?? '').toUpperCase();
  if (!['RAW', 'VHD', 'VMDK'].includes(format)) {
    throw new AwsError(
      'InvalidParameter',
      `Unsupported disk image format '${c.p.str('DiskContainer.Format') ?? ''}'; RAW, VHD and VMDK are.`,
    );
  }
  const src = source(c.p);
  const enc = encryptionOf(c, c.p.bool('Encrypted'), c.p.str('KmsKeyId'));
  const t: ImportTask = {
    importTaskId: c.ctx.newId('import-snap'),
    ownerId: c.accountId,
    region: c.region,
    description: c.p.str('Description'),
    diskDescription: c.p.str('DiskContainer.Description'),
    format,
    ...src,
    ...enc,
    startTime: iso(c.now),
    readyAt: iso(c.now + c.ctx.timing.snapshotSeconds * IMPORT_TIME_FACTOR * 1000),
    phase: 'running',
    snapshotId: c.ctx.newId('snap'),
    tags: tagSpecs(c.p, ['import-snapshot-task']).get('import-snapshot-task') ?? [],
  };
  const found = problem(c, t);
  if (typeof found === 'string') Object.assign(t, { phase: 'failed', statusMessage: found });
  else t.diskImageSize = found.size;
  table(c.ctx).put(t.importTaskId, t);
  if (typeof found !== 'string') startCopy(c, t, found);
  return {
    description: t.description,
    importTaskId: t.importTaskId,
    snapshotTaskDetail: detail(t, c.now),
    tagSet: tagSet(t.tags),
  };
};

/** Copies the image into a new snapshot in the background, skipping all-zero blocks (they read as zeros). */
function startCopy(c: Call, t: ImportTask, v: VersionRecord): void {
  const store = objectStoreOf(c.ctx);
  if (!store) return;
  // The engine's CompleteSnapshot (of EBS direct snapshots) seals the imported one too.
  const engine = c.ctx.blocks as BlockEngine & { completeSnapshot(id: string): void };
  const sizeGiB = Math.max(1, Math.ceil(v.size / GIB));
  const open = store.files.openAll(v.segments);
  running.add(t.importTaskId);
  engine.startSnapshot(t.snapshotId, sizeGiB);
  copyBlocks(open, v, (index, block) => {
    if (table(c.ctx).get(t.importTaskId)?.phase === 'cancelled') throw new Error('cancelled');
    if (block.equals(ZERO)) return;
    engine.putSnapshotBlock(t.snapshotId, index, block, createHash('sha256').update(block).digest('base64'));
  })
    .then(() => {
      engine.completeSnapshot(t.snapshotId);
      finish(c, t, sizeGiB);
    })
    .catch((e: unknown) => {
      engine.deleteSnapshot(t.snapshotId);
      const cur = table(c.ctx).get(t.importTaskId);
      if (cur && cur.phase === 'running')
        table(c.ctx).put(t.importTaskId, {
          ...cur,
          phase: 'failed',
          statusMessage: `ServerError: ${(e as Error).message}`,
        });
    })
    .finally(() => {
      open.close();
      running.delete(t.importTaskId);
    });
}

/** Reads the object's segments block by block (the last block zero-padded) and hands each block over. */
async function copyBlocks(
  open: { fd(i: number): number },
  v: VersionRecord,
  onBlock: (index: number, block: Buffer) => void,
): Promise<void> {
  const block = Buffer.alloc(BLOCK_SIZE);
  let filled = 0;
  let index = 0;
  for (const [i, s] of v.segments.entries()) {
    let pos = 0;
    while (pos < s.size) {
      const want = Math.min(BLOCK_SIZE - filled, s.size - pos);
      const { bytesRead } = await readAt(open.fd(i), block, filled, want, pos);
      if (bytesRead === 0) throw new Error('the disk image is shorter than recorded');
      pos += bytesRead;
      filled += bytesRead;
      if (filled === BLOCK_SIZE) {
        onBlock(index++, block);
        filled = 0;
      }
    }
  }
  if (filled > 0) {
    block.fill(0, filled);
    onBlock(index, block);
  }
}

function finish(c: Call, t: ImportTask, sizeGiB: number): void {
  const cur = table(c.ctx).get(t.importTaskId);
  if (cur?.phase !== 'running') {
    c.ctx.blocks.deleteSnapshot(t.snapshotId);
    return;
  }
  const done = c.ctx.now();
  const s: SnapshotRecord = {
    snapshotId: t.snapshotId,
    ownerId: t.ownerId,
    region: t.region,
    volumeId: 'vol-ffffffff',
    volumeSizeGiB: sizeGiB,
    description: `Created by AWS-VMImport service for ${t.importTaskId}`,
    encrypted: t.encrypted,
    kmsKeyId: t.kmsKeyId,
    startTime: t.startTime,
    completesAt: iso(Math.max(done, Date.parse(t.readyAt))),
    origin: 'import',
    lineage: c.ctx.blocks.lineageOf(t.snapshotId) ?? t.snapshotId,
    sharedWith: [],
    tags: [],
  };
  tables(c).snapshots.put(s.snapshotId, s);
  table(c.ctx).put(t.importTaskId, { ...cur, phase: 'done' });
}

/** The task as clients see it: active (with progress) until readyAt and the copy are both done. */
function detail(t: ImportTask, now: number) {
  const base = {
    description: t.diskDescription,
    diskImageSize: t.diskImageSize,
    format: t.format,
    url: t.url,
    userBucket: t.bucket ? { s3Bucket: t.bucket, s3Key: t.key } : undefined,
    encrypted: t.encrypted,
    kmsKeyId: t.kmsKeyId,
  };
  const ready = now >= Date.parse(t.readyAt);
  if (t.phase === 'cancelled') return { ...base, status: 'deleted', statusMessage: t.statusMessage };
  if (ready && t.phase === 'failed') return { ...base, status: 'deleted', statusMessage: t.statusMessage };
  if (ready && t.phase === 'done') return { ...base, status: 'completed', snapshotId: t.snapshotId };
  const start = Date.parse(t.startTime);
  const pct = Math.min(
    99,
    Math.max(3, Math.floor(((now - start) / Math.max(1, Date.parse(t.readyAt) - start)) * 100)),
  );
  return {
    ...base,
    status: 'active',
    progress: String(pct),
    statusMessage: pct < 10 ? 'pending' : 'downloading/converting',
  };
}

function taskXml(t: ImportTask, now: number) {
  return {
    description: t.description,
    importTaskId: t.importTaskId,
    snapshotTaskDetail: detail(t, now),
    tagSet: tagSet(t.tags),
  };
}

/** A "running" task that no copy in this process is working on was interrupted by a restart. */
function settleInterrupted(ctx: SandboxContext, t: ImportTask): ImportTask {
  if (t.phase !== 'running' || running.has(t.importTaskId)) return t;
  const failed: ImportTask = {
    ...t,
    phase: 'failed',
    statusMessage: 'ServerError: the import was interrupted',
  };
  table(ctx).put(t.importTaskId, failed);
  return failed;
}

export const describeImportSnapshotTasks: Handler = (c) => {
  const ids = c.p.list('ImportTaskId');
  const mine = [...table(c.ctx).values()]
    .filter((t) => t.ownerId === c.accountId && t.region === c.region)
    .map((t) => settleInterrupted(c.ctx, t));
  for (const id of ids) {
    if (!mine.some((t) => t.importTaskId === id))
      throw new AwsError('InvalidConversionTaskId.Malformed', `The import task ID '${id}' does not exist`);
  }
  const chosen = ids.length ? mine.filter((t) => ids.includes(t.importTaskId)) : mine;
  const filters = c.p.structs('Filters').map((f) => ({ name: f.req('Name'), values: f.list('Values') }));
  const filtered = applyFilters(
    chosen,
    filters.length ? filters : c.p.filters(),
    { 'task-state': (t) => detail(t, c.now).status },
    (t) => t.tags,
  );
  const sorted = filtered.sort((a, b) => (a.importTaskId < b.importTaskId ? -1 : 1));
  const page = paginate(sorted, c.p, (t) => t.importTaskId, { min: 1, max: 500 }, 'ImportTaskId');
  return { importSnapshotTaskSet: page.items.map((t) => taskXml(t, c.now)), nextToken: page.nextToken };
};

export const cancelImportTask: Handler = (c) => {
  const id = c.p.req('ImportTaskId');
  const t = table(c.ctx).get(id);
  if (!t || t.ownerId !== c.accountId || t.region !== c.region)
    throw new AwsError('InvalidConversionTaskId', `The import task ID '${id}' does not exist`);
  const state = detail(t, c.now).status;
  if (state !== 'active')
    throw new AwsError(
      'IncorrectState',
      `The import task ${id} cannot be cancelled in the '${state}' state.`,
    );
  table(c.ctx).put(id, {
    ...t,
    phase: 'cancelled',
    statusMessage: c.p.str('CancelReason') ?? 'Cancelled by user',
  });
  if (t.phase === 'done') {
    tables(c).snapshots.delete(t.snapshotId);
    c.ctx.blocks.deleteSnapshot(t.snapshotId);
  }
  return { importTaskId: id, previousState: 'active', state: 'deleting' };
};
