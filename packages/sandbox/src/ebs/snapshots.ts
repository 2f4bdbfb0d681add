import type { SnapshotRecord } from '../core/model.js';
import type { AwsRequest, SandboxContext } from '../core/service.js';
import type { Table } from '../core/state.js';
import { checkSnapshotKey, READ_WITH } from './encryption.js';
import { accessDenied, notFound, validation } from './rest.js';

export type SnapshotStatus = 'pending' | 'completed' | 'error';

const SNAPSHOT_ID = /^snap-[0-9a-f]+$/;

/**
 * A snapshot's status at `now`, derived from its timestamps so that it survives restarts: EC2 snapshots complete
 * at completesAt; EBS direct ones stay pending until CompleteSnapshot (then complete at completesAt) and turn to
 * error when their Timeout passes first. EC2's DescribeSnapshots should derive it the same way.
 */
export function snapshotStatus(rec: SnapshotRecord, now: number): SnapshotStatus {
  if (rec.state === 'error') return 'error';
  if (rec.origin === 'ebs-direct' && rec.direct) {
    if (rec.direct.status === 'error') return 'error';
    if (rec.direct.status === 'pending') return now > Date.parse(rec.direct.timeoutAt) ? 'error' : 'pending';
  }
  return now < Date.parse(rec.completesAt) ? 'pending' : 'completed';
}

/** True inside the "snapshot does not exist" window right after StartSnapshot. */
export function invisible(rec: SnapshotRecord, now: number): boolean {
  return rec.direct !== undefined && now < Date.parse(rec.direct.visibleAt);
}

export function snapshotsTable(ctx: SandboxContext): Table<SnapshotRecord> {
  return ctx.state.table<SnapshotRecord>('snapshots');
}

/**
 * The snapshot a request names, as its caller may see it: in the request's region, past its invisible window,
 * owned by the caller or shared with it (or, with `write`, owned).
 */
export function findSnapshot(
  ctx: SandboxContext,
  req: AwsRequest,
  id: string,
  write = false,
): SnapshotRecord {
  if (!SNAPSHOT_ID.test(id)) throw validation('INVALID_SNAPSHOT_ID', `'${id}' is not a valid snapshot id.`);
  const rec = snapshotsTable(ctx).get(id);
  if (!rec || rec.region !== req.region || invisible(rec, ctx.now())) throw notFound(id);
  const me = req.principal.accountId;
  if (rec.ownerId === me) return rec;
  if (!write && (rec.sharedWith.includes(me) || rec.sharedWith.includes('all'))) return rec;
  throw accessDenied(
    `The account ${me} is not authorized to ${write ? 'write to' : 'read'} snapshot '${id}'.`,
  );
}

/** A snapshot to read blocks from: it must be completed, and its key (when encrypted) usable by the caller. */
export function readableSnapshot(ctx: SandboxContext, req: AwsRequest, id: string): SnapshotRecord {
  const rec = findSnapshot(ctx, req, id);
  checkSnapshotKey(ctx, req, rec, READ_WITH);
  const status = markTimeout(ctx, rec);
  if (status !== 'completed') {
    throw validation(
      'INVALID_SNAPSHOT_ID',
      `The snapshot '${id}' is ${status}: only completed snapshots can be read.`,
    );
  }
  return rec;
}

/** Persists the error state of an EBS direct snapshot whose Timeout passed (so EC2 shows it too). */
export function markTimeout(ctx: SandboxContext, rec: SnapshotRecord): SnapshotStatus {
  const status = snapshotStatus(rec, ctx.now());
  if (status === 'error' && rec.direct?.status === 'pending') {
    snapshotsTable(ctx).put(rec.snapshotId, {
      ...rec,
      state: 'error',
      stateMessage: 'The snapshot was not completed within its timeout.',
      direct: { ...rec.direct, status: 'error' },
    });
  }
  return status;
}

/** Marks every timed-out EBS direct snapshot as error (run periodically). */
export function expireDirectSnapshots(ctx: SandboxContext): void {
  for (const rec of [...snapshotsTable(ctx).values()]) {
    if (rec.direct?.status === 'pending') markTimeout(ctx, rec);
  }
}
