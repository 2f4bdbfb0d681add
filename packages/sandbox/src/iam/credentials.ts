import type { Account, Principal } from '../core/model.js';
import type { SandboxContext } from '../core/service.js';
import { rootPrincipal } from '../server/accounts.js';
import type { Credential } from '../server/sigv4.js';
import { iamTables, nameKey, type SessionRecord } from './records.js';

/**
 * Resolves an access key id for SigV4 verification: an account's root key pair, an IAM user's active access key,
 * or AssumeRole / GetFederationToken temporary credentials (ASIA...). Expiry is checked by the verifier, on the sandbox clock.
 */
export function credentialLookup(ctx: SandboxContext): (accessKeyId: string) => Credential | undefined {
  const roots = new Map(ctx.accounts.map((a) => [a.accessKeyId, a]));
  const accountOf = (id: string) => ctx.accounts.find((a) => a.accountId === id);
  return (accessKeyId) => {
    const root = roots.get(accessKeyId);
    if (root) return { account: root, secretAccessKey: root.secretAccessKey, principal: rootPrincipal(root) };
    const t = iamTables(ctx);
    if (accessKeyId.startsWith('ASIA')) {
      const s = t.sessions.get(accessKeyId);
      const account = s && accountOf(s.accountId);
      if (!s || !account) return undefined;
      return {
        account,
        secretAccessKey: s.secretAccessKey,
        sessionToken: s.sessionToken,
        expiresAt: Date.parse(s.expiresAt),
        principal: sessionPrincipal(s),
      };
    }
    return userCredential(ctx, accessKeyId, accountOf);
  };
}

function userCredential(
  ctx: SandboxContext,
  accessKeyId: string,
  accountOf: (id: string) => Account | undefined,
): Credential | undefined {
  const t = iamTables(ctx);
  const k = t.accessKeys.get(accessKeyId);
  const user = k && t.users.get(nameKey(k.accountId, k.userName));
  const account = k && accountOf(k.accountId);
  if (k?.status !== 'Active' || !user || !account) return undefined;
  return {
    account,
    secretAccessKey: k.secretAccessKey,
    principal: { accountId: k.accountId, accessKeyId, arn: user.arn, kind: 'user', userId: user.userId },
  };
}

/** Who a session's credentials stand for: a role session, or a federated user (GetFederationToken). */
function sessionPrincipal(s: SessionRecord): Principal {
  const policies = s.sessionPolicy !== undefined ? [s.sessionPolicy] : [];
  const common = { accountId: s.accountId, accessKeyId: s.accessKeyId, sessionName: s.sessionName };
  if (s.federatedFrom) {
    return {
      ...common,
      arn: `arn:aws:sts::${s.accountId}:federated-user/${s.sessionName}`,
      kind: 'federated-user',
      userId: `${s.accountId}:${s.sessionName}`,
      federatedFrom: s.federatedFrom,
      sessionTags: s.tags,
      sessionPolicies: policies,
    };
  }
  const roleArn = s.roleArn ?? '';
  return {
    ...common,
    arn: `arn:aws:sts::${s.accountId}:assumed-role/${roleArn.split('/').pop()}/${s.sessionName}`,
    kind: 'assumed-role',
    userId: `${s.roleId}:${s.sessionName}`,
    roleArn,
    sessionTags: s.tags,
    ...(policies.length ? { sessionPolicies: policies } : {}),
  };
}
