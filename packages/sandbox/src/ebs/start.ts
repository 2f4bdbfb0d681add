import { AwsError } from '../core/errors.js';
import type { SnapshotRecord, Tag } from '../core/model.js';
import type { AwsRequest, SandboxContext } from '../core/service.js';
import { startKey } from './encryption.js';
import type { LayeredBlockEngine } from './engine.js';
import { validation } from './rest.js';
import { findSnapshot, snapshotStatus, snapshotsTable } from './snapshots.js';

/** StartSnapshot's JSON body. */
export interface StartInput {
  VolumeSize?: unknown;
  ParentSnapshotId?: unknown;
  Tags?: unknown;
  Description?: unknown;
  ClientToken?: unknown;
  Encrypted?: unknown;
  KmsKeyArn?: unknown;
  Timeout?: unknown;
}

/** Per-snapshot facts only StartSnapshot needs: the Timeout (it restarts at each block) and the idempotency key. */
interface StartRow {
  timeoutMinutes: number;
  request: string; // the parameters, canonical JSON, to compare ClientToken retries
}

const MAX_VOLUME_GIB = 65536;
const DEFAULT_TIMEOUT_MINUTES = 60;
const KMS_ARN = /^arn:aws[a-z-]*:kms:.*:[0-9]{12}:key\/.*/;

/** Creates the snapshot record of a StartSnapshot, or finds the one a retry with the same ClientToken made. */
export function startSnapshotRecord(
  ctx: SandboxContext,
  req: AwsRequest,
  engine: LayeredBlockEngine,
  input: StartInput,
): { record: SnapshotRecord; created: boolean } {
  const p = validate(input);
  const starts = ctx.state.table<StartRow>('ebs.starts');
  const request = JSON.stringify(p);
  if (p.clientToken) {
    const previous = findByToken(ctx, req, p.clientToken);
    if (previous) {
      if (starts.get(previous.snapshotId)?.request !== request) {
        throw new AwsError(
          'ConflictException',
          'The request uses the same client token as a previous, but non-identical request.',
          409,
        );
      }
      return { record: previous, created: false };
    }
  }
  const parent = p.parentSnapshotId ? findSnapshot(ctx, req, p.parentSnapshotId) : undefined;
  if (parent && snapshotStatus(parent, ctx.now()) !== 'completed') {
    throw validation('INVALID_SNAPSHOT_ID', `The parent snapshot '${parent.snapshotId}' is not completed.`);
  }
  if (parent && p.volumeSize < parent.volumeSizeGiB) {
    throw validation(
      'INVALID_VOLUME_SIZE',
      `VolumeSize must be at least the parent's ${parent.volumeSizeGiB} GiB.`,
    );
  }
  const encrypted = parent ? parent.encrypted || p.kmsKeyArn !== undefined : p.encrypted;
  const kmsKeyId = encrypted ? startKey(ctx, req, p.kmsKeyArn, parent) : undefined;
  const id = ctx.newId('snap');
  engine.startSnapshot(id, p.volumeSize, parent?.snapshotId);
  const now = ctx.now();
  const record: SnapshotRecord = {
    snapshotId: id,
    ownerId: req.principal.accountId,
    region: req.region,
    volumeId: 'vol-ffffffff', // what AWS reports for snapshots written through the EBS direct APIs
    volumeSizeGiB: p.volumeSize,
    description: p.description,
    encrypted,
    ...(kmsKeyId ? { kmsKeyId } : {}),
    startTime: new Date(now).toISOString(),
    completesAt: new Date(8.64e15).toISOString(), // set by CompleteSnapshot
    origin: 'ebs-direct',
    lineage: engine.lineageOf(id) as string,
    ...(parent ? { parentSnapshotId: parent.snapshotId } : {}),
    sharedWith: [],
    tags: p.tags,
    direct: {
      status: 'pending',
      timeoutAt: new Date(now + p.timeout * 60_000).toISOString(),
      visibleAt: new Date(now + ctx.timing.startSnapshotVisibilitySeconds * 1000).toISOString(),
      ...(p.clientToken ? { clientToken: p.clientToken } : {}),
    },
  };
  starts.put(id, { timeoutMinutes: p.timeout, request });
  snapshotsTable(ctx).put(id, record);
  return { record, created: true };
}

function findByToken(ctx: SandboxContext, req: AwsRequest, token: string): SnapshotRecord | undefined {
  for (const rec of snapshotsTable(ctx).values()) {
    if (
      rec.direct?.clientToken === token &&
      rec.ownerId === req.principal.accountId &&
      rec.region === req.region
    ) {
      return rec;
    }
  }
  return undefined;
}

interface Params {
  volumeSize: number;
  parentSnapshotId?: string;
  tags: Tag[];
  description: string;
  clientToken?: string;
  encrypted: boolean;
  kmsKeyArn?: string;
  timeout: number;
}

function validate(input: StartInput): Params {
  const bad = (m: string) => validation('INVALID_PARAMETER_VALUE', m);
  const { VolumeSize, ParentSnapshotId, Description, ClientToken, Encrypted, KmsKeyArn, Timeout } = input;
  if (
    !Number.isInteger(VolumeSize) ||
    (VolumeSize as number) < 1 ||
    (VolumeSize as number) > MAX_VOLUME_GIB
  ) {
    throw validation('INVALID_VOLUME_SIZE', `VolumeSize must be an integer from 1 to ${MAX_VOLUME_GIB} GiB.`);
  }
  if (ParentSnapshotId !== undefined && typeof ParentSnapshotId !== 'string')
    throw bad('ParentSnapshotId must be a string.');
  if (ParentSnapshotId !== undefined && Encrypted !== undefined) {
    throw bad('You cannot specify both ParentSnapshotId and Encrypted.');
  }
  if (Description !== undefined && (typeof Description !== 'string' || Description.length > 255)) {
    throw bad('Description must be a string of at most 255 characters.');
  }
  if (ClientToken !== undefined && (typeof ClientToken !== 'string' || !/^\S{1,255}$/.test(ClientToken))) {
    throw bad('ClientToken must be 1 to 255 non-space characters.');
  }
  if (Encrypted !== undefined && typeof Encrypted !== 'boolean') throw bad('Encrypted must be a boolean.');
  if (KmsKeyArn !== undefined && (typeof KmsKeyArn !== 'string' || !KMS_ARN.test(KmsKeyArn))) {
    throw bad('KmsKeyArn must be a KMS key ARN.');
  }
  if (KmsKeyArn !== undefined && ParentSnapshotId === undefined && Encrypted !== true) {
    throw bad('KmsKeyArn requires Encrypted to be true.');
  }
  const timeout = Timeout === undefined ? DEFAULT_TIMEOUT_MINUTES : Timeout;
  if (!Number.isInteger(timeout) || (timeout as number) < 10 || (timeout as number) > 4320) {
    throw bad('Timeout must be an integer from 10 to 4320 minutes.');
  }
  const p: Params = {
    volumeSize: VolumeSize as number,
    tags: validateTags(input.Tags),
    description: (Description as string | undefined) ?? '',
    encrypted: Encrypted === true,
    timeout: timeout as number,
  };
  if (ParentSnapshotId) p.parentSnapshotId = ParentSnapshotId;
  if (ClientToken) p.clientToken = ClientToken as string;
  if (KmsKeyArn) p.kmsKeyArn = KmsKeyArn as string;
  return p;
}

/** AWS's tag rules: at most 50, keys 1..127 (the model's limit here), values to 255, no "aws:" prefix. */
function validateTags(tags: unknown): Tag[] {
  if (tags === undefined) return [];
  const bad = (m: string) => validation('INVALID_TAG', m);
  if (!Array.isArray(tags)) throw bad('Tags must be a list.');
  if (tags.length > 50) throw bad('A snapshot can have at most 50 tags.');
  return tags.map((t: { Key?: unknown; Value?: unknown }) => {
    if (typeof t?.Key !== 'string' || t.Key.length < 1 || t.Key.length > 127)
      throw bad('Tag keys are 1 to 127 characters.');
    if (t.Key.toLowerCase().startsWith('aws:')) throw bad(`Tag keys may not start with 'aws:' (${t.Key}).`);
    const value = t.Value ?? '';
    if (typeof value !== 'string' || value.length > 255) throw bad('Tag values are at most 255 characters.');
    return { Key: t.Key, Value: value };
  });
}
