import type { ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';
import type { Principal } from '../core/model.js';
import type { AwsRequest, SandboxContext, Service } from '../core/service.js';
import { Params } from '../ec2/query.js';
import { escapeXml } from '../ec2/xml.js';

/**
 * The awsQuery protocol of STS and IAM: form-encoded Action and parameters (lists as `Name.member.N`), answers
 * as `<ActionResponse><ActionResult>...</ActionResult><ResponseMetadata>` XML with lists as `<member>` items.
 */
export type QueryValue = string | number | boolean | undefined | null | QueryObject | QueryValue[];
export interface QueryObject {
  [name: string]: QueryValue;
}

export interface QueryCall {
  readonly ctx: SandboxContext;
  readonly who: Principal;
  readonly region: string;
  readonly p: Params;
}

export type QueryOp = (q: QueryCall) => QueryObject | undefined;

function write(out: string[], name: string, v: QueryValue): void {
  if (v === undefined || v === null) return;
  if (Array.isArray(v)) {
    out.push(`<${name}>`);
    for (const item of v) write(out, 'member', item);
    out.push(`</${name}>`);
  } else if (typeof v === 'object') {
    out.push(`<${name}>`);
    for (const [k, x] of Object.entries(v)) write(out, k, x);
    out.push(`</${name}>`);
  } else out.push(`<${name}>${escapeXml(String(v))}</${name}>`);
}

export function queryXml(
  action: string,
  ns: string,
  result: QueryObject | undefined,
  requestId: string,
): string {
  const out = [`<${action}Response xmlns="${ns}">`];
  if (result) write(out, `${action}Result`, result);
  out.push(`<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`);
  return out.join('');
}

function paramsOf(req: AwsRequest): Params {
  const type = req.headers['content-type'];
  return Params.fromRequest(req.query, req.body, Array.isArray(type) ? type[0] : type);
}

function send(res: ServerResponse, body: string, requestId: string): void {
  const bytes = Buffer.from(body, 'utf8');
  res.writeHead(200, {
    'content-type': 'text/xml',
    'content-length': bytes.length,
    'x-amzn-requestid': requestId,
  });
  res.end(bytes);
}

/** A query-protocol service; errors thrown by operations are written by the server in the query error shape. */
export function createQueryService(name: string, ns: string, ops: Record<string, QueryOp>): Service {
  return {
    name,
    operationOf: (req) => paramsOf(req).str('Action'),
    async handle(req, res, ctx) {
      const p = paramsOf(req);
      const action = p.str('Action');
      const op = action ? ops[action] : undefined;
      if (!action || !op) {
        throw new AwsError(
          'InvalidAction',
          `Could not find operation ${action ?? ''} for version ${p.str('Version') ?? ''}`,
          400,
        );
      }
      const result = op({ ctx, who: req.principal, region: req.region, p });
      send(res, queryXml(action, ns, result, req.requestId), req.requestId);
    },
  };
}

/** A required parameter; IAM and STS answer ValidationError naming it. */
export function required(q: QueryCall, name: string): string {
  const v = q.p.str(name);
  if (v === undefined || v === '') {
    throw new AwsError(
      'ValidationError',
      `1 validation error detected: Value null at '${name[0]?.toLowerCase()}${name.slice(1)}' failed to satisfy constraint: Member must not be null`,
      400,
    );
  }
  return v;
}

export function tagsParam(q: QueryCall): Array<{ Key: string; Value: string }> {
  return q.p.structs('Tags.member').map((t) => ({ Key: t.req('Key'), Value: t.str('Value') ?? '' }));
}

export function tagsXml(tags: Array<{ Key: string; Value: string }>): QueryObject[] {
  return tags.map((t) => ({ Key: t.Key, Value: t.Value }));
}
