import { AwsError } from '../core/errors.js';
import type { SandboxContext } from '../core/service.js';
import { type AllowListRecord, iamTables } from './records.js';

const PRINCIPAL_ARN = /^arn:aws:(iam::\d{12}:(root|user\/.+|role\/.+)|sts::\d{12}:assumed-role\/.+)$/;
const ACTION = /^([a-z0-9-]+:[A-Za-z0-9*?]+|\*)$/;

/**
 * Sets (or, with null, clears) the sandbox-only allow-list of a principal: the actions it may perform besides
 * what its IAM policies allow. For an account root an allow-list is a restriction: root may then do only these.
 */
export function setPermissions(
  ctx: SandboxContext,
  arn: string,
  actions: string[] | null,
): AllowListRecord | null {
  if (!PRINCIPAL_ARN.test(arn)) {
    throw new AwsError(
      'InvalidParameterValue',
      `${arn} is not the ARN of an account root, user, role or session`,
    );
  }
  const table = iamTables(ctx).allowLists;
  if (actions === null) {
    table.delete(arn);
    return null;
  }
  if (!Array.isArray(actions) || actions.some((a) => typeof a !== 'string' || !ACTION.test(a))) {
    throw new AwsError(
      'InvalidParameterValue',
      'actions must be a list of service:Action names (wildcards allowed)',
    );
  }
  const rec = { arn, actions: [...actions] };
  table.put(arn, rec);
  return rec;
}

export function listPermissions(ctx: SandboxContext): AllowListRecord[] {
  return [...iamTables(ctx).allowLists.values()];
}
