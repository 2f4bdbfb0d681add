import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { AwsError } from '../core/errors.js';
import type { AwsRequest, Service } from '../core/service.js';
import { meterRequest, meterResponse, paceResponse, readBody, releaseBody } from './body.js';
import type { Context } from './context.js';
import type { Counters } from './counters.js';
import type { FaultRule, Faults } from './faults.js';
import {
  asAwsError,
  authError,
  type Protocol,
  protocolOf,
  serverError,
  throttleError,
  writeAwsError,
} from './protocols.js';
import type { AuthOk, SigV4Verifier } from './sigv4.js';

/** EC2 and EBS bodies are small (an EBS block is 512 KiB); S3 (part 2) will stream instead. */
const AWS_BODY_LIMIT = 16 * 1024 * 1024;
export const ADMIN_PREFIX = '/_sandbox/';

export interface Pipeline {
  ctx: Context;
  services: ReadonlyMap<string, Service>;
  verifier: SigV4Verifier;
  faults: Faults;
  counters: Counters;
  admin(req: IncomingMessage, res: ServerResponse, rawPath: string, rawQuery: string): Promise<void>;
  /** Permission check once the operation is known: an error in the service's shape refuses the call. */
  authorize?(req: AwsRequest, operation: string): AwsError | undefined;
}

/** The request listener: admin API under /_sandbox/, every other request is an AWS request. */
export function createListener(p: Pipeline): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const work = rawPath.startsWith(ADMIN_PREFIX)
      ? p.admin(req, res, rawPath, rawQuery)
      : serveAws(p, req, res, rawPath, rawQuery);
    work.catch((e: unknown) => {
      if (res.headersSent) res.destroy();
      else writeAwsError(res, 'json', asAwsError(e, 'json'), randomUUID());
    });
  };
}

async function serveAws(
  p: Pipeline,
  req: IncomingMessage,
  res: ServerResponse,
  rawPath: string,
  rawQuery: string,
) {
  const requestId = randomUUID();
  // Services that stream (S3) get the body unread; the others get it whole, and it is hashed for SigV4 here.
  const streaming = p.services.get(scopeService(req, rawQuery) ?? '')?.streamingBody === true;
  const streamedIn = streaming ? meterRequest(req) : undefined;
  let body: Buffer;
  try {
    body = streaming ? Buffer.alloc(0) : await readBody(req, AWS_BODY_LIMIT);
  } catch (e) {
    writeAwsError(res, 'json', asAwsError(e, 'json'), requestId);
    return;
  }
  const auth = p.verifier.verify(
    { method: req.method ?? 'GET', rawPath, rawQuery, rawHeaders: req.rawHeaders, body, streaming },
    Date.now(),
  );
  if (!auth.ok) {
    const service = auth.service ?? guessService(req, rawPath);
    writeAwsError(
      res,
      protocolOf(service),
      authError(auth.kind, protocolOf(service), auth.message),
      requestId,
    );
    p.counters.count(service, 'AuthFailure', body.length, 0, true);
    return;
  }
  const protocol = protocolOf(auth.service);
  const service = p.services.get(auth.service);
  const refusal = !service
    ? new AwsError(
        'UnknownService',
        `The sandbox does not serve '${auth.service}'; it serves ${[...p.services.keys()].join(', ')}.`,
        400,
      )
    : !p.ctx.regions.some((r) => r.name === auth.region)
      ? authError(
          'badSignature',
          protocol,
          `Credential should be scoped to a valid region, not '${auth.region}'.`,
        )
      : undefined;
  if (!service || refusal) {
    writeAwsError(res, protocol, refusal as AwsError, requestId);
    p.counters.count(auth.service, 'Refused', body.length, 0, true);
    return;
  }
  const request = awsRequest(req, rawPath, rawQuery, body, auth, requestId, streaming);
  const operation = service.operationOf(request) ?? 'Unknown';
  const bytesOut = meterResponse(res);
  res.on('close', () => {
    p.counters.count(
      auth.service,
      operation,
      streamedIn ? streamedIn() : body.length,
      bytesOut(),
      res.statusCode >= 400 || !res.writableFinished,
    );
  });
  res.setHeader('x-amzn-RequestId', requestId);
  const denied = p.authorize?.(request, operation);
  if (denied) {
    writeAwsError(res, protocol, denied, requestId);
    releaseBody(body);
    return;
  }
  const fired = p.faults.draw(auth.service, operation, {
    region: auth.region,
    account: auth.principal.accountId,
  });
  const outcome = await applyFaults(fired, res, body.length, protocol);
  if (outcome === 'dropped') return;
  if (outcome) {
    writeAwsError(res, protocol, outcome, requestId);
    return;
  }
  if (fired.some((f) => f.kind === 'lost')) {
    // The request takes effect, its answer never arrives: what a client sees when a connection breaks late.
    const sink = new PassThroughResponse();
    try {
      await service.handle(request, sink as unknown as ServerResponse, p.ctx);
    } catch {
      // the client hears nothing either way
    } finally {
      releaseBody(body);
      res.socket?.destroy();
    }
    return;
  }
  try {
    await service.handle(request, res, p.ctx);
  } catch (e) {
    if (res.headersSent) res.destroy();
    else writeAwsError(res, protocol, asAwsError(e, protocol), requestId);
  } finally {
    releaseBody(body); // services must not keep req.body past handle()
  }
}

function awsRequest(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  body: Buffer,
  auth: AuthOk,
  requestId: string,
  streaming: boolean,
): AwsRequest {
  let path = rawPath;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    // keep the raw path: the service will not recognise it
  }
  const base = {
    method: req.method ?? 'GET',
    path,
    rawPath,
    query: new URLSearchParams(rawQuery),
    headers: req.headers,
    body,
    service: auth.service,
    region: auth.region,
    principal: auth.principal,
    requestId,
  };
  const streamed = streaming
    ? { stream: req, payloadHash: auth.payloadHash, chunkSigning: auth.chunkSigning }
    : undefined;
  return { ...base, ...(auth.bodySha256 && { bodySha256: auth.bodySha256 }), ...streamed };
}

/** The service of a request's SigV4 scope (header or presigned), read before the body: "KEY/DATE/REGION/SERVICE/". */
function scopeService(req: IncomingMessage, rawQuery: string): string | undefined {
  const header = req.headers.authorization;
  const credential = header
    ? /Credential=([^,\s]+)/.exec(header)?.[1]
    : new URLSearchParams(rawQuery).get('X-Amz-Credential');
  return credential?.split('/')[3];
}

/** Without a credential scope, guess the service from the request's shape (EC2's query form, EBS's paths). */
function guessService(req: IncomingMessage, rawPath: string): string {
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/x-www-form-urlencoded')) return 'ec2';
  return rawPath.startsWith('/snapshots') ? 'ebs' : 'unknown';
}

/**
 * Applies the faults that fired: waits (latency, bandwidth), paces the response (bandwidth), and says whether
 * the request must not reach the service: 'dropped', or an error to answer with.
 */
async function applyFaults(
  fired: FaultRule[],
  res: ServerResponse,
  bytesIn: number,
  protocol: Protocol,
): Promise<'dropped' | AwsError | undefined> {
  for (const f of fired) {
    if (f.kind === 'latency') await sleep(f.latencyMs ?? 0);
    if (f.kind === 'bandwidth' && f.bytesPerSecond) {
      await sleep((bytesIn / f.bytesPerSecond) * 1000); // the request body "arrived" this slowly
      paceResponse(res, f.bytesPerSecond);
    }
  }
  if (fired.some((f) => f.kind === 'drop')) {
    res.socket?.destroy();
    return 'dropped';
  }
  if (fired.some((f) => f.kind === 'throttle')) return throttleError(protocol);
  const fault = fired.find((f) => f.kind === 'error5xx');
  return fault ? serverError(protocol, fault.status ?? 500) : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A response that swallows what a service writes (for the `lost` fault). */
class PassThroughResponse extends Writable {
  statusCode = 200;
  headersSent = false;
  private readonly headers = new Map<string, unknown>();
  constructor() {
    super({ write: (_chunk, _enc, done) => done() });
  }
  setHeader(name: string, value: unknown): this {
    this.headers.set(name.toLowerCase(), value);
    return this;
  }
  getHeader(name: string): unknown {
    return this.headers.get(name.toLowerCase());
  }
  removeHeader(name: string): void {
    this.headers.delete(name.toLowerCase());
  }
  hasHeader(name: string): boolean {
    return this.headers.has(name.toLowerCase());
  }
  writeHead(status: number, ...rest: unknown[]): this {
    this.statusCode = status;
    const headers = rest.find((r) => typeof r === 'object' && r !== null) as
      | Record<string, unknown>
      | undefined;
    for (const [k, v] of Object.entries(headers ?? {})) this.setHeader(k, v);
    this.headersSent = true;
    return this;
  }
  flushHeaders(): void {
    this.headersSent = true;
  }
}
