import { randomBytes } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import type { Tag } from '../core/model.js';
import { principalContext } from '../iam/authorize.js';
import { cachedPolicy, evaluate } from '../iam/policy.js';
import { iamId, iamTables, newSecret, type RoleRecord, type SessionRecord } from '../iam/records.js';
import { roleByArn } from '../iam/roles.js';
import { type QueryCall, type QueryOp, required } from '../iam/wire.js';
import { packedPolicySize, sessionPolicyParams } from './session-policy.js';

const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const DEFAULT_SECONDS = 3600;
const MIN_SECONDS = 900;
/** A role assumed with a role session's credentials ("role chaining") lasts at most an hour. */
const CHAINED_MAX_SECONDS = 3600;
const MAX_TAGS = 50;
/** Expired sessions are kept this long (their callers get ExpiredToken, not "invalid"), then pruned. */
const KEEP_EXPIRED_MS = 24 * 3600 * 1000;

const invalid = (m: string) => new AwsError('ValidationError', m, 400);

function denied(q: QueryCall, roleArn: string): AwsError {
  return new AwsError(
    'AccessDenied',
    `User: ${q.who.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
    403,
  );
}

function durationOf(q: QueryCall, role: RoleRecord): number {
  const seconds = q.p.int('DurationSeconds') ?? DEFAULT_SECONDS;
  if (seconds < MIN_SECONDS) {
    throw invalid(
      `1 validation error detected: Value '${seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to ${MIN_SECONDS}`,
    );
  }
  if (q.who.kind === 'assumed-role' && seconds > CHAINED_MAX_SECONDS) {
    throw invalid(
      'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
    );
  }
  if (seconds > role.maxSessionDuration) {
    throw invalid('The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
  }
  return seconds;
}

/** Session tags: the request's, plus the transitive ones of the caller's own session (role chaining). */
function sessionTags(q: QueryCall, caller: SessionRecord | undefined): { tags: Tag[]; transitive: string[] } {
  const given = q.p.structs('Tags.member').map((t) => ({ Key: t.req('Key'), Value: t.str('Value') ?? '' }));
  if (given.length > MAX_TAGS) throw invalid(`A session can have at most ${MAX_TAGS} tags.`);
  const transitive = q.p.list('TransitiveTagKeys.member');
  for (const k of transitive) {
    if (!given.some((t) => t.Key === k))
      throw invalid(`Transitive tag key ${k} is not one of the session tags.`);
  }
  const inherited = (caller?.tags ?? []).filter((t) => caller?.transitiveTagKeys.includes(t.Key));
  const keys = new Set(given.map((t) => t.Key.toLowerCase()));
  return {
    tags: [...inherited.filter((t) => !keys.has(t.Key.toLowerCase())), ...given],
    transitive: [...new Set([...(caller?.transitiveTagKeys ?? []), ...transitive])],
  };
}

/** The role's trust policy must allow the caller sts:AssumeRole (and sts:TagSession when tags are passed). */
function trusted(q: QueryCall, role: RoleRecord, tags: Tag[]): boolean {
  const context: Record<string, string | string[]> = {
    ...principalContext(q.who),
    'sts:RoleSessionName': q.p.str('RoleSessionName') ?? '',
  };
  const externalId = q.p.str('ExternalId');
  if (externalId !== undefined) context['sts:ExternalId'] = externalId;
  const sourceIdentity = q.p.str('SourceIdentity');
  if (sourceIdentity !== undefined) context['sts:SourceIdentity'] = sourceIdentity;
  for (const t of tags) context[`aws:RequestTag/${t.Key}`] = t.Value;
  context['aws:TagKeys'] = tags.map((t) => t.Key);
  const doc = [{ source: `trust policy of ${role.arn}`, doc: cachedPolicy(role.trustPolicy, 'resource') }];
  const allows = (action: string) =>
    evaluate(doc, { action, principal: q.who, context }).decision === 'allowed';
  return allows('sts:AssumeRole') && (tags.length === 0 || allows('sts:TagSession'));
}

export function prune(q: QueryCall): void {
  const sessions = iamTables(q.ctx).sessions;
  const cutoff = q.ctx.now() - KEEP_EXPIRED_MS;
  for (const s of [...sessions.values()])
    if (Date.parse(s.expiresAt) < cutoff) sessions.delete(s.accessKeyId);
}

export const assumeRole: QueryOp = (q) => {
  const roleArn = required(q, 'RoleArn');
  const sessionName = required(q, 'RoleSessionName');
  if (!SESSION_NAME.test(sessionName)) {
    throw invalid(
      `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`,
    );
  }
  const externalId = q.p.str('ExternalId');
  if (externalId !== undefined && !/^[\w+=,.@:/-]{2,1224}$/.test(externalId)) {
    throw invalid(`1 validation error detected: Value at 'externalId' failed to satisfy constraint`);
  }
  const role = roleByArn(q, roleArn);
  if (!role) throw denied(q, roleArn);
  const seconds = durationOf(q, role);
  const caller = iamTables(q.ctx).sessions.get(q.who.accessKeyId);
  const { tags, transitive } = sessionTags(q, caller);
  // The session may do only what the role's policies and this session policy both allow (authorize.ts decide).
  const { policy } = sessionPolicyParams(q);
  if (!trusted(q, role, tags)) throw denied(q, roleArn);
  prune(q);
  const session: SessionRecord = {
    accessKeyId: iamId('ASIA', 16),
    secretAccessKey: newSecret(),
    sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
    accountId: role.accountId,
    roleArn: role.arn,
    roleId: role.roleId,
    sessionName,
    expiresAt: new Date(q.ctx.now() + seconds * 1000).toISOString(),
    tags,
    transitiveTagKeys: transitive,
  };
  if (policy !== undefined) session.sessionPolicy = policy;
  const sourceIdentity = q.p.str('SourceIdentity');
  if (sourceIdentity) session.sourceIdentity = sourceIdentity;
  iamTables(q.ctx).sessions.put(session.accessKeyId, session);
  return {
    Credentials: {
      AccessKeyId: session.accessKeyId,
      SecretAccessKey: session.secretAccessKey,
      SessionToken: session.sessionToken,
      Expiration: session.expiresAt,
    },
    AssumedRoleUser: {
      AssumedRoleId: `${role.roleId}:${sessionName}`,
      Arn: `arn:aws:sts::${role.accountId}:assumed-role/${role.roleName}/${sessionName}`,
    },
    PackedPolicySize: packedPolicySize(policy, tags.length),
    SourceIdentity: sourceIdentity,
  };
};
