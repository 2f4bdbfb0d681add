import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { BLOCK_SIZE } from '../core/blocks.js';
import { AwsError } from '../core/errors.js';
import type { SnapshotRecord } from '../core/model.js';
import type { AwsRequest, SandboxContext } from '../core/service.js';
import { checkSnapshotKey, WRITE_WITH } from './encryption.js';
import { BLOCKS_PER_GIB, type LayeredBlockEngine } from './engine.js';
import { header, intParam, sendJson, validation } from './rest.js';
import { findSnapshot, markTimeout, snapshotsTable } from './snapshots.js';
import { type StartInput, startSnapshotRecord } from './start.js';

export interface WriteDeps {
  engine: LayeredBlockEngine;
}

/** A pending EBS direct snapshot of the caller's, ready to take blocks (or completion). */
function writableSnapshot(ctx: SandboxContext, req: AwsRequest, id: string): SnapshotRecord {
  const rec = findSnapshot(ctx, req, id, true);
  checkSnapshotKey(ctx, req, rec, WRITE_WITH);
  if (rec.origin !== 'ebs-direct' || !rec.direct) {
    throw validation('INVALID_SNAPSHOT_ID', `The snapshot '${id}' was not started with StartSnapshot.`);
  }
  const status = markTimeout(ctx, rec);
  if (status === 'error') {
    throw validation('WRITE_REQUEST_TIMEOUT', `The snapshot '${id}' timed out before it was completed.`);
  }
  return rec;
}

export function startSnapshot(req: AwsRequest, res: ServerResponse, ctx: SandboxContext, d: WriteDeps): void {
  let input: StartInput;
  try {
    input = JSON.parse(req.body.length ? req.body.toString('utf8') : '{}');
  } catch {
    throw new AwsError('SerializationException', 'The request body is not valid JSON.', 400);
  }
  const { record, created } = startSnapshotRecord(ctx, req, d.engine, input);
  sendJson(res, 201, {
    Description: record.description || undefined,
    SnapshotId: record.snapshotId,
    OwnerId: record.ownerId,
    Status: created ? 'pending' : markTimeout(ctx, record),
    StartTime: Date.parse(record.startTime) / 1000,
    VolumeSize: record.volumeSizeGiB,
    BlockSize: BLOCK_SIZE,
    Tags: record.tags.length ? record.tags : undefined,
    ParentSnapshotId: record.parentSnapshotId,
    KmsKeyArn: record.encrypted ? record.kmsKeyId : undefined,
  });
}

export function putSnapshotBlock(
  req: AwsRequest,
  res: ServerResponse,
  ctx: SandboxContext,
  d: WriteDeps,
  id: string,
  indexText: string,
): void {
  const index = intParam(indexText, 'BlockIndex');
  const length = intParam(header(req.headers['x-amz-data-length']), 'DataLength');
  const checksum = header(req.headers['x-amz-checksum']);
  const algorithm = header(req.headers['x-amz-checksum-algorithm']);
  if (!checksum || !/^[A-Za-z0-9+/=]{1,64}$/.test(checksum)) {
    throw validation('INVALID_PARAMETER_VALUE', 'Checksum (x-amz-Checksum) is required and must be base64.');
  }
  if (algorithm !== 'SHA256')
    throw validation('INVALID_PARAMETER_VALUE', 'ChecksumAlgorithm must be SHA256.');
  const progress = header(req.headers['x-amz-progress']);
  if (progress !== undefined) {
    const p = intParam(progress, 'Progress');
    if (p < 0 || p > 100) throw validation('INVALID_PARAMETER_VALUE', 'Progress must be within 0..100.');
  }
  if (length !== BLOCK_SIZE) throw validation('INVALID_PARAMETER_VALUE', `DataLength must be ${BLOCK_SIZE}.`);
  if (req.body.length !== length) throw validation('INVALID_PARAMETER_VALUE', 'Failed to read block data');
  const rec = writableSnapshot(ctx, req, id);
  if (index < 0 || index >= rec.volumeSizeGiB * BLOCKS_PER_GIB) {
    throw validation('INVALID_BLOCK', `Block index ${index} is outside the ${rec.volumeSizeGiB} GiB volume.`);
  }
  if (rec.direct?.status !== 'pending') {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `The snapshot '${id}' is completed: it takes no more blocks.`,
    );
  }
  // The payload hash SigV4 already checked is the block's SHA-256: hash once, compare twice.
  const digest = req.bodySha256 ?? createHash('sha256').update(req.body).digest();
  const actual = digest.toString('base64');
  if (actual !== checksum) {
    throw validation(
      'INVALID_BLOCK',
      `The block's SHA-256 is ${actual}, not the ${checksum} given in x-amz-Checksum.`,
    );
  }
  d.engine.putSnapshotBlock(id, index, req.body, actual);
  extendTimeout(ctx, rec);
  res.writeHead(201, { 'x-amz-Checksum': actual, 'x-amz-Checksum-Algorithm': 'SHA256', 'content-length': 0 });
  res.end();
}

/** Timeout counts from the last block written: push the deadline on, journaling at most once a minute. */
function extendTimeout(ctx: SandboxContext, rec: SnapshotRecord): void {
  const direct = rec.direct;
  const minutes = ctx.state
    .table<{ timeoutMinutes: number }>('ebs.starts')
    .get(rec.snapshotId)?.timeoutMinutes;
  if (!direct || minutes === undefined) return;
  const next = ctx.now() + minutes * 60_000;
  if (next - Date.parse(direct.timeoutAt) < 60_000) return;
  snapshotsTable(ctx).put(rec.snapshotId, {
    ...rec,
    direct: { ...direct, timeoutAt: new Date(next).toISOString() },
  });
}

export function completeSnapshot(
  req: AwsRequest,
  res: ServerResponse,
  ctx: SandboxContext,
  d: WriteDeps,
  id: string,
): void {
  const rec = writableSnapshot(ctx, req, id);
  const count = intParam(header(req.headers['x-amz-changedblockscount']), 'ChangedBlocksCount');
  if (count < 0) throw validation('INVALID_PARAMETER_VALUE', 'ChangedBlocksCount must be at least 0.');
  if (rec.direct?.status === 'completed') {
    sendJson(res, 202, { Status: markTimeout(ctx, rec) });
    return;
  }
  const own = d.engine.ownBlocks(id);
  if (own.indexes.length !== count) {
    throw validation(
      'INVALID_PARAMETER_VALUE',
      `ChangedBlocksCount is ${count} but ${own.indexes.length} blocks were written to '${id}'.`,
    );
  }
  checkAggregate(req, own.hashes);
  d.engine.completeSnapshot(id);
  const now = ctx.now();
  const completesAt = new Date(now + ctx.timing.snapshotSeconds * 1000).toISOString();
  snapshotsTable(ctx).put(id, {
    ...rec,
    completesAt,
    direct: { ...(rec.direct as NonNullable<SnapshotRecord['direct']>), status: 'completed' },
  });
  sendJson(res, 202, { Status: ctx.timing.snapshotSeconds > 0 ? 'pending' : 'completed' });
}

/** The LINEAR aggregate: SHA-256 over the raw 32-byte block digests in ascending index order, base64. */
function checkAggregate(req: AwsRequest, ownHashes: Buffer): void {
  const checksum = header(req.headers['x-amz-checksum']);
  if (checksum === undefined) return;
  const algorithm = header(req.headers['x-amz-checksum-algorithm']);
  const method = header(req.headers['x-amz-checksum-aggregation-method']);
  if (algorithm !== 'SHA256')
    throw validation('INVALID_PARAMETER_VALUE', 'ChecksumAlgorithm must be SHA256.');
  if (method !== 'LINEAR')
    throw validation('INVALID_PARAMETER_VALUE', 'ChecksumAggregationMethod must be LINEAR.');
  const actual = createHash('sha256').update(ownHashes).digest('base64');
  if (actual !== checksum) {
    throw validation('INVALID_PARAMETER_VALUE', `The aggregate checksum is ${actual}, not ${checksum}.`);
  }
}
