import { AwsError } from '../core/errors.js';
import type { Principal } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import { actionsOf } from './actions.js';
import { cachedPolicy, type Evaluation, evaluate, type PolicyDocument } from './policy.js';
import { iamTables, nameKey } from './records.js';

/**
 * Identity-based authorization: what a principal's own policies allow. The account root may do everything
 * unless the sandbox's admin API gave it an allow-list (so that tests can take a permission away from the key
 * pair the product uses); users and roles have their inline policies plus any allow-list set for their ARN.
 */
export interface Source {
  source: string;
  doc: PolicyDocument;
}

function allowListDoc(actions: string[]): PolicyDocument {
  return { Statement: [{ Effect: 'Allow', Action: actions, Resource: ['*'] }] };
}

/**
 * The identity policies that apply to a principal, or undefined for an unrestricted root. A federated user has
 * those of the IAM user (or root) that called GetFederationToken; its session policies are applied on top.
 */
export function identityPolicies(ctx: SandboxContext, who: Principal): Source[] | undefined {
  if (who.kind === 'federated-user') {
    const from = who.federatedFrom ?? '';
    const kind = from.endsWith(':root') ? 'root' : 'user';
    return identityPolicies(ctx, { accountId: who.accountId, accessKeyId: '', arn: from, kind });
  }
  const t = iamTables(ctx);
  const allow = (arn: string) => t.allowLists.get(arn);
  const out: Source[] = [];
  const addAllowList = (arn: string) => {
    const a = allow(arn);
    if (a) out.push({ source: `sandbox allow-list for ${arn}`, doc: allowListDoc(a.actions) });
  };
  const addInline = (owner: string, policies: Record<string, string>) => {
    for (const [name, text] of Object.entries(policies)) {
      out.push({ source: `${owner} inline policy ${name}`, doc: cachedPolicy(text, 'identity') });
    }
  };
  if (!who.kind || who.kind === 'root') {
    if (!allow(who.arn)) return undefined;
    addAllowList(who.arn);
  } else if (who.kind === 'user') {
    const user = t.users.get(nameKey(who.accountId, who.arn.split('/').pop() as string));
    if (user) addInline(user.arn, user.policies);
    addAllowList(who.arn);
  } else {
    const role = [...t.roles.values()].find((r) => r.arn === who.roleArn);
    if (role) addInline(role.arn, role.policies);
    addAllowList(who.roleArn as string);
    addAllowList(who.arn);
  }
  return out;
}

/** Request context keys identity policies can test. */
export function principalContext(who: Principal): Record<string, string> {
  const ctx: Record<string, string> = {
    'aws:PrincipalAccount': who.accountId,
    'aws:PrincipalArn': who.roleArn ?? who.arn,
    'aws:userid': who.userId ?? who.accountId,
  };
  for (const t of who.sessionTags ?? []) ctx[`aws:PrincipalTag/${t.Key}`] = t.Value;
  return ctx;
}

/** A session's session policies as documents to evaluate; undefined when it has none (no restriction). */
export function sessionPolicies(who: Principal): Source[] | undefined {
  return who.sessionPolicies?.map((text, n) => ({
    source: `session policy${who.sessionPolicies!.length > 1 ? ` ${n + 1}` : ''}`,
    doc: cachedPolicy(text, 'identity'),
  }));
}

/**
 * Identity-based authorization with session policies: allowed only when the identity policies and the session
 * policies both allow (their intersection, as IAM's policy evaluation logic has it), and an explicit Deny in either
 * refuses. A refusal by the session policies says so (AWS's messages name "a session policy").
 */
export function decide(ctx: SandboxContext, who: Principal, action: string, resource?: string): Evaluation {
  const docs = identityPolicies(ctx, who);
  const r = { action, context: principalContext(who), ...(resource ? { resource } : {}) };
  const identity: Evaluation = docs ? evaluate(docs, r) : { decision: 'allowed', matched: [] };
  const session = sessionPolicies(who);
  if (!session || identity.decision === 'explicitDeny') return identity;
  const bySession = evaluate(session, r);
  if (bySession.decision === 'explicitDeny') return { ...bySession, policyType: 'session' };
  if (identity.decision !== 'allowed') return identity;
  if (bySession.decision !== 'allowed') return { ...bySession, policyType: 'session' };
  return { decision: 'allowed', matched: [...identity.matched, ...bySession.matched] };
}

/** The first action of a call the principal may not perform, with the decision that refused it. */
export function firstDenied(
  ctx: SandboxContext,
  who: Principal,
  service: string,
  operation: string,
): { action: string; evaluation: Evaluation } | undefined {
  for (const action of actionsOf(service, operation)) {
    const evaluation = decide(ctx, who, action);
    if (evaluation.decision !== 'allowed') return { action, evaluation };
  }
  return undefined;
}

/**
 * AWS's message: which principal, which action, and whether a Deny or the absence of an Allow refused it, in an
 * identity-based or a session policy.
 */
export function denialMessage(
  who: Principal,
  action: string,
  explicit: boolean,
  resource?: string,
  policyType: 'identity-based' | 'session' = 'identity-based',
): string {
  const on = resource ? ` on resource: ${resource}` : '';
  const a = policyType === 'session' ? 'a session' : 'an identity-based';
  const why = explicit
    ? `with an explicit deny in ${a} policy`
    : `because no ${policyType} policy allows the ${action} action`;
  return `User: ${who.arn} is not authorized to perform: ${action}${on} ${why}`;
}

/**
 * The encoded authorization failure message EC2 appends (sts:DecodeAuthorizationMessage reads it back): here
 * base64url JSON, in the decoded shape AWS documents.
 */
export function encodeFailure(who: Principal, action: string, evaluation: Evaluation): string {
  const body = {
    allowed: false,
    explicitDeny: evaluation.decision === 'explicitDeny',
    matchedStatements: {
      items: evaluation.matched.map((m) => ({ statementId: m.statement.Sid ?? '', source: m.source })),
    },
    failures: { items: [] },
    context: {
      principal: { id: who.userId ?? who.accountId, arn: who.arn },
      action,
      resource: '*',
      conditions: { items: [] },
    },
  };
  return `LBX1${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
}

export function decodeFailure(encoded: string): string | undefined {
  if (!encoded.startsWith('LBX1')) return undefined;
  try {
    const text = Buffer.from(encoded.slice(4), 'base64url').toString('utf8');
    JSON.parse(text);
    return text;
  } catch {
    return undefined;
  }
}

/** The refusal in the shape of the service that was called. */
export function denialError(
  service: string,
  who: Principal,
  action: string,
  evaluation: Evaluation,
): AwsError {
  const message = denialMessage(
    who,
    action,
    evaluation.decision === 'explicitDeny',
    undefined,
    evaluation.policyType === 'session' ? 'session' : 'identity-based',
  );
  switch (service) {
    case 'ec2':
      return new AwsError(
        'UnauthorizedOperation',
        `You are not authorized to perform this operation. ${message}. Encoded authorization failure message: ${encodeFailure(who, action, evaluation)}`,
        403,
      );
    case 'ebs':
      return new AwsError('AccessDeniedException', message, 403, { Reason: 'UNAUTHORIZED_ACCOUNT' });
    case 's3':
      return new AwsError('AccessDenied', message, 403);
    case 'sts':
    case 'iam':
      return new AwsError('AccessDenied', message, 403);
    default:
      return new AwsError('AccessDeniedException', message, 400);
  }
}

/** The one authorization call of the request pipeline: undefined to go on, or the error to answer with. */
export function authorizeCall(
  ctx: SandboxContext,
  who: Principal,
  service: string,
  operation: string,
): AwsError | undefined {
  if (operation === 'Unknown') return undefined; // the service answers its own error for what it cannot route
  const session = who.kind === 'assumed-role' || who.kind === 'federated-user';
  // STS refuses temporary credentials here before any policy is read (GetFederationToken API reference: "You must
  // call the GetFederationToken operation using the long-term security credentials of an IAM user").
  if (service === 'sts' && operation === 'GetFederationToken' && session) {
    return new AwsError('AccessDenied', 'Cannot call GetFederationToken with session credentials', 403);
  }
  // Federated users "cannot call any IAM operations using the CLI or the AWS API" nor "any STS operations except
  // GetCallerIdentity" (same page), whatever their policies say.
  if (who.kind === 'federated-user' && (service === 'iam' || service === 'sts')) {
    const action = actionsOf(service, operation)[0];
    if (action) {
      return new AwsError(
        'AccessDenied',
        `User: ${who.arn} is not authorized to perform: ${action} because federated users cannot call ${service.toUpperCase()} operations`,
        403,
      );
    }
  }
  const denied = firstDenied(ctx, who, service, operation);
  return denied ? denialError(service, who, denied.action, denied.evaluation) : undefined;
}
