import type { ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';
import type { Principal } from '../core/model.js';
import type { AwsRequest, SandboxContext, Service } from '../core/service.js';
import type { Call } from './call.js';
import { HANDLERS } from './handlers.js';
import { settle } from './lifecycle.js';
import { Params } from './query.js';
import { ensureDefaultVpc } from './vpcs.js';
import { errorXml, responseXml, type XmlObject } from './xml.js';

export { defaultEbsKey } from './call.js';
export { AMAZON_OWNER } from './public-images.js';

/**
 * Runs one action for an account in a region and returns its answer as the object the XML is written from.
 * The wire path and in-process callers (the demo seed) share it, so both see exactly the same behaviour.
 */
export function invokeEc2(
  ctx: SandboxContext,
  accountId: string,
  region: string,
  action: string,
  params: Params,
  principal?: Principal,
): XmlObject {
  const handler = HANDLERS[action];
  if (!handler)
    throw new AwsError('InvalidAction', `The action ${action} is not valid for this web service.`);
  const c: Call = { ctx, accountId, region, p: params, now: ctx.now(), ...(principal ? { principal } : {}) };
  settle(ctx, c.now);
  ensureDefaultVpc(c);
  if (params.bool('DryRun')) {
    throw new AwsError('DryRunOperation', 'Request would have succeeded, but DryRun flag is set.', 412);
  }
  return handler(c);
}

/** In-process call with SDK-shaped parameters, e.g. `{ MinCount: 1, TagSpecification: [{ ... }] }`. */
export function callEc2(
  ctx: SandboxContext,
  accountId: string,
  region: string,
  action: string,
  params: Record<string, unknown> = {},
): XmlObject {
  return invokeEc2(ctx, accountId, region, action, Params.fromObject(params));
}

function paramsOf(req: AwsRequest): Params {
  const type = req.headers['content-type'];
  return Params.fromRequest(req.query, req.body, Array.isArray(type) ? type[0] : type);
}

function send(res: ServerResponse, status: number, body: string, requestId: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(status, {
    'content-type': 'text/xml;charset=UTF-8',
    'content-length': bytes.length,
    'x-amzn-requestid': requestId,
    server: 'AmazonEC2',
  });
  res.end(bytes);
}

/** The EC2 Query protocol: form-encoded Action and parameters in, AWS's XML out, errors in EC2's own shape. */
export function createEc2Service(): Service {
  return {
    name: 'ec2',
    operationOf(req) {
      return paramsOf(req).str('Action');
    },
    async handle(req, res, ctx) {
      const params = paramsOf(req);
      const action = params.str('Action');
      try {
        if (!action) throw new AwsError('MissingAction', 'The request must contain the parameter Action');
        const body = invokeEc2(ctx, req.principal.accountId, req.region, action, params, req.principal);
        send(res, 200, responseXml(action, req.requestId, body), req.requestId);
      } catch (e) {
        if (e instanceof AwsError) {
          send(res, e.status, errorXml(e.code, e.message, req.requestId), req.requestId);
        } else {
          console.error(`ec2 ${action}:`, e);
          send(
            res,
            500,
            errorXml('InternalError', 'An internal error has occurred', req.requestId),
            req.requestId,
          );
        }
      }
    },
  };
}
