import { createHash } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import type { Tag } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';

/** KMS keys, aliases and grants, in the state store. Keys are regional: an ARN names account and region. */
export interface KeyRecord {
  keyId: string; // UUID
  accountId: string;
  region: string;
  arn: string;
  description: string;
  creationDate: string;
  enabled: boolean;
  /** Set by ScheduleKeyDeletion: the key is deleted (with its aliases and grants) at deletionDate. */
  deletionDate?: string;
  pendingWindowInDays?: number;
  manager: 'AWS' | 'CUSTOMER';
  policy: string;
  /** Key material sealed under the master key; AWS-managed keys made outside KMS get theirs on first use. */
  material?: string;
  tags: Tag[];
}

export interface AliasRecord {
  accountId: string;
  region: string;
  aliasName: string; // alias/...
  targetKeyId: string;
  creationDate: string;
  lastUpdatedDate: string;
}

export interface GrantRecord {
  grantId: string;
  keyId: string;
  name?: string;
  granteePrincipal: string;
  retiringPrincipal?: string;
  operations: string[];
  constraints?: {
    EncryptionContextSubset?: Record<string, string>;
    EncryptionContextEquals?: Record<string, string>;
  };
  issuingAccount: string;
  creationDate: string;
  token: string;
}

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';

export function kmsTables(ctx: { state: SandboxContext['state'] }) {
  return {
    keys: ctx.state.table<KeyRecord>('kms.keys'),
    aliases: ctx.state.table<AliasRecord>('kms.aliases'),
    grants: ctx.state.table<GrantRecord>('kms.grants'),
  };
}

export function kmsError(code: string, message: string): AwsError {
  return new AwsError(code, message, 400);
}

export function keyState(k: KeyRecord): KeyState {
  return k.deletionDate ? 'PendingDeletion' : k.enabled ? 'Enabled' : 'Disabled';
}

export function aliasKey(accountId: string, region: string, aliasName: string): string {
  return `${accountId}/${region}/${aliasName}`;
}

export function keyArn(region: string, accountId: string, keyId: string): string {
  return `arn:aws:kms:${region}:${accountId}:key/${keyId}`;
}

/** The default key policy: the account (its root, and through IAM its users and roles) may do everything. */
export function defaultKeyPolicy(accountId: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: 'key-default-1',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${accountId}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  });
}

/**
 * The aws/ebs key policy as AWS writes it: the account's principals may use it only through EC2 (kms:ViaService)
 * and only from the account itself (kms:CallerAccount), so it can be used neither directly nor by any other
 * account; the account may read its metadata.
 */
function awsManagedPolicy(accountId: string, region: string, service: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Id: `auto-${service}-2`,
    Statement: [
      {
        Sid: `Allow access through ${service.toUpperCase()} for all principals in the account that are authorized to use ${service.toUpperCase()}`,
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: [
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:ReEncrypt*',
          'kms:GenerateDataKey*',
          'kms:CreateGrant',
          'kms:DescribeKey',
        ],
        Resource: '*',
        Condition: {
          StringEquals: { 'kms:CallerAccount': accountId, 'kms:ViaService': `ec2.${region}.amazonaws.com` },
        },
      },
      {
        Sid: 'Allow direct access to key metadata to the account',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${accountId}:root` },
        Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'],
        Resource: '*',
      },
    ],
  });
}

/** The aws/ebs key's id: derived from account and region, so that it is the same across restarts and sandboxes. */
export function awsManagedKeyId(accountId: string, region: string, service = 'ebs'): string {
  const h = createHash('sha256').update(`aws/${service}:${accountId}:${region}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The account's aws/ebs key in a region, created (with its alias) on first use, as AWS does. */
export function ensureEbsKey(ctx: SandboxContext, accountId: string, region: string): KeyRecord {
  const t = kmsTables(ctx);
  const keyId = awsManagedKeyId(accountId, region);
  const existing = t.keys.get(keyId);
  if (existing) return existing;
  const now = new Date(ctx.now()).toISOString();
  const key: KeyRecord = {
    keyId,
    accountId,
    region,
    arn: keyArn(region, accountId, keyId),
    description: 'Default key that protects my EBS volumes when no other key is defined',
    creationDate: now,
    enabled: true,
    manager: 'AWS',
    policy: awsManagedPolicy(accountId, region, 'ebs'),
    tags: [],
  };
  t.keys.put(keyId, key);
  t.aliases.put(aliasKey(accountId, region, 'alias/aws/ebs'), {
    accountId,
    region,
    aliasName: 'alias/aws/ebs',
    targetKeyId: keyId,
    creationDate: now,
    lastUpdatedDate: now,
  });
  return key;
}

const ARN = /^arn:aws:kms:([a-z0-9-]+):(\d{12}):(key\/[0-9a-f-]+|alias\/.+)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Removes a key whose deletion date has passed, with its aliases and grants; true when it is gone. */
function reap(ctx: SandboxContext, k: KeyRecord): boolean {
  if (!k.deletionDate || ctx.now() < Date.parse(k.deletionDate)) return false;
  const t = kmsTables(ctx);
  for (const a of [...t.aliases.values()]) {
    if (a.targetKeyId === k.keyId) t.aliases.delete(aliasKey(a.accountId, a.region, a.aliasName));
  }
  for (const g of [...t.grants.values()]) if (g.keyId === k.keyId) t.grants.delete(g.grantId);
  t.keys.delete(k.keyId);
  return true;
}

export function keyById(ctx: SandboxContext, keyId: string): KeyRecord | undefined {
  const k = kmsTables(ctx).keys.get(keyId);
  return k && !reap(ctx, k) ? k : undefined;
}

function notFound(ref: string): AwsError {
  return kmsError(
    'NotFoundException',
    ref.includes('alias/') ? `Alias ${ref} is not found.` : `Key '${ref}' does not exist`,
  );
}

/**
 * The key a KeyId names, as KMS resolves it: key id or alias name in the caller's account and region, key ARN
 * or alias ARN anywhere (other accounts' keys can only be named by ARN). alias/aws/ebs is created on first use.
 */
export function findKey(ctx: SandboxContext, accountId: string, region: string, ref: string): KeyRecord {
  let account = accountId;
  let name = ref;
  if (ref.startsWith('arn:')) {
    const m = ARN.exec(ref);
    if (!m) throw kmsError('NotFoundException', `Invalid arn ${ref}`);
    if (m[1] !== region) throw notFound(ref);
    account = m[2] as string;
    name = m[3] as string;
  }
  if (name === 'alias/aws/ebs' && account === accountId) ensureEbsKey(ctx, account, region);
  let keyId = name.startsWith('key/') ? name.slice(4) : name;
  // Records written before the key existed (or by EC2) name aws/ebs by its derived id: make it on demand.
  if (keyId === awsManagedKeyId(account, region)) ensureEbsKey(ctx, account, region);
  if (name.startsWith('alias/')) {
    const alias = kmsTables(ctx).aliases.get(aliasKey(account, region, name));
    if (!alias) throw notFound(ref.startsWith('arn:') ? ref : `arn:aws:kms:${region}:${account}:${name}`);
    keyId = alias.targetKeyId;
  } else if (!UUID.test(keyId)) {
    throw notFound(ref);
  }
  const key = keyById(ctx, keyId);
  if (!key || key.accountId !== account || key.region !== region) {
    throw notFound(keyArn(region, account, keyId));
  }
  return key;
}

/** Cryptographic use needs an enabled key: DisabledException, or KMSInvalidStateException while pending deletion. */
export function checkUsable(k: KeyRecord): void {
  const state = keyState(k);
  if (state === 'Disabled') throw kmsError('DisabledException', `${k.arn} is disabled.`);
  if (state === 'PendingDeletion')
    throw kmsError('KMSInvalidStateException', `${k.arn} is pending deletion.`);
}
