import type { ServerResponse } from 'node:http';
import { BLOCK_SIZE } from '../core/blocks.js';
import type { AwsRequest, SandboxContext } from '../core/service.js';
import { alignedBlock } from './direct.js';
import type { LayeredBlockEngine } from './engine.js';
import { intParam, sendJson, validation } from './rest.js';
import { readableSnapshot } from './snapshots.js';
import { BLOCK_TOKEN_SECONDS, PAGE_TOKEN_SECONDS, type Tokens } from './tokens.js';

const MIN_RESULTS = 100;
const MAX_RESULTS = 10000;
/** What AWS answers when MaxResults is left out (not documented; the smallest page keeps clients honest). */
const DEFAULT_RESULTS = 100;
/** Reusable 512 KiB buffers for GetSnapshotBlock bodies: no allocation (and no GC pressure) per block. */
const POOL_SIZE = 64;

export interface ReadDeps {
  engine: LayeredBlockEngine;
  tokens: Tokens;
}

/** MaxResults: below 100 counts as 100 (the model's minimum), above 10000 is refused. */
function pageSize(req: AwsRequest): number {
  const n = intParam(req.query.get('maxResults'), 'MaxResults', DEFAULT_RESULTS);
  if (n > MAX_RESULTS)
    throw validation('INVALID_PARAMETER_VALUE', `MaxResults must be at most ${MAX_RESULTS}.`);
  return Math.max(n, MIN_RESULTS);
}

/** Where a listing starts: the page token's position, else StartingBlockIndex, else 0. */
function startIndex(req: AwsRequest, d: ReadDeps, scope: string, nowSec: number): number {
  const token = req.query.get('pageToken');
  if (token !== null) {
    const next = d.tokens.checkPageToken(token, scope, nowSec);
    if (next === undefined)
      throw validation('INVALID_PAGE_TOKEN', 'The page token is not valid or has expired.');
    return next;
  }
  const start = intParam(req.query.get('startingBlockIndex'), 'StartingBlockIndex', 0);
  if (start < 0) throw validation('INVALID_PARAMETER_VALUE', 'StartingBlockIndex must be at least 0.');
  return start;
}

export function listSnapshotBlocks(
  req: AwsRequest,
  res: ServerResponse,
  ctx: SandboxContext,
  d: ReadDeps,
  id: string,
) {
  const rec = readableSnapshot(ctx, req, id);
  const nowSec = Math.floor(ctx.now() / 1000);
  const scope = `ListSnapshotBlocks|${id}`;
  const max = pageSize(req);
  const refs = d.engine.listSnapshotBlocks(id, startIndex(req, d, scope, nowSec), max + 1);
  const expiry = nowSec + BLOCK_TOKEN_SECONDS;
  const more = refs.length > max ? refs.pop() : undefined;
  sendJson(res, 200, {
    Blocks: refs.map((r) => ({ BlockIndex: r.index, BlockToken: d.tokens.blockToken(id, r.index, expiry) })),
    ExpiryTime: expiry,
    VolumeSize: rec.volumeSizeGiB,
    BlockSize: BLOCK_SIZE,
    ...(more ? { NextToken: d.tokens.pageToken(scope, more.index, nowSec + PAGE_TOKEN_SECONDS) } : {}),
  });
}

export function listChangedBlocks(
  req: AwsRequest,
  res: ServerResponse,
  ctx: SandboxContext,
  d: ReadDeps,
  id: string,
) {
  const second = readableSnapshot(ctx, req, id);
  const firstId = req.query.get('firstSnapshotId') ?? undefined;
  if (firstId !== undefined) readableSnapshot(ctx, req, firstId);
  const nowSec = Math.floor(ctx.now() / 1000);
  const scope = `ListChangedBlocks|${firstId ?? ''}|${id}`;
  const max = pageSize(req);
  const page = d.engine.changedPage(firstId, id, startIndex(req, d, scope, nowSec), max);
  if (!page) {
    throw validation(
      'UNRELATED_SNAPSHOTS',
      `The snapshots '${firstId}' and '${id}' are not of the same lineage.`,
    );
  }
  const expiry = nowSec + BLOCK_TOKEN_SECONDS;
  sendJson(res, 200, {
    ChangedBlocks: page.entries.map((e) => ({
      BlockIndex: e.index,
      ...(e.first && firstId ? { FirstBlockToken: d.tokens.blockToken(firstId, e.index, expiry) } : {}),
      ...(e.second ? { SecondBlockToken: d.tokens.blockToken(id, e.index, expiry) } : {}),
    })),
    ExpiryTime: expiry,
    VolumeSize: second.volumeSizeGiB,
    BlockSize: BLOCK_SIZE,
    ...(page.next !== undefined
      ? { NextToken: d.tokens.pageToken(scope, page.next, nowSec + PAGE_TOKEN_SECONDS) }
      : {}),
  });
}

/** Aligned (direct.ts), so that blocks are read into them with O_DIRECT, bypassing the page cache. */
const pool: Buffer[] = [];

export function getSnapshotBlock(
  req: AwsRequest,
  res: ServerResponse,
  ctx: SandboxContext,
  d: ReadDeps,
  id: string,
  indexText: string,
) {
  const index = intParam(indexText, 'BlockIndex');
  const token = req.query.get('blockToken');
  if (!token) throw validation('INVALID_BLOCK_TOKEN', 'BlockToken is required.');
  const rec = readableSnapshot(ctx, req, id);
  const verdict = d.tokens.checkBlockToken(token, id, index, Math.floor(ctx.now() / 1000));
  if (verdict === 'expired') throw validation('INVALID_BLOCK_TOKEN', 'The block token has expired.');
  if (verdict !== 'ok' || index >= rec.volumeSizeGiB * 2048) {
    throw validation('INVALID_BLOCK_TOKEN', `The block token is not valid for block ${index} of '${id}'.`);
  }
  const buf = pool.pop() ?? alignedBlock();
  let hash: Buffer;
  try {
    // Synchronous, as PutSnapshotBlock's write: a direct read of 512 KiB holds the loop ~0.3 ms here, and
    // handing it to libuv's pool cost 4-14 % more CPU per GB in A/B runs (docs/benchmarks-sandbox.md).
    hash = d.engine.readSnapshotBlockInto(id, index, buf);
  } catch (e) {
    if (pool.length < POOL_SIZE) pool.push(buf);
    throw e;
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': BLOCK_SIZE,
    'x-amz-Data-Length': BLOCK_SIZE,
    'x-amz-Checksum': hash.toString('base64'),
    'x-amz-Checksum-Algorithm': 'SHA256',
  });
  // Back to the pool only once the kernel has the bytes; an aborted response keeps its buffer (GC frees it).
  res.once('finish', () => {
    if (pool.length < POOL_SIZE) pool.push(buf);
  });
  res.end(buf);
}
