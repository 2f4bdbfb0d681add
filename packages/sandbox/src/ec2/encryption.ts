import { AwsError } from '../core/errors.js';
import type { Principal } from '../core/model.js';
import { keyAllows } from '../kms/access.js';
import { ensureEbsKey, findKey, type KeyRecord, keyState } from '../kms/keys.js';
import type { Call } from './call.js';

/**
 * EC2's use of KMS keys for encrypted volumes and snapshots, on the caller's behalf (kms:ViaService
 * ec2.<region>.amazonaws.com, which is what lets an account use its aws/ebs key, and no other account). EC2
 * reports KMS's refusals with KMS's code prefixed by "KMS." (as AWS's query-protocol services relay them); a key
 * that cannot be found is an InvalidParameterValue.
 */

/** Creating encrypted data under a key: a data key and a grant for the volume. */
export const ENCRYPT_WITH = ['kms:GenerateDataKeyWithoutPlaintext', 'kms:CreateGrant'];
/** Reading encrypted data (a snapshot restored to a volume, a copy's source). */
export const DECRYPT_WITH = ['kms:Decrypt'];

export function callerOf(c: Call): Principal {
  return (
    c.principal ?? {
      accountId: c.accountId,
      accessKeyId: '',
      arn: `arn:aws:iam::${c.accountId}:root`,
      kind: 'root',
    }
  );
}

function lookup(c: Call, ref: string, region: string): KeyRecord {
  try {
    return findKey(c.ctx, c.accountId, region, ref);
  } catch (e) {
    if (!(e instanceof AwsError)) throw e;
    throw new AwsError(
      'InvalidParameterValue',
      `Value (${ref}) for parameter kmsKeyId is invalid. The KMS key does not exist or cannot be used.`,
    );
  }
}

/** A key the caller may use through EC2 for `actions`, enabled; its record (whose arn EC2 reports). */
export function useKey(c: Call, ref: string, actions: string[], region = c.region): KeyRecord {
  const key = lookup(c, ref, region);
  const principal = callerOf(c);
  for (const action of actions) {
    if (!keyAllows(c.ctx, key, { principal, action, viaService: `ec2.${region}.amazonaws.com` })) {
      throw new AwsError(
        'KMS.AccessDeniedException',
        `User: ${principal.arn} is not authorized to perform: ${action} on resource: ${key.arn} via ec2.`,
      );
    }
  }
  const state = keyState(key);
  if (state === 'Disabled') throw new AwsError('KMS.DisabledException', `${key.arn} is disabled.`);
  if (state === 'PendingDeletion') {
    throw new AwsError('KMS.KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  return key;
}

/** The caller's aws/ebs key in the request's region (made on first use), checked for use. */
export function defaultKey(c: Call, actions: string[]): KeyRecord {
  return useKey(c, ensureEbsKey(c.ctx, c.accountId, c.region).arn, actions);
}
