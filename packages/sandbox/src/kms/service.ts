import { AwsError } from '../core/errors.js';
import type { AwsRequest, Service } from '../core/service.js';
import type { KmsOp } from './call.js';
import type { MasterKey } from './crypto.js';
import { createAlias, deleteAlias, listAliases } from './ops-aliases.js';
import {
  decrypt,
  encrypt,
  generateDataKey,
  generateDataKeyWithoutPlaintext,
  reEncrypt,
} from './ops-crypto.js';
import { createGrant, listGrants, revokeGrant } from './ops-grants.js';
import {
  cancelKeyDeletion,
  createKey,
  describeKey,
  disableKey,
  enableKey,
  getKeyPolicy,
  listKeys,
  putKeyPolicy,
  scheduleKeyDeletion,
} from './ops-keys.js';

const OPS: Record<string, KmsOp> = {
  CreateKey: createKey,
  DescribeKey: describeKey,
  ListKeys: listKeys,
  EnableKey: enableKey,
  DisableKey: disableKey,
  ScheduleKeyDeletion: scheduleKeyDeletion,
  CancelKeyDeletion: cancelKeyDeletion,
  GetKeyPolicy: getKeyPolicy,
  PutKeyPolicy: putKeyPolicy,
  CreateAlias: createAlias,
  ListAliases: listAliases,
  DeleteAlias: deleteAlias,
  Encrypt: encrypt,
  Decrypt: decrypt,
  ReEncrypt: reEncrypt,
  GenerateDataKey: generateDataKey,
  GenerateDataKeyWithoutPlaintext: generateDataKeyWithoutPlaintext,
  CreateGrant: createGrant,
  ListGrants: listGrants,
  RevokeGrant: revokeGrant,
};

const TARGET_PREFIX = 'TrentService.';

function operationOf(req: AwsRequest): string | undefined {
  const target = req.headers['x-amz-target'];
  const t = Array.isArray(target) ? target[0] : target;
  return t?.startsWith(TARGET_PREFIX) ? t.slice(TARGET_PREFIX.length) : undefined;
}

function input(req: AwsRequest): Record<string, unknown> {
  if (req.body.length === 0) return {};
  try {
    const v = JSON.parse(req.body.toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) return v;
  } catch {
    // answered below
  }
  throw new AwsError('SerializationException', 'The request body is not a JSON object.', 400);
}

/** KMS (awsJson1.1, X-Amz-Target: TrentService.<Operation>); errors are written by the server as __type JSON. */
export function createKmsService(master: MasterKey): Service {
  return {
    name: 'kms',
    operationOf,
    async handle(req, res, ctx) {
      const name = operationOf(req);
      const op = name ? OPS[name] : undefined;
      if (!op) throw new AwsError('UnknownOperationException', `Unknown operation ${name ?? ''}`.trim(), 400);
      const out = op({ ctx, master, who: req.principal, region: req.region, input: input(req) });
      const body = Buffer.from(JSON.stringify(out));
      res.writeHead(200, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': body.length,
        'x-amzn-requestid': req.requestId,
      });
      res.end(body);
    },
  };
}
