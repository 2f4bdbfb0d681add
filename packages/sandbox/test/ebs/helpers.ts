import { createHash, createHmac } from 'node:crypto';
import { EBSClient, type EBSClientConfig } from '@aws-sdk/client-ebs';
import { expect } from 'vitest';
import { BLOCK_SIZE } from '../../src/core/blocks.js';
import type { Account } from '../../src/core/model.js';
import { type RunningSandbox, type SandboxOptions, startSandbox } from '../../src/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export { BLOCK_SIZE };

/** A fresh sandbox in a temp folder, zero delays unless asked otherwise. */
export function sandbox(opts: SandboxOptions = {}): Promise<RunningSandbox> {
  return startSandbox({ fast: true, ...opts });
}

/** An EBS client of one of the sandbox's accounts, with no retries (so tests see each answer). */
export function ebs(
  sb: Pick<RunningSandbox, 'endpoint' | 'accounts'>,
  account: Account = sb.accounts[0] as Account,
  extra: Partial<EBSClientConfig> = {},
) {
  return new EBSClient({
    endpoint: sb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: account.accessKeyId, secretAccessKey: account.secretAccessKey },
    maxAttempts: 1,
    ...extra,
  });
}

export const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest();
export const b64sha = (data: Uint8Array) => sha256(data).toString('base64');

/** A block of recognisable bytes: `seed` repeated with its position mixed in. */
export function block(seed: number): Buffer {
  const b = Buffer.allocUnsafe(BLOCK_SIZE);
  for (let i = 0; i < BLOCK_SIZE; i += 4) b.writeUInt32LE((seed * 2654435761 + i) >>> 0, i);
  return b;
}

/** Buffer.equals: vitest's deep equality walks large buffers byte by byte. */
export function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected)).toBe(true);
}

/** The linear aggregate CompleteSnapshot checks: SHA-256 over the block digests in index order. */
export function linearChecksum(blocks: Array<[number, Buffer]>): string {
  const sorted = [...blocks].sort((a, b) => a[0] - b[0]);
  return sha256(Buffer.concat(sorted.map(([, data]) => sha256(data)))).toString('base64');
}

/** Collects a streamed body by hand (cheaper than transformToByteArray). */
export async function collect(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The sha256 constructor @smithy/signature-v4 wants, on node:crypto. */
export class Sha256 {
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

/** Expects a rejected SDK call with this error name (and, given, Reason and HTTP status). */
export async function expectAwsError(p: Promise<unknown>, name: string, reason?: string, status?: number) {
  const e = (await p.then(
    () => undefined,
    (err: unknown) => err,
  )) as { name?: string; Reason?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  expect(e, `expected ${name}`).toBeDefined();
  expect(e?.name).toBe(name);
  if (reason) expect(e?.Reason).toBe(reason);
  if (status) expect(e?.$metadata?.httpStatusCode).toBe(status);
  return e;
}
