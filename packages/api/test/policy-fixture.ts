/**
 * A sandbox with the demo environment and a `lifeboat server --test-mode` on it, with the demo's production
 * and backup accounts registered (access keys on standard input of the API, as an operator would), the
 * inventory read, and KMS keys for replicas: `alias/backup` in backup × eu-west-1, and `alias/share` in
 * production × us-east-1 that the backup account may use (for snapshots under aws/ebs, which cannot be shared).
 */
import {
  CreateSnapshotCommand,
  CreateTagsCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  type Snapshot,
} from '@aws-sdk/client-ec2';
import { CreateAliasCommand, CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { type RunningSandbox, startSandbox } from '@lifeboat/sandbox';
import { expect } from 'vitest';
import { ADMIN_PASSWORD, Api, ApplianceProcess, tempDir } from './appliance-process.js';

export interface SessionBody {
  id: string;
  kind: string;
  name: string;
  state: string;
  createdBy: string | null;
  counts: Record<string, number>;
  tasks: Array<{
    id: string;
    kind: string;
    resource: string | null;
    account: string;
    region: string;
    state: string;
    attempts: number;
    error: { code: string; message: string } | null;
    result: Record<string, unknown> | null;
  }>;
}

export interface PointBody {
  id: string;
  createdAt: string;
  state: string;
  policy: string | null;
  orphaned: boolean;
  instanceId: string;
  region: string;
  account: string | null;
  volumes: Array<{ snapshotId: string; device: string; sizeGiB: number; state: string; sealed: boolean }>;
  replicas: Array<{
    snapshotId: string;
    device: string;
    account: string;
    region: string;
    kmsKeyId: string | null;
    state: string;
    target: string | null;
    sourceSnapshotId: string | null;
  }>;
  holds: Array<{ kind: string; reason: string }>;
  hasConfiguration: boolean;
}

export class PolicyWorld {
  sandbox!: RunningSandbox;
  appliance!: ApplianceProcess;
  api!: Api;
  token = '';
  data = '';
  backupKeyArn = '';
  shareKeyArn = '';
  /** The sandbox belongs to another world: stop() leaves it running. */
  shared = false;

  /**
   * A sandbox (a new one with the demo, or `sandbox` shared with another world), an appliance on `data` (a new
   * folder by default; `beforeStart` may prepare it, e.g. `server init`), its accounts and inventory.
   */
  static async start(
    options: {
      data?: string;
      args?: string[];
      sandbox?: PolicyWorld;
      beforeStart?: (data: string) => Promise<void>;
    } = {},
  ): Promise<PolicyWorld> {
    const w = new PolicyWorld();
    if (options.sandbox) {
      w.sandbox = options.sandbox.sandbox;
      w.shared = true;
      w.backupKeyArn = options.sandbox.backupKeyArn;
      w.shareKeyArn = options.sandbox.shareKeyArn;
    } else {
      w.sandbox = await startSandbox({ fast: true, seed: 'demo' });
      await w.makeKeys();
    }
    w.data = options.data ?? `${tempDir('policies')}/data`;
    await options.beforeStart?.(w.data);
    await w.startAppliance(options.args);
    for (const [name, i] of [
      ['production', 0],
      ['backup', 1],
    ] as const) {
      const r = await w.call('POST', '/accounts', {
        name,
        accessKeys: w.keysOf(i),
        regions: ['us-east-1', 'eu-west-1'],
      });
      expect(r.status, r.text).toBe(201);
    }
    const refresh = await w.call<{ state: string }>('POST', '/inventory/refresh', { wait: true });
    expect(refresh.body.state, refresh.text).toBe('succeeded');
    return w;
  }

  async startAppliance(args: string[] = []): Promise<void> {
    this.appliance = await ApplianceProcess.start({
      data: this.data,
      env: {
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL: this.sandbox.endpoint,
        AWS_ACCESS_KEY_ID: this.keysOf(1).accessKeyId,
        AWS_SECRET_ACCESS_KEY: this.keysOf(1).secretAccessKey,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        LIFEBOAT_SANDBOX_ADMIN: `${this.sandbox.endpoint}/_sandbox`,
        LIFEBOAT_SANDBOX_TOKEN: this.sandbox.adminToken,
      },
      args: ['--inventory-interval', '0', '--test-mode', ...args],
    });
    this.api = new Api(this.appliance.api);
    this.token = await this.api.login('admin', ADMIN_PASSWORD);
  }

  keysOf(i: number) {
    const a = this.sandbox.accounts[i]!;
    return { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey };
  }

  accountId(i: number): string {
    return this.sandbox.accounts[i]!.accountId;
  }

  ec2(i: number, region: string): EC2Client {
    return new EC2Client({
      endpoint: this.sandbox.endpoint,
      region,
      credentials: this.keysOf(i),
      maxAttempts: 1,
    });
  }

  /** An API call as the administrator; signed in again when a move of the test clock ended the login. */
  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ) {
    const send = () =>
      this.api.call<T>(method, path, {
        token: this.token,
        ...(body !== undefined && { body }),
        ...(headers && { headers }),
      });
    const r = await send();
    if (r.status !== 401) return r;
    this.token = await this.api.login('admin', ADMIN_PASSWORD);
    return send();
  }

  /** POST /policies/{name}/run?wait=true: the ended session. */
  async run(name: string): Promise<SessionBody> {
    const r = await this.call<SessionBody>('POST', `/policies/${name}/run?wait=true`);
    expect([200, 202], r.text).toContain(r.status);
    return this.ended(r.body.id);
  }

  async ended(id: string, ms = 60_000): Promise<SessionBody> {
    for (const stop = Date.now() + ms; Date.now() < stop; ) {
      const s = (await this.call<SessionBody>('GET', `/sessions/${id}`)).body;
      if (['succeeded', 'warning', 'failed', 'cancelled'].includes(s.state)) return s;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`session ${id} did not end in ${ms} ms`);
  }

  async timeline(query = ''): Promise<PointBody[]> {
    const r = await this.call<{ items: PointBody[] }>('GET', `/restore-points?limit=500${query}`);
    expect(r.status, r.text).toBe(200);
    return r.body.items;
  }

  async advance(seconds: number): Promise<void> {
    const r = await this.call('POST', '/test/clock', { advanceSeconds: seconds });
    expect(r.status, r.text).toBe(200);
  }

  /** Every snapshot an account owns in a region. */
  async snapshots(i: number, region: string): Promise<Snapshot[]> {
    const c = this.ec2(i, region);
    try {
      return (await c.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? [];
    } finally {
      c.destroy();
    }
  }

  /** A snapshot of a volume made behind Lifeboat's back, with these tags. */
  async foreignSnapshot(
    i: number,
    region: string,
    volumeId: string,
    tags: Record<string, string>,
  ): Promise<string> {
    const c = this.ec2(i, region);
    try {
      const s = await c.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
      if (Object.keys(tags).length > 0) {
        await c.send(
          new CreateTagsCommand({
            Resources: [s.SnapshotId!],
            Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
          }),
        );
      }
      return s.SnapshotId!;
    } finally {
      c.destroy();
    }
  }

  private async makeKeys(): Promise<void> {
    const backup = new KMSClient({
      endpoint: this.sandbox.endpoint,
      region: 'eu-west-1',
      credentials: this.keysOf(1),
    });
    const b = await backup.send(new CreateKeyCommand({ Description: 'replicas' }));
    await backup.send(
      new CreateAliasCommand({ AliasName: 'alias/backup', TargetKeyId: b.KeyMetadata!.KeyId! }),
    );
    this.backupKeyArn = b.KeyMetadata!.Arn!;
    backup.destroy();
    const prod = new KMSClient({
      endpoint: this.sandbox.endpoint,
      region: 'us-east-1',
      credentials: this.keysOf(0),
    });
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${this.accountId(0)}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${this.accountId(1)}:root` },
          Action: [
            'kms:Decrypt',
            'kms:DescribeKey',
            'kms:CreateGrant',
            'kms:ReEncrypt*',
            'kms:GenerateDataKey*',
          ],
          Resource: '*',
        },
      ],
    };
    const s = await prod.send(
      new CreateKeyCommand({ Description: 'shareable', Policy: JSON.stringify(policy) }),
    );
    await prod.send(new CreateAliasCommand({ AliasName: 'alias/share', TargetKeyId: s.KeyMetadata!.KeyId! }));
    this.shareKeyArn = s.KeyMetadata!.Arn!;
    prod.destroy();
  }

  async stop(): Promise<void> {
    await this.appliance?.stop();
    if (!this.shared) await this.sandbox?.close();
  }
}
