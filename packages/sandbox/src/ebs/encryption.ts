import { AwsError } from '../core/errors.js';
import type { SnapshotRecord } from '../core/model.js';
import type { AwsRequest, SandboxContext } from '../core/service.js';
import { keyAllows } from '../kms/access.js';
import { ensureEbsKey, findKey, type KeyRecord, keyState } from '../kms/keys.js';
import { validation } from './rest.js';

/**
 * The EBS direct APIs' use of KMS keys on the caller's behalf (through EC2, as AWS's aws/ebs key policy has it).
 * A key that is missing, disabled or pending deletion is a ValidationException INVALID_CUSTOMER_KEY; a key the
 * caller may not use is an AccessDeniedException DEPENDENCY_ACCESS_DENIED.
 */
export const WRITE_WITH = ['kms:GenerateDataKeyWithoutPlaintext'];
export const READ_WITH = ['kms:Decrypt'];

function invalidKey(message: string): AwsError {
  return validation('INVALID_CUSTOMER_KEY', message);
}

export function useEbsKey(ctx: SandboxContext, req: AwsRequest, ref: string, actions: string[]): KeyRecord {
  let key: KeyRecord;
  try {
    key = findKey(ctx, req.principal.accountId, req.region, ref);
  } catch (e) {
    if (!(e instanceof AwsError)) throw e;
    throw invalidKey(`The KMS key '${ref}' does not exist or is not in ${req.region}.`);
  }
  for (const action of actions) {
    const use = { principal: req.principal, action, viaService: `ec2.${req.region}.amazonaws.com` };
    if (!keyAllows(ctx, key, use)) {
      throw new AwsError(
        'AccessDeniedException',
        `User: ${req.principal.arn} is not authorized to perform: ${action} on resource: ${key.arn}`,
        403,
        { Reason: 'DEPENDENCY_ACCESS_DENIED' },
      );
    }
  }
  const state = keyState(key);
  if (state !== 'Enabled') invalidKeyState(key, state);
  return key;
}

function invalidKeyState(key: KeyRecord, state: string): never {
  throw invalidKey(`The KMS key ${key.arn} is ${state === 'Disabled' ? 'disabled' : 'pending deletion'}.`);
}

/** The key of a new encrypted snapshot: the one asked for, the parent's, or the caller's aws/ebs key. */
export function startKey(
  ctx: SandboxContext,
  req: AwsRequest,
  asked: string | undefined,
  parent: SnapshotRecord | undefined,
): string {
  if (parent?.encrypted && parent.kmsKeyId) useEbsKey(ctx, req, parent.kmsKeyId, READ_WITH);
  const ref = asked ?? parent?.kmsKeyId ?? ensureEbsKey(ctx, req.principal.accountId, req.region).arn;
  return useEbsKey(ctx, req, ref, WRITE_WITH).arn;
}

/** Reads and writes of an encrypted snapshot need its key, usable by the caller, at every call. */
export function checkSnapshotKey(
  ctx: SandboxContext,
  req: AwsRequest,
  rec: SnapshotRecord,
  actions: string[],
): void {
  if (rec.encrypted && rec.kmsKeyId) useEbsKey(ctx, req, rec.kmsKeyId, actions);
}
