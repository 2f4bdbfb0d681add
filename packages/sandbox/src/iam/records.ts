import { randomBytes } from 'node:crypto';
import type { Tag } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';

/**
 * IAM and STS state, in the sandbox's state store. IAM is global: records belong to an account, not a region.
 * Names are unique per account case-insensitively (as IAM has them), so tables are keyed by the lowercased name.
 */
export interface UserRecord {
  accountId: string;
  userName: string;
  userId: string; // AIDA...
  arn: string;
  path: string;
  createDate: string;
  tags: Tag[];
  /** Inline policies by name: the JSON documents as given. */
  policies: Record<string, string>;
}

export interface AccessKeyRecord {
  accessKeyId: string; // AKIA...
  secretAccessKey: string;
  accountId: string;
  userName: string;
  status: 'Active' | 'Inactive';
  createDate: string;
}

export interface RoleRecord {
  accountId: string;
  roleName: string;
  roleId: string; // AROA...
  arn: string;
  path: string;
  createDate: string;
  trustPolicy: string;
  description?: string;
  maxSessionDuration: number;
  tags: Tag[];
  policies: Record<string, string>;
}

export interface InstanceProfileRecord {
  accountId: string;
  name: string;
  id: string; // AIPA...
  arn: string;
  path: string;
  createDate: string;
  roleNames: string[];
  tags: Tag[];
}

/**
 * Temporary credentials from AssumeRole (roleArn set) or GetFederationToken (federatedFrom set). Expired ones are
 * refused (ExpiredToken) and pruned later.
 */
export interface SessionRecord {
  accessKeyId: string; // ASIA...
  secretAccessKey: string;
  sessionToken: string;
  accountId: string;
  roleArn?: string;
  roleId?: string;
  /** The role session name, or the federated user's Name. */
  sessionName: string;
  /** GetFederationToken: the ARN of the IAM user (or account root) that asked. */
  federatedFrom?: string;
  expiresAt: string;
  tags: Tag[];
  transitiveTagKeys: string[];
  sourceIdentity?: string;
  /** The inline session policy (Policy parameter), as given. */
  sessionPolicy?: string;
}

/** A sandbox-only allow-list of actions for a principal ARN (admin API / setPermissions). */
export interface AllowListRecord {
  arn: string;
  actions: string[];
}

export function iamTables(ctx: { state: SandboxContext['state'] }) {
  const s = ctx.state;
  return {
    users: s.table<UserRecord>('iam.users'),
    accessKeys: s.table<AccessKeyRecord>('iam.accessKeys'),
    roles: s.table<RoleRecord>('iam.roles'),
    profiles: s.table<InstanceProfileRecord>('iam.instanceProfiles'),
    sessions: s.table<SessionRecord>('sts.sessions'),
    allowLists: s.table<AllowListRecord>('iam.allowLists'),
  };
}

export function nameKey(accountId: string, name: string): string {
  return `${accountId}/${name.toLowerCase()}`;
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** IAM's unique ids and access key ids: a 4-letter prefix and 16 (or 17) base32 characters. */
export function iamId(prefix: string, length = 17): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

/** A 40-character secret access key. */
export function newSecret(): string {
  return randomBytes(30).toString('base64').replace(/\+/g, 'a').replace(/\//g, 'b');
}
