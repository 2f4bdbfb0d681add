import type { Principal } from '../core/model.js';
import { identityPolicies, principalContext, type Source } from './authorize.js';
import { checkDocument, invalidInput, noSuchEntity } from './errors.js';
import { cachedPolicy, evaluate } from './policy.js';
import { iamTables, nameKey } from './records.js';
import { roleByArn } from './roles.js';
import type { QueryCall, QueryOp } from './wire.js';

/** The principal a PolicySourceArn names: a user, a role (as its sessions), or the account root. */
function sourcePrincipal(q: QueryCall, arn: string): Principal {
  const m = /^arn:aws:iam::(\d{12}):(root|user\/(?:.*\/)?([^/]+)|role\/.+)$/.exec(arn);
  if (!m) throw invalidInput(`Invalid ARN: ${arn}`);
  const accountId = m[1] as string;
  if (accountId !== q.who.accountId) throw noSuchEntity(`${arn} does not exist in this account.`);
  if (m[2] === 'root') return { accountId, accessKeyId: '', arn, kind: 'root' };
  if (m[3]) {
    const user = iamTables(q.ctx).users.get(nameKey(accountId, m[3]));
    if (!user || user.arn !== arn) throw noSuchEntity(`The user with ARN ${arn} cannot be found.`);
    return { accountId, accessKeyId: '', arn, kind: 'user', userId: user.userId };
  }
  const role = roleByArn(q, arn);
  if (!role) throw noSuchEntity(`The role with ARN ${arn} cannot be found.`);
  return { accountId, accessKeyId: '', arn, kind: 'assumed-role', roleArn: arn, userId: role.roleId };
}

function contextEntries(q: QueryCall): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of q.p.structs('ContextEntries.member')) {
    const name = e.str('ContextKeyName');
    if (name) out[name] = e.list('ContextKeyValues.member');
  }
  return out;
}

/**
 * Which of ActionNames the principal's identity policies (plus any PolicyInputList documents) allow: allowed,
 * explicitDeny or implicitDeny per action, with the statements that decided it. Lets the product name the
 * permissions an account lacks.
 */
export const simulatePrincipalPolicy: QueryOp = (q) => {
  const who = sourcePrincipal(q, q.p.req('PolicySourceArn'));
  const actions = q.p.list('ActionNames.member');
  if (actions.length === 0) throw invalidInput('ActionNames must not be empty.');
  const resources = q.p.list('ResourceArns.member');
  const extra: Source[] = q.p.list('PolicyInputList.member').map((text, i) => ({
    source: `PolicyInputList.${i + 1}`,
    doc: cachedPolicy(checkDocument(text, 'identity'), 'identity'),
  }));
  const own = identityPolicies(q.ctx, who);
  const context = { ...principalContext(who), ...contextEntries(q) };
  const results = actions.flatMap((action) =>
    (resources.length ? resources : ['*']).map((resource) => {
      const ev = own
        ? evaluate([...own, ...extra], { action, context, ...(resource !== '*' ? { resource } : {}) })
        : { decision: 'allowed' as const, matched: [] };
      return {
        EvalActionName: action,
        EvalResourceName: resource,
        EvalDecision: ev.decision,
        MatchedStatements: ev.matched.map((m) => ({
          SourcePolicyId: m.source,
          SourcePolicyType: m.source.startsWith('PolicyInputList') ? 'IAM Policy' : 'user',
        })),
        MissingContextValues: [],
      };
    }),
  );
  return { EvaluationResults: results, IsTruncated: false };
};
