import { AwsError } from '../core/errors.js';
import type { Service } from '../core/service.js';
import { decodeFailure } from '../iam/authorize.js';
import { createQueryService, type QueryOp, required } from '../iam/wire.js';
import { assumeRole } from './assume.js';
import { getFederationToken } from './federation.js';

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

const getCallerIdentity: QueryOp = (q) => ({
  UserId: q.who.userId ?? q.who.accountId,
  Account: q.who.accountId,
  Arn: q.who.arn,
});

/** Reads back the encoded message of an EC2 UnauthorizedOperation. */
const decodeAuthorizationMessage: QueryOp = (q) => {
  const decoded = decodeFailure(required(q, 'EncodedMessage'));
  if (!decoded) {
    throw new AwsError('InvalidAuthorizationMessageException', 'The encoded message is not valid.', 400);
  }
  return { DecodedMessage: decoded };
};

/** STS (awsQuery): who am I, temporary credentials for roles and federated users, EC2's authorization messages. */
export function createStsService(): Service {
  return createQueryService('sts', STS_NS, {
    GetCallerIdentity: getCallerIdentity,
    AssumeRole: assumeRole,
    GetFederationToken: getFederationToken,
    DecodeAuthorizationMessage: decodeAuthorizationMessage,
  });
}
