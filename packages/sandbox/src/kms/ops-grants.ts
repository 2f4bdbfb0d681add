import { randomBytes } from 'node:crypto';
import { epoch, type KmsCall, type KmsOp, page, reqStr, str, stringMap, validation } from './call.js';
import type { GrantRecord } from './keys.js';
import { checkUsable, kmsError, kmsTables } from './keys.js';
import { usableKey } from './ops-keys.js';

const OPERATIONS = new Set([
  'Decrypt',
  'Encrypt',
  'GenerateDataKey',
  'GenerateDataKeyWithoutPlaintext',
  'ReEncryptFrom',
  'ReEncryptTo',
  'Sign',
  'Verify',
  'GetPublicKey',
  'CreateGrant',
  'RetireGrant',
  'DescribeKey',
  'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext',
  'GenerateMac',
  'VerifyMac',
  'DeriveSharedSecret',
]);

/** Principals a grant can name: IAM ARNs (account root, users, roles, sessions) and AWS service principals. */
const PRINCIPAL =
  /^(arn:aws:iam::\d{12}:(root|user\/.+|role\/.+)|arn:aws:sts::\d{12}:assumed-role\/.+|[a-z0-9.-]+\.amazonaws\.com)$/;

function principalParam(k: KmsCall, name: string, required: boolean): string | undefined {
  const v = required ? reqStr(k, name) : str(k, name);
  if (v !== undefined && !PRINCIPAL.test(v)) {
    throw validation(
      `Value '${v}' at '${name[0]?.toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must be a valid principal`,
    );
  }
  return v;
}

function operations(k: KmsCall): string[] {
  const ops = k.input.Operations;
  if (!Array.isArray(ops) || ops.length === 0) {
    throw validation("Value null at 'operations' failed to satisfy constraint: Member must not be null");
  }
  for (const op of ops) {
    if (typeof op !== 'string' || !OPERATIONS.has(op)) {
      throw validation(
        `Value '${String(op)}' at 'operations' failed to satisfy constraint: Member must satisfy enum value set`,
      );
    }
  }
  return ops as string[];
}

function constraints(k: KmsCall): GrantRecord['constraints'] {
  const c = k.input.Constraints as Record<string, unknown> | undefined;
  if (!c) return undefined;
  const sub = { input: c } as unknown as KmsCall;
  const out: NonNullable<GrantRecord['constraints']> = {};
  if (c.EncryptionContextSubset) out.EncryptionContextSubset = stringMap(sub, 'EncryptionContextSubset');
  if (c.EncryptionContextEquals) out.EncryptionContextEquals = stringMap(sub, 'EncryptionContextEquals');
  return out;
}

export const createGrant: KmsOp = (k) => {
  const grantee = principalParam(k, 'GranteePrincipal', true) as string;
  const retiring = principalParam(k, 'RetiringPrincipal', false);
  const ops = operations(k);
  const key = usableKey(k, reqStr(k, 'KeyId'), 'kms:CreateGrant');
  checkUsable(key);
  const grant: GrantRecord = {
    grantId: randomBytes(32).toString('hex'),
    keyId: key.keyId,
    granteePrincipal: grantee,
    operations: ops,
    issuingAccount: `arn:aws:iam::${k.who.accountId}:root`,
    creationDate: new Date(k.ctx.now()).toISOString(),
    token: randomBytes(48).toString('base64url'),
  };
  const name = str(k, 'Name');
  if (name) grant.name = name;
  if (retiring) grant.retiringPrincipal = retiring;
  const c = constraints(k);
  if (c) grant.constraints = c;
  kmsTables(k.ctx).grants.put(grant.grantId, grant);
  return { GrantId: grant.grantId, GrantToken: grant.token };
};

export const listGrants: KmsOp = (k) => {
  const key = usableKey(k, reqStr(k, 'KeyId'), 'kms:ListGrants');
  const id = str(k, 'GrantId');
  const grantee = str(k, 'GranteePrincipal');
  const grants = [...kmsTables(k.ctx).grants.values()]
    .filter(
      (g) =>
        g.keyId === key.keyId && (!id || g.grantId === id) && (!grantee || g.granteePrincipal === grantee),
    )
    .sort((a, b) => (a.creationDate < b.creationDate ? -1 : a.creationDate > b.creationDate ? 1 : 0));
  const p = page(k, grants);
  return {
    Grants: p.items.map((g) => ({
      KeyId: key.arn,
      GrantId: g.grantId,
      ...(g.name ? { Name: g.name } : {}),
      CreationDate: epoch(g.creationDate),
      GranteePrincipal: g.granteePrincipal,
      ...(g.retiringPrincipal ? { RetiringPrincipal: g.retiringPrincipal } : {}),
      IssuingAccount: g.issuingAccount,
      Operations: g.operations,
      ...(g.constraints ? { Constraints: g.constraints } : {}),
    })),
    Truncated: p.Truncated,
    ...(p.NextMarker ? { NextMarker: p.NextMarker } : {}),
  };
};

export const revokeGrant: KmsOp = (k) => {
  const key = usableKey(k, reqStr(k, 'KeyId'), 'kms:RevokeGrant');
  const id = reqStr(k, 'GrantId');
  const grant = kmsTables(k.ctx).grants.get(id);
  if (!grant || grant.keyId !== key.keyId) throw kmsError('NotFoundException', `Grant ID ${id} not found`);
  kmsTables(k.ctx).grants.delete(id);
  return {};
};
