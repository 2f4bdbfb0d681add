import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
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
export async function failure(p: Promise<unknown>): Promise<{ name: string; status?: number; message: string; raw: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } } & Record<string, unknown>;
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
