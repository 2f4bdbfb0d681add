import type { Principal } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import { decide, principalContext } from '../iam/authorize.js';
import { cachedPolicy, evaluate, type Matched, principalMatches } from '../iam/policy.js';
import { type GrantRecord, type KeyRecord, kmsError, kmsTables } from './keys.js';

/** One use of a key: who, which permission (kms:Decrypt, ...), through which service, with what context. */
export interface KeyUse {
  principal: Principal;
  action: string;
  /** kms:ViaService, for calls EC2 and the EBS direct APIs make on the caller's behalf. */
  viaService?: string;
  encryptionContext?: Record<string, string>;
}

function subset(part: Record<string, string>, whole: Record<string, string>): boolean {
  return Object.entries(part).every(([k, v]) => whole[k] === v);
}

function grantAllows(g: GrantRecord, use: KeyUse): boolean {
  if (!principalMatches({ AWS: [g.granteePrincipal] }, use.principal)) return false;
  if (!g.operations.includes(use.action.replace(/^kms:/, ''))) return false;
  const ec = use.encryptionContext ?? {};
  const equals = g.constraints?.EncryptionContextEquals;
  if (equals && !(subset(equals, ec) && subset(ec, equals))) return false;
  const sub = g.constraints?.EncryptionContextSubset;
  return !sub || subset(sub, ec);
}

/**
 * A statement that names the caller itself (or everyone) grants directly; one naming its account delegates to IAM.
 * A statement naming a session's role (not the session itself) is still bounded by the session's policies, as
 * IAM's evaluation logic for session policies has it.
 */
function namesCallerDirectly(m: Matched, who: Principal): boolean {
  const p = m.statement.Principal;
  if (p === '*' || p === undefined) return true;
  const role = who.sessionPolicies ? undefined : who.roleArn;
  return (p.AWS ?? []).some((x) => x === '*' || x === who.arn || (role !== undefined && x === role));
}

/**
 * Whether a key may be used: a grant for the caller, or the key policy (AWS's rule: a key policy statement naming
 * the caller's account lets the account's IAM policies decide; across accounts both must allow).
 */
export function keyAllows(ctx: SandboxContext, key: KeyRecord, use: KeyUse): boolean {
  const grants = [...kmsTables(ctx).grants.values()].filter((g) => g.keyId === key.keyId);
  if (grants.some((g) => grantAllows(g, use))) return true;
  const who = use.principal;
  const context: Record<string, string> = { ...principalContext(who), 'kms:CallerAccount': who.accountId };
  if (use.viaService) context['kms:ViaService'] = use.viaService;
  for (const [k, v] of Object.entries(use.encryptionContext ?? {})) context[`kms:EncryptionContext:${k}`] = v;
  const ev = evaluate([{ source: 'key policy', doc: cachedPolicy(key.policy, 'resource') }], {
    action: use.action,
    resource: key.arn,
    principal: who,
    context,
  });
  if (ev.decision !== 'allowed') return false;
  const sameAccount = who.accountId === key.accountId;
  if (sameAccount && ev.matched.some((m) => namesCallerDirectly(m, who))) return true;
  return decide(ctx, who, use.action, key.arn).decision === 'allowed';
}

/** KMS's own refusal of a key use. */
export function keyAccessDenied(key: KeyRecord, use: KeyUse) {
  return kmsError(
    'AccessDeniedException',
    `User: ${use.principal.arn} is not authorized to perform: ${use.action} on resource: ${key.arn} because no resource-based policy allows the ${use.action} action`,
  );
}

export function requireKeyAccess(ctx: SandboxContext, key: KeyRecord, use: KeyUse): void {
  if (!keyAllows(ctx, key, use)) throw keyAccessDenied(key, use);
}
