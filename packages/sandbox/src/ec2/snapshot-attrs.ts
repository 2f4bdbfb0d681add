import { AwsError } from '../core/errors.js';
import type { SnapshotRecord } from '../core/model.js';
import { type Call, defaultEbsKey, type Handler, tables } from './call.js';
import { findOwnSnapshot } from './snapshot-access.js';

function checkAttribute(c: Call): string {
  const attr = c.p.req('Attribute');
  if (attr !== 'createVolumePermission' && attr !== 'productCodes') {
    throw new AwsError(
      'InvalidParameterValue',
      `Value (${attr}) for parameter attribute is invalid. Unknown attribute.`,
    );
  }
  return attr;
}

interface PermissionChange {
  add: string[];
  remove: string[];
}

/** Both forms AWS accepts: CreateVolumePermission.Add/Remove, or OperationType with UserId/UserGroup lists. */
function permissionChange(c: Call): PermissionChange {
  const entries = (list: ReturnType<typeof c.p.structs>) =>
    list.flatMap((e) => [e.str('UserId'), e.str('Group')].filter((x): x is string => x !== undefined));
  const perm = c.p.sub('CreateVolumePermission');
  const change: PermissionChange = {
    add: perm ? entries(perm.structs('Add')) : [],
    remove: perm ? entries(perm.structs('Remove')) : [],
  };
  const op = c.p.str('OperationType');
  const legacy = [...c.p.list('UserId'), ...c.p.list('UserGroup')];
  if (op === 'add') change.add.push(...legacy);
  else if (op === 'remove') change.remove.push(...legacy);
  else if (op !== undefined)
    throw new AwsError('InvalidParameterValue', `Value (${op}) for parameter operationType is invalid.`);
  if (change.add.length === 0 && change.remove.length === 0) {
    throw new AwsError('MissingParameter', 'The request must contain the parameter createVolumePermission');
  }
  for (const who of [...change.add, ...change.remove]) {
    if (who !== 'all' && !/^\d{12}$/.test(who)) {
      throw new AwsError('InvalidUserID.Malformed', `User ID '${who}' is invalid`);
    }
  }
  return change;
}

/** AWS refuses to make encrypted snapshots public, or to share those under the AWS-managed key at all. */
function checkShareable(s: SnapshotRecord, add: string[]): void {
  if (!s.encrypted || add.length === 0) return;
  if (add.includes('all')) {
    throw new AwsError('OperationNotPermitted', 'Encrypted snapshots with EBS default key cannot be shared');
  }
  if (s.kmsKeyId === defaultEbsKey(s.ownerId, s.region)) {
    throw new AwsError('OperationNotPermitted', 'Encrypted snapshots with EBS default key cannot be shared');
  }
}

export const modifySnapshotAttribute: Handler = (c) => {
  const s = findOwnSnapshot(c, c.p.req('SnapshotId'));
  const attr = c.p.str('Attribute') ?? 'createVolumePermission';
  if (attr !== 'createVolumePermission') {
    throw new AwsError('InvalidParameterValue', `Value (${attr}) for parameter attribute is invalid.`);
  }
  const change = permissionChange(c);
  checkShareable(s, change.add);
  const shared = s.sharedWith.filter((x) => !change.remove.includes(x));
  for (const x of change.add) if (!shared.includes(x)) shared.push(x);
  tables(c).snapshots.put(s.snapshotId, { ...s, sharedWith: shared });
  return { return: true };
};

export const describeSnapshotAttribute: Handler = (c) => {
  const s = findOwnSnapshot(c, c.p.req('SnapshotId'));
  const attr = checkAttribute(c);
  if (attr === 'productCodes') return { snapshotId: s.snapshotId, productCodes: [] };
  return {
    snapshotId: s.snapshotId,
    createVolumePermission: s.sharedWith.map((x) => (x === 'all' ? { group: 'all' } : { userId: x })),
  };
};

export const resetSnapshotAttribute: Handler = (c) => {
  const s = findOwnSnapshot(c, c.p.req('SnapshotId'));
  if (checkAttribute(c) !== 'createVolumePermission') {
    throw new AwsError('InvalidParameterValue', 'Only createVolumePermission can be reset.');
  }
  tables(c).snapshots.put(s.snapshotId, { ...s, sharedWith: [] });
  return { return: true };
};
