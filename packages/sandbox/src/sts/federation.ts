import { randomBytes } from 'node:crypto';
import { AwsError } from '../core/errors.js';
import { iamId, iamTables, newSecret, type SessionRecord } from '../iam/records.js';
import { type QueryOp, required, tagsParam } from '../iam/wire.js';
import { prune } from './assume.js';
import { packedPolicySize, sessionPolicyParams } from './session-policy.js';

/**
 * GetFederationToken (STS API reference): temporary credentials for a federated user, asked for with an IAM user's
 * long-term keys (or the root's). The federated user may do what both the calling user's policies and the session
 * policies allow; with no session policy, nothing (authorize.ts). Session credentials are refused before this runs
 * (authorize.ts: "Cannot call GetFederationToken with session credentials").
 */

/** userNameType: 2..32 characters of [\w+=,.@-]. */
const NAME = /^[\w+=,.@-]*$/;
const MIN_SECONDS = 900;
const MAX_SECONDS = 129_600;
const DEFAULT_SECONDS = 43_200;
/** "Temporary credentials obtained by using the root user credentials have a maximum duration of 3,600 seconds." */
const ROOT_MAX_SECONDS = 3600;
const MAX_TAGS = 50;

const invalid = (m: string) => new AwsError('ValidationError', m, 400);
const constraint = (value: string | number, member: string, rule: string) =>
  invalid(
    `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: Member must ${rule}`,
  );

function nameOf(name: string): string {
  if (name.length < 2) throw constraint(name, 'name', 'have length greater than or equal to 2');
  if (name.length > 32) throw constraint(name, 'name', 'have length less than or equal to 32');
  if (!NAME.test(name)) throw constraint(name, 'name', 'satisfy regular expression pattern: [\\w+=,.@-]*');
  return name;
}

function durationOf(seconds: number, root: boolean): number {
  if (seconds < MIN_SECONDS) {
    throw constraint(seconds, 'durationSeconds', `have value greater than or equal to ${MIN_SECONDS}`);
  }
  if (seconds > MAX_SECONDS) {
    throw constraint(seconds, 'durationSeconds', `have value less than or equal to ${MAX_SECONDS}`);
  }
  // "If the specified duration is longer than one hour, the session obtained by using root user credentials
  // defaults to one hour."
  return root ? Math.min(seconds, ROOT_MAX_SECONDS) : seconds;
}

export const getFederationToken: QueryOp = (q) => {
  const name = nameOf(required(q, 'Name'));
  const root = !q.who.kind || q.who.kind === 'root';
  const seconds = durationOf(q.p.int('DurationSeconds') ?? DEFAULT_SECONDS, root);
  const { policy } = sessionPolicyParams(q);
  const tags = tagsParam(q);
  if (tags.length > MAX_TAGS) throw invalid(`A session can have at most ${MAX_TAGS} tags.`);
  prune(q);
  const session: SessionRecord = {
    accessKeyId: iamId('ASIA', 16),
    secretAccessKey: newSecret(),
    sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
    accountId: q.who.accountId,
    sessionName: name,
    federatedFrom: q.who.arn,
    expiresAt: new Date(q.ctx.now() + seconds * 1000).toISOString(),
    tags,
    transitiveTagKeys: [],
  };
  if (policy !== undefined) session.sessionPolicy = policy;
  iamTables(q.ctx).sessions.put(session.accessKeyId, session);
  return {
    Credentials: {
      AccessKeyId: session.accessKeyId,
      SecretAccessKey: session.secretAccessKey,
      SessionToken: session.sessionToken,
      Expiration: session.expiresAt,
    },
    FederatedUser: {
      FederatedUserId: `${q.who.accountId}:${name}`,
      Arn: `arn:aws:sts::${q.who.accountId}:federated-user/${name}`,
    },
    PackedPolicySize: packedPolicySize(policy, tags.length),
  };
};
