import { createHash, createHmac } from 'node:crypto';
import { request } from 'node:http';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { expect } from 'vitest';
import type { Account } from '../../src/core/model.js';
import { type RunningSandbox, type SandboxOptions, startSandbox } from '../../src/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export function sandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  return startSandbox({ fast: true, ...opts });
}

/** An S3 client of one account, path-style, no retries (tests see each answer), the SDK's default checksums. */
export function s3(
  sb: Pick<RunningSandbox, 'endpoint' | 'accounts'>,
  account: Account = sb.accounts[0] as Account,
  extra: Partial<S3ClientConfig> = {},
): S3Client {
  return new S3Client({
    endpoint: sb.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    maxAttempts: 1,
    ...extra,
  });
}

/** The error a promise rejects with: its AWS code (name), HTTP status and the raw fields the SDK parsed. */
export async function failure(
  p: Promise<unknown>,
): Promise<{ name: string; status?: number; message: string; raw: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } } & Record<
      string,
      unknown
    >;
    return { name: err.name, status: err.$metadata?.httpStatusCode, message: err.message, raw: err };
  }
  throw new Error('expected the call to fail');
}

export async function expectFailure(p: Promise<unknown>, name: string, status?: number): Promise<void> {
  const f = await failure(p);
  expect(f.name, f.message).toBe(name);
  if (status !== undefined) expect(f.status).toBe(status);
}

export async function collect(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Recognisable bytes: a cheap generator so that every position differs. */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  for (let i = n - (n % 4); i < n; i++) b[i] = i & 0xff;
  return b;
}

/** The sha256 constructor @smithy/signature-v4 wants, on node:crypto. */
class Sha256 {
  private readonly h;
  constructor(secret?: string | Uint8Array) {
    this.h = secret ? createHmac('sha256', secret) : createHash('sha256');
  }
  update(data: string | Uint8Array): void {
    this.h.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method: string;
  path: string; // percent-encoded, without the query
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  region?: string;
  account?: Account;
  /** x-amz-content-sha256 to sign (defaults to the body's hash). */
  payloadHash?: string;
}

/** A hand-made SigV4 request, for what the SDK will not send (wrong hashes, signed aws-chunked bodies, no config). */
export async function raw(sb: RunningSandbox, r: RawRequest): Promise<RawAnswer> {
  const a = r.account ?? (sb.accounts[0] as Account);
  const body = typeof r.body === 'string' ? Buffer.from(r.body) : (r.body ?? Buffer.alloc(0));
  const signer = new SignatureV4({
    service: 's3',
    region: r.region ?? 'us-east-1',
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
    sha256: Sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const headers: Record<string, string> = {
    host: `127.0.0.1:${sb.port}`,
    'x-amz-content-sha256': r.payloadHash ?? createHash('sha256').update(body).digest('hex'),
    ...(body.length || r.method === 'PUT' ? { 'content-length': String(body.length) } : {}),
    ...r.headers,
  };
  const signed = await signer.sign({
    method: r.method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: sb.port,
    path: r.path,
    query: r.query ?? {},
    headers,
    body,
  });
  const qs = new URLSearchParams(r.query ?? {}).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: sb.port,
        method: r.method,
        path: qs ? `${r.path}?${qs}` : r.path,
        headers: signed.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The <Code> of an S3 error document. */
export function codeOf(a: RawAnswer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(a.body)?.[1];
}
