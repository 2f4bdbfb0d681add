import { AwsError } from '../core/errors.js';
import type { SnapshotRecord } from '../core/model.js';
import { type Call, checkId, tables } from './call.js';
import { snapshotStatus, snapshotVisible } from './lifecycle.js';

/** Whether an account may create volumes from (restore) a snapshot: its owner, or granted createVolumePermission. */
export function canRestore(s: SnapshotRecord, accountId: string): boolean {
  return s.ownerId === accountId || s.sharedWith.includes(accountId) || s.sharedWith.includes('all');
}

export function notFound(id: string): AwsError {
  return new AwsError('InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`);
}

/** A snapshot of the request's region the caller may restore; completed when asked (volumes need whole data). */
export function findRestorableSnapshot(
  c: Call,
  id: string,
  completed: boolean,
  region = c.region,
): SnapshotRecord {
  checkId('snap', id, 'InvalidSnapshotID.Malformed');
  const s = tables(c).snapshots.get(id);
  if (!s || s.region !== region || !snapshotVisible(s, c.now) || !canRestore(s, c.accountId))
    throw notFound(id);
  if (completed) {
    const st = snapshotStatus(s, c.now).state;
    if (st !== 'completed') throw new AwsError('IncorrectState', `Snapshot is in invalid state - ${st}`);
  }
  return s;
}

/** A snapshot the caller owns; others' snapshots it can see are refused as AWS refuses them. */
export function findOwnSnapshot(c: Call, id: string): SnapshotRecord {
  const s = findRestorableSnapshot(c, id, false);
  if (s.ownerId !== c.accountId) {
    throw new AwsError('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403);
  }
  return s;
}
