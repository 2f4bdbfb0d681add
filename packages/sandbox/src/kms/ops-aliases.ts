import { requireKeyAccess } from './access.js';
import { epoch, type KmsCall, type KmsOp, page, reqStr, str } from './call.js';
import { type AliasRecord, aliasKey, findKey, keyById, keyState, kmsError, kmsTables } from './keys.js';

const ALIAS_NAME = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

function aliasArn(a: AliasRecord): string {
  return `arn:aws:kms:${a.region}:${a.accountId}:${a.aliasName}`;
}

function checkName(name: string): void {
  if (!ALIAS_NAME.test(name)) {
    throw kmsError(
      'InvalidAliasNameException',
      `Alias name ${name} must begin with alias/ and use [a-zA-Z0-9/_-].`,
    );
  }
  if (name.startsWith('alias/aws/')) {
    throw kmsError(
      'InvalidAliasNameException',
      'Alias names beginning with alias/aws/ are reserved for AWS managed keys.',
    );
  }
}

export const createAlias: KmsOp = (k) => {
  const name = reqStr(k, 'AliasName');
  checkName(name);
  const target = reqStr(k, 'TargetKeyId');
  if (target.includes('alias/'))
    throw kmsError('NotFoundException', 'An alias cannot be the target of an alias.');
  const key = findKey(k.ctx, k.who.accountId, k.region, target);
  if (key.accountId !== k.who.accountId)
    throw kmsError('NotFoundException', `Key '${key.arn}' does not exist`);
  requireKeyAccess(k.ctx, key, { principal: k.who, action: 'kms:CreateAlias' });
  if (keyState(key) === 'PendingDeletion') {
    throw kmsError('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  const id = aliasKey(k.who.accountId, k.region, name);
  const t = kmsTables(k.ctx).aliases;
  if (t.has(id)) {
    throw kmsError(
      'AlreadyExistsException',
      `An alias with the name arn:aws:kms:${k.region}:${k.who.accountId}:${name} already exists`,
    );
  }
  const now = new Date(k.ctx.now()).toISOString();
  t.put(id, {
    accountId: k.who.accountId,
    region: k.region,
    aliasName: name,
    targetKeyId: key.keyId,
    creationDate: now,
    lastUpdatedDate: now,
  });
  return {};
};

function ownAliases(k: KmsCall): AliasRecord[] {
  return [...kmsTables(k.ctx).aliases.values()]
    .filter((a) => a.accountId === k.who.accountId && a.region === k.region && keyById(k.ctx, a.targetKeyId))
    .sort((a, b) => (a.aliasName < b.aliasName ? -1 : 1));
}

export const listAliases: KmsOp = (k) => {
  const ref = str(k, 'KeyId');
  const keyId = ref === undefined ? undefined : findKey(k.ctx, k.who.accountId, k.region, ref).keyId;
  const p = page(
    k,
    ownAliases(k).filter((a) => keyId === undefined || a.targetKeyId === keyId),
  );
  return {
    Aliases: p.items.map((a) => ({
      AliasName: a.aliasName,
      AliasArn: aliasArn(a),
      TargetKeyId: a.targetKeyId,
      CreationDate: epoch(a.creationDate),
      LastUpdatedDate: epoch(a.lastUpdatedDate),
    })),
    Truncated: p.Truncated,
    ...(p.NextMarker ? { NextMarker: p.NextMarker } : {}),
  };
};

export const deleteAlias: KmsOp = (k) => {
  const name = reqStr(k, 'AliasName');
  if (name.startsWith('alias/aws/')) {
    throw kmsError('InvalidAliasNameException', 'AWS managed aliases cannot be deleted.');
  }
  const id = aliasKey(k.who.accountId, k.region, name);
  const alias = kmsTables(k.ctx).aliases.get(id);
  const key = alias && keyById(k.ctx, alias.targetKeyId);
  if (!alias || !key) {
    throw kmsError(
      'NotFoundException',
      `Alias arn:aws:kms:${k.region}:${k.who.accountId}:${name} is not found.`,
    );
  }
  requireKeyAccess(k.ctx, key, { principal: k.who, action: 'kms:DeleteAlias' });
  kmsTables(k.ctx).aliases.delete(id);
  return {};
};
