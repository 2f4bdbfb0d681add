import type { ServerResponse } from 'node:http';
import { AwsError } from '../core/errors.js';
import type { AwsRequest, SandboxContext, Service } from '../core/service.js';
import { writeAwsError } from '../server/protocols.js';
import type { LayeredBlockEngine } from './engine.js';
import type { EbsQuotas } from './quotas.js';
import { getSnapshotBlock, listChangedBlocks, listSnapshotBlocks } from './read.js';
import { Tokens } from './tokens.js';
import { completeSnapshot, putSnapshotBlock, startSnapshot } from './write.js';

interface Route {
  operation: string;
  snapshotId?: string;
  index?: string;
}

/** The EBS direct API's six operations, by method and path (restJson1, as in the AWS API model). */
function route(method: string, path: string): Route | undefined {
  if (path === '/snapshots' || path === '/snapshots/')
    return method === 'POST' ? { operation: 'StartSnapshot' } : undefined;
  const parts = path.split('/');
  if (parts[1] !== 'snapshots' || !parts[2]) return undefined;
  if (parts[2] === 'completion' && parts.length === 4 && method === 'POST') {
    return { operation: 'CompleteSnapshot', snapshotId: parts[3] as string };
  }
  const snapshotId = parts[2];
  if (parts.length === 4 && method === 'GET') {
    if (parts[3] === 'blocks') return { operation: 'ListSnapshotBlocks', snapshotId };
    if (parts[3] === 'changedblocks') return { operation: 'ListChangedBlocks', snapshotId };
  }
  if (parts.length === 5 && parts[3] === 'blocks' && parts[4]) {
    if (method === 'GET') return { operation: 'GetSnapshotBlock', snapshotId, index: parts[4] };
    if (method === 'PUT') return { operation: 'PutSnapshotBlock', snapshotId, index: parts[4] };
  }
  return undefined;
}

/** The EBS direct API service ("ebs" in the SigV4 scope). */
export function createEbsService(
  engine: LayeredBlockEngine,
  quotas: EbsQuotas,
  ctx: SandboxContext,
): Service {
  const tokens = new Tokens(ctx.state);
  const deps = { engine, tokens };
  const dispatch = (r: Route, req: AwsRequest, res: ServerResponse, c: SandboxContext) => {
    const id = r.snapshotId as string;
    switch (r.operation) {
      case 'StartSnapshot':
        return startSnapshot(req, res, c, deps);
      case 'PutSnapshotBlock':
        return putSnapshotBlock(req, res, c, deps, id, r.index as string);
      case 'CompleteSnapshot':
        return completeSnapshot(req, res, c, deps, id);
      case 'ListSnapshotBlocks':
        return listSnapshotBlocks(req, res, c, deps, id);
      case 'ListChangedBlocks':
        return listChangedBlocks(req, res, c, deps, id);
      default:
        return getSnapshotBlock(req, res, c, deps, id, r.index as string);
    }
  };
  return {
    name: 'ebs',
    operationOf: (req) => route(req.method, req.path)?.operation,
    async handle(req, res, c) {
      try {
        const r = route(req.method, req.path);
        if (!r)
          throw new AwsError(
            'UnknownOperationException',
            `No EBS operation is ${req.method} ${req.path}`,
            404,
          );
        quotas.check(r.operation, req.principal.accountId, req.region, r.snapshotId, Date.now());
        dispatch(r, req, res, c);
      } catch (e) {
        if (!(e instanceof AwsError)) throw e;
        writeAwsError(res, 'restJson', e, req.requestId);
      }
    },
  };
}
