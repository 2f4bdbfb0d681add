import { createHash } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import type { Principal, SnapshotRecord, VolumeRecord } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import type { Table } from '../core/state.js';
import { awsManagedKeyId, keyArn } from '../kms/keys.js';
import { DECRYPT_WITH, defaultKey, ENCRYPT_WITH, useKey } from './encryption.js';
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
  /** Who asks (IAM user, role session, root): KMS key use is checked for it. In-process callers: root. */
  readonly principal?: Principal;
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

/** The account's AWS-managed EBS key (alias aws/ebs) in a region, as a key ARN (KMS makes it on first use). */
export function defaultEbsKey(accountId: string, region: string): string {
  return keyArn(region, accountId, awsManagedKeyId(accountId, region));
}

/**
 * Encryption settings of a new volume or copy: KmsKeyId only with Encrypted, as AWS insists. The key must be
 * usable by the caller through EC2 (enabled, allowed by its key policy or a grant); an inherited key (the
 * snapshot's) must be readable. AWS reports the key as a key ARN whatever form the caller gave.
 */
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
  const source =
    inherited?.encrypted && inherited.kmsKeyId ? useKey(c, inherited.kmsKeyId, DECRYPT_WITH) : undefined;
  if (kmsKeyParam) return { encrypted: true, kmsKeyId: useKey(c, kmsKeyParam, ENCRYPT_WITH).arn };
  if (source) return { encrypted: true, kmsKeyId: source.arn };
  if (inherited?.encrypted || encryptedParam)
    return { encrypted: true, kmsKeyId: defaultKey(c, ENCRYPT_WITH).arn };
  return { encrypted: false };
}
