import { createHash } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import type { SnapshotRecord, VolumeRecord } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import type { Table } from '../core/state.js';
import type { Params } from './query.js';
import {
  type CopyRecord,
  type ImageRecord,
  type InstanceRecord,
  type KeyPairRecord,
  type SecurityGroupRecord,
  type SubnetRecord,
  TABLES,
  type TimerRecord,
  type VolumeModificationRecord,
  type VpcRecord,
} from './records.js';
import type { XmlObject } from './xml.js';

/** One EC2 call: who asks, where, with what, at which instant (one clock reading per request). */
export interface Call {
  readonly ctx: SandboxContext;
  readonly accountId: string;
  readonly region: string;
  readonly p: Params;
  readonly now: number;
}

export type Handler = (c: Call) => XmlObject;

export function tables(c: { ctx: SandboxContext }) {
  const s = c.ctx.state;
  return {
    instances: s.table<InstanceRecord>(TABLES.instances),
    images: s.table<ImageRecord>(TABLES.images),
    vpcs: s.table<VpcRecord>(TABLES.vpcs),
    subnets: s.table<SubnetRecord>(TABLES.subnets),
    groups: s.table<SecurityGroupRecord>(TABLES.groups),
    keyPairs: s.table<KeyPairRecord>(TABLES.keyPairs),
    modifications: s.table<VolumeModificationRecord>(TABLES.modifications),
    timers: s.table<TimerRecord>(TABLES.timers),
    copies: s.table<CopyRecord>(TABLES.copies),
    marks: s.table<{ id: string; at: string }>(TABLES.marks),
    volumes: s.table<VolumeRecord>(TABLES.volumes),
    snapshots: s.table<SnapshotRecord>(TABLES.snapshots),
  };
}

/** The caller's own records in the request's region. */
export function mine<T extends { ownerId: string; region: string }>(c: Call, table: Table<T>): T[] {
  return [...table.values()].filter((r) => r.ownerId === c.accountId && r.region === c.region);
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function later(c: Call, seconds: number): string {
  return iso(c.now + seconds * 1000);
}

/** AWS's id shape: prefix, dash, 17 hex digits (older resources have 8). */
export function isIdOf(prefix: string, id: string): boolean {
  return new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`).test(id);
}

/** Answers the `.Malformed` error AWS gives for ids that cannot be of the expected kind. */
export function checkId(prefix: string, id: string, code: string): void {
  if (!isIdOf(prefix, id)) throw new AwsError(code, `Invalid id: "${id}" (expecting "${prefix}-...")`);
}

export function byId<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
}

export function hashParams(p: Params, skip: string[]): string {
  const entries = [...p.entries()].filter(([k]) => !skip.includes(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(entries)).digest('hex');
}

/**
 * The account's AWS-managed EBS key (alias aws/ebs) in a region, as a key ARN. KMS arrives with part 2; until
 * then the id is derived from account and region so that it is stable across restarts.
 */
export function defaultEbsKey(accountId: string, region: string): string {
  const h = createHash('sha256').update(`aws/ebs:${accountId}:${region}`).digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return `arn:aws:kms:${region}:${accountId}:key/${uuid}`;
}

/** AWS reports the key of an encrypted resource as a key ARN whatever form the caller gave. */
export function resolveKmsKey(c: Call, keyId: string | undefined): string {
  if (!keyId) return defaultEbsKey(c.accountId, c.region);
  if (keyId.startsWith('arn:')) return keyId;
  if (keyId === 'alias/aws/ebs') return defaultEbsKey(c.accountId, c.region);
  if (keyId.startsWith('alias/')) return `arn:aws:kms:${c.region}:${c.accountId}:${keyId}`;
  return `arn:aws:kms:${c.region}:${c.accountId}:key/${keyId}`;
}

/** Encryption settings of a new volume or copy: KmsKeyId only with Encrypted, as AWS insists. */
export function encryptionOf(
  c: Call,
  encryptedParam: boolean | undefined,
  kmsKeyParam: string | undefined,
  inherited?: { encrypted: boolean; kmsKeyId?: string },
): { encrypted: boolean; kmsKeyId?: string } {
  if (kmsKeyParam && !encryptedParam) {
    throw new AwsError(
      'InvalidParameterDependency',
      'The parameter KmsKeyId requires the parameter Encrypted to be set.',
    );
  }
  if (kmsKeyParam) return { encrypted: true, kmsKeyId: resolveKmsKey(c, kmsKeyParam) };
  if (inherited?.encrypted)
    return { encrypted: true, kmsKeyId: inherited.kmsKeyId ?? resolveKmsKey(c, undefined) };
  if (encryptedParam) return { encrypted: true, kmsKeyId: resolveKmsKey(c, undefined) };
  return { encrypted: false };
}
