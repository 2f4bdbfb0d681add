import { randomUUID } from 'node:crypto';
import type { Tag } from '../core/model.js';
import { PolicyError, parsePolicy } from '../iam/policy.js';
import { keyAccessDenied, requireKeyAccess } from './access.js';
import { epoch, int, type KmsCall, type KmsOp, page, reqStr, str, validation } from './call.js';
import {
  defaultKeyPolicy,
  findKey,
  type KeyRecord,
  keyArn,
  keyById,
  keyState,
  kmsError,
  kmsTables,
} from './keys.js';

export function keyMetadata(k: KeyRecord) {
  return {
    AWSAccountId: k.accountId,
    KeyId: k.keyId,
    Arn: k.arn,
    CreationDate: epoch(k.creationDate),
    Enabled: keyState(k) === 'Enabled',
    Description: k.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: keyState(k),
    ...(k.deletionDate
      ? { DeletionDate: epoch(k.deletionDate), PendingDeletionWindowInDays: k.pendingWindowInDays }
      : {}),
    Origin: 'AWS_KMS',
    KeyManager: k.manager,
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
  };
}

/** The key a call names, which the caller may use for `action` (key policy, grants, IAM). */
export function usableKey(k: KmsCall, ref: string, action: string): KeyRecord {
  const key = findKey(k.ctx, k.who.accountId, k.region, ref);
  requireKeyAccess(k.ctx, key, { principal: k.who, action });
  return key;
}

/** Key management is not cross-account in KMS, whatever a key policy says. */
function ownKey(k: KmsCall, action: string): KeyRecord {
  const key = findKey(k.ctx, k.who.accountId, k.region, reqStr(k, 'KeyId'));
  if (key.accountId !== k.who.accountId) throw keyAccessDenied(key, { principal: k.who, action });
  requireKeyAccess(k.ctx, key, { principal: k.who, action });
  return key;
}

export function checkPolicy(text: string): string {
  try {
    parsePolicy(text, 'resource');
  } catch (e) {
    if (e instanceof PolicyError) throw kmsError('MalformedPolicyDocumentException', e.message);
    throw e;
  }
  return text;
}

function tagsOf(k: KmsCall): Tag[] {
  const raw = k.input.Tags;
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw kmsError('SerializationException', 'Tags must be a list');
  return raw.map((t: { TagKey?: unknown; TagValue?: unknown }) => {
    if (typeof t?.TagKey !== 'string' || typeof t.TagValue !== 'string') {
      throw kmsError('TagException', 'Tags need a TagKey and a TagValue');
    }
    if (t.TagKey.startsWith('aws:')) throw kmsError('TagException', `Tag keys cannot start with 'aws:'`);
    return { Key: t.TagKey, Value: t.TagValue };
  });
}

export const createKey: KmsOp = (k) => {
  const spec = str(k, 'KeySpec') ?? str(k, 'CustomerMasterKeySpec') ?? 'SYMMETRIC_DEFAULT';
  const usage = str(k, 'KeyUsage') ?? 'ENCRYPT_DECRYPT';
  if (spec !== 'SYMMETRIC_DEFAULT' || usage !== 'ENCRYPT_DECRYPT') {
    throw kmsError('UnsupportedOperationException', 'The sandbox makes symmetric encryption keys only.');
  }
  const policy = str(k, 'Policy');
  const keyId = randomUUID();
  const key: KeyRecord = {
    keyId,
    accountId: k.who.accountId,
    region: k.region,
    arn: keyArn(k.region, k.who.accountId, keyId),
    description: str(k, 'Description') ?? '',
    creationDate: new Date(k.ctx.now()).toISOString(),
    enabled: true,
    manager: 'CUSTOMER',
    policy: policy ? checkPolicy(policy) : defaultKeyPolicy(k.who.accountId),
    material: k.master.newMaterial(),
    tags: tagsOf(k),
  };
  kmsTables(k.ctx).keys.put(keyId, key);
  return { KeyMetadata: keyMetadata(key) };
};

export const describeKey: KmsOp = (k) => ({
  KeyMetadata: keyMetadata(usableKey(k, reqStr(k, 'KeyId'), 'kms:DescribeKey')),
});

export const listKeys: KmsOp = (k) => {
  const mine = [...kmsTables(k.ctx).keys.values()]
    .filter((x) => x.accountId === k.who.accountId && x.region === k.region && keyById(k.ctx, x.keyId))
    .sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
  const p = page(k, mine);
  return {
    Keys: p.items.map((x) => ({ KeyId: x.keyId, KeyArn: x.arn })),
    Truncated: p.Truncated,
    ...(p.NextMarker ? { NextMarker: p.NextMarker } : {}),
  };
};

function update(k: KmsCall, key: KeyRecord, change: Partial<KeyRecord>): KeyRecord {
  const next = { ...key, ...change };
  for (const [name, v] of Object.entries(change)) if (v === undefined) delete next[name as keyof KeyRecord];
  kmsTables(k.ctx).keys.put(key.keyId, next);
  return next;
}

function notPending(key: KeyRecord): void {
  if (keyState(key) === 'PendingDeletion') {
    throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
}

export const enableKey: KmsOp = (k) => {
  const key = ownKey(k, 'kms:EnableKey');
  notPending(key);
  update(k, key, { enabled: true });
  return {};
};

export const disableKey: KmsOp = (k) => {
  const key = ownKey(k, 'kms:DisableKey');
  notPending(key);
  update(k, key, { enabled: false });
  return {};
};

export const scheduleKeyDeletion: KmsOp = (k) => {
  const key = ownKey(k, 'kms:ScheduleKeyDeletion');
  const days = int(k, 'PendingWindowInDays') ?? 30;
  if (days < 7 || days > 30) {
    throw validation(
      `Value '${days}' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30`,
    );
  }
  notPending(key);
  const deletionDate = new Date(k.ctx.now() + days * 86_400_000).toISOString();
  update(k, key, { deletionDate, pendingWindowInDays: days });
  return {
    KeyId: key.arn,
    DeletionDate: epoch(deletionDate),
    KeyState: 'PendingDeletion',
    PendingWindowInDays: days,
  };
};

export const cancelKeyDeletion: KmsOp = (k) => {
  const key = ownKey(k, 'kms:CancelKeyDeletion');
  if (keyState(key) !== 'PendingDeletion') {
    throw kmsError('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
  }
  // AWS leaves a key whose deletion was cancelled disabled.
  update(k, key, { deletionDate: undefined, pendingWindowInDays: undefined, enabled: false });
  return { KeyId: key.arn };
};

function policyName(k: KmsCall): string {
  const name = str(k, 'PolicyName') ?? 'default';
  if (name !== 'default') throw kmsError('NotFoundException', 'No such policy exists');
  return name;
}

export const getKeyPolicy: KmsOp = (k) => {
  const key = ownKey(k, 'kms:GetKeyPolicy');
  return { Policy: key.policy, PolicyName: policyName(k) };
};

export const putKeyPolicy: KmsOp = (k) => {
  const key = ownKey(k, 'kms:PutKeyPolicy');
  policyName(k);
  notPending(key);
  update(k, key, { policy: checkPolicy(reqStr(k, 'Policy')) });
  return {};
};
