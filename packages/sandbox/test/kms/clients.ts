import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { STSClient } from '@aws-sdk/client-sts';
import { expect } from 'vitest';
import { type RunningSandbox, startSandbox } from '../../src/sandbox.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** Credentials as the SDK takes them: an account's root key pair, an IAM user's key, or STS credentials. */
export interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * SDK v3 clients for any credentials against one sandbox, destroyed together. No retries: tests see each answer.
 */
export class Clients {
  private readonly made: Array<{ destroy(): void }> = [];

  constructor(readonly sb: RunningSandbox) {}

  static async start(): Promise<Clients> {
    return new Clients(await startSandbox({ fast: true }));
  }

  root(account = 0): Creds {
    const a = this.sb.accounts[account]!;
    return { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey };
  }

  private config(creds: Creds, region: string) {
    return { endpoint: this.sb.endpoint, region, credentials: creds, maxAttempts: 1 };
  }

  private keep<T extends { destroy(): void }>(c: T): T {
    this.made.push(c);
    return c;
  }

  kms(creds: Creds = this.root(), region = 'us-east-1') {
    return this.keep(new KMSClient(this.config(creds, region)));
  }

  sts(creds: Creds = this.root(), region = 'us-east-1') {
    return this.keep(new STSClient(this.config(creds, region)));
  }

  iam(creds: Creds = this.root()) {
    return this.keep(new IAMClient(this.config(creds, 'us-east-1')));
  }

  ec2(creds: Creds = this.root(), region = 'us-east-1') {
    return this.keep(new EC2Client(this.config(creds, region)));
  }

  ebs(creds: Creds = this.root(), region = 'us-east-1') {
    return this.keep(new EBSClient(this.config(creds, region)));
  }

  async close(): Promise<void> {
    for (const c of this.made) c.destroy();
    await this.sb.close();
  }
}

/** Asserts a call failed with AWS's error code and HTTP status; returns the error for more checks. */
export async function expectError(p: Promise<unknown>, code: string, status?: number): Promise<Error> {
  try {
    await p;
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    expect(err.name, err.message).toBe(code);
    if (status !== undefined) expect(err.$metadata?.httpStatusCode).toBe(status);
    return err;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

export const trustAccount = (accountId: string, condition?: object) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${accountId}:root` },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        ...(condition ? { Condition: condition } : {}),
      },
    ],
  });

export const allow = (actions: string[], effect: 'Allow' | 'Deny' = 'Allow') =>
  JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: effect, Action: actions, Resource: '*' }] });

/** A new customer managed key (and alias, if named) of one of the sandbox's accounts; its ARN. */
export async function createKmsKey(
  sb: RunningSandbox,
  account = 0,
  region = 'us-east-1',
  alias?: string,
): Promise<string> {
  const a = sb.accounts[account]!;
  const kms = new KMSClient({
    endpoint: sb.endpoint,
    region,
    credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    const k = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!;
    if (alias) await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: k.KeyId }));
    return k.Arn!;
  } finally {
    kms.destroy();
  }
}
