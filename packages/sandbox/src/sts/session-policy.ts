import { AwsError } from '../core/errors.js';
import { checkDocument } from '../iam/errors.js';
import type { QueryCall } from '../iam/wire.js';

/** sessionPolicyDocumentType (STS API model): 1..2048 characters. */
const MAX_POLICY_CHARS = 2048;
/** "You can provide up to 10 managed policy ARNs" (AssumeRole and GetFederationToken API reference). */
const MAX_POLICY_ARNS = 10;

const invalid = (m: string) => new AwsError('ValidationError', m, 400);

/**
 * The session policies of AssumeRole and GetFederationToken: the inline `Policy` (an identity policy document,
 * refused as MalformedPolicyDocument when it is not one) and `PolicyArns`. The sandbox has no managed policies, so
 * a PolicyArns entry is refused as a policy that does not exist rather than silently granting or denying.
 */
export function sessionPolicyParams(q: QueryCall): { policy?: string } {
  const policy = q.p.str('Policy');
  if (policy !== undefined) {
    if (policy.length < 1 || policy.length > MAX_POLICY_CHARS) {
      throw invalid(
        `1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length ${
          policy.length < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_POLICY_CHARS}`
        }`,
      );
    }
    checkDocument(policy, 'identity');
  }
  const arns = q.p.structs('PolicyArns.member').map((x) => x.str('arn') ?? '');
  if (arns.length > MAX_POLICY_ARNS) {
    throw invalid(
      `1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to ${MAX_POLICY_ARNS}`,
    );
  }
  for (const arn of arns) {
    throw new AwsError(
      'MalformedPolicyDocument',
      `Policy ${arn} does not exist or is not attachable (the sandbox has no managed policies).`,
      400,
    );
  }
  return policy !== undefined ? { policy } : {};
}

/** PackedPolicySize: how much of the packed allowance the session policies and tags use, in percent. */
export function packedPolicySize(policy: string | undefined, tags: number): number | undefined {
  if (policy === undefined && tags === 0) return undefined;
  const compact = policy ? JSON.stringify(JSON.parse(policy)).length : 0;
  return Math.min(100, Math.ceil((compact / MAX_POLICY_CHARS) * 50) + tags * 2);
}
