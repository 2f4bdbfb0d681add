/**
 * The AWS side of the appliance's accounts and inventory: who a set of credentials is (STS GetCallerIdentity), a
 * role assumed with the appliance's ExternalId by the appliance's own identity (the SDK's default credential
 * chain), which IAM actions a principal may perform (IAM SimulatePrincipalPolicy), and the instances and volumes
 * of a region (EC2 DescribeInstances and DescribeVolumes, paginated). Clients are configured the standard way:
 * AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_<SERVICE>) points them at the sandbox, AWS_REGION names the default
 * region, and the appliance's identity comes from AWS_ACCESS_KEY_ID / profiles / instance roles.
 */
import {
  type DescribeInstancesCommandOutput,
  EC2Client,
  type Instance,
  paginateDescribeInstances,
  paginateDescribeVolumes,
  type Volume,
} from '@aws-sdk/client-ec2';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** Long-term access keys (or, from a role, temporary ones with a session token). */
export interface AwsKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

/** How the appliance reaches an account: a role it assumes with an ExternalId, or access keys. */
export type AccountAccess =
  | { kind: 'role'; roleArn: string; externalId: string }
  | { kind: 'keys'; keys: AwsKeys };

export interface CallerIdentity {
  account: string;
  arn: string;
  userId: string;
}

export type SimulationDecision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface VolumeView {
  volumeId: string;
  device: string | null;
  sizeGiB: number;
  type: string | null;
  encrypted: boolean;
  kmsKeyId: string | null;
  deleteOnTermination: boolean | null;
}

export interface InstanceView {
  instanceId: string;
  name: string | null;
  state: string;
  instanceType: string;
  availabilityZone: string | null;
  vpcId: string | null;
  subnetId: string | null;
  launchedAt: string | null;
  tags: Record<string, string>;
  volumes: VolumeView[];
}

/** An AWS refusal or failure, named as AWS named it (AccessDenied, UnauthorizedOperation, ...). */
export class AwsCallError extends Error {
  override name = 'AwsCallError';
  constructor(
    readonly awsCode: string,
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isAwsCallError(err: unknown): err is AwsCallError {
  return err instanceof AwsCallError;
}

export interface AwsAccountsOptions {
  /** STS's and IAM's region (default AWS_REGION, else us-east-1). */
  region?: string;
  /** Per-attempt timeout (default 30 s) and attempts (default 3, the SDK's standard retries). */
  requestTimeoutMs?: number;
  maxAttempts?: number;
  /** The name the appliance's sessions carry (default `lifeboat`), seen in the account's CloudTrail. */
  sessionName?: string;
}

/** Role credentials are assumed again this long before they expire. */
const RENEW_BEFORE_MS = 5 * 60_000;

type Provider = () => Promise<AwsKeys>;

export class AwsAccounts {
  private readonly region: string;
  private readonly roles = new Map<string, Promise<AwsKeys>>();

  constructor(private readonly options: AwsAccountsOptions = {}) {
    this.region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  }

  /**
   * What an SDK client of this account × region is built with: the account's credentials, the standard retries
   * (or `maxAttempts: 1` when the caller retries itself) and per-attempt timeouts.
   */
  clientConfig(access: AccountAccess, region: string, options: { maxAttempts?: number } = {}) {
    return {
      ...this.common(region),
      ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
      credentials: this.credentials(access),
    };
  }

  private common(region: string) {
    return {
      region,
      maxAttempts: this.options.maxAttempts ?? 3,
      retryMode: 'standard',
      requestHandler: new NodeHttpHandler({
        requestTimeout: this.options.requestTimeoutMs ?? 30_000,
        connectionTimeout: 10_000,
      }),
    };
  }

  /** The credentials of an account: its keys, or the role assumed (cached until shortly before it expires). */
  credentials(access: AccountAccess): Provider {
    if (access.kind === 'keys') {
      const keys = { ...access.keys };
      return async () => keys;
    }
    const key = `${access.roleArn}\n${access.externalId}`;
    return async () => {
      const cached = this.roles.get(key);
      if (cached) {
        const keys = await cached.catch(() => undefined);
        if (keys?.expiration && keys.expiration.getTime() - Date.now() > RENEW_BEFORE_MS) return keys;
      }
      const fresh = this.assume(access.roleArn, access.externalId);
      this.roles.set(key, fresh);
      fresh.catch(() => this.roles.delete(key));
      return fresh;
    };
  }

  /** AssumeRole by the appliance's own identity (the SDK's default credential chain). */
  private async assume(roleArn: string, externalId: string): Promise<AwsKeys> {
    const sts = new STSClient(this.common(this.region));
    try {
      const r = await sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          ExternalId: externalId,
          RoleSessionName: this.options.sessionName ?? 'lifeboat',
          DurationSeconds: 3600,
        }),
      );
      const c = r.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('STS AssumeRole returned no credentials');
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken && { sessionToken: c.SessionToken }),
        ...(c.Expiration && { expiration: new Date(c.Expiration) }),
      };
    } catch (err) {
      throw awsError(err, `assuming ${roleArn}`);
    } finally {
      sts.destroy();
    }
  }

  /** Forgets a role's cached session (after the account is removed or its role changed). */
  forget(access: AccountAccess): void {
    if (access.kind === 'role') this.roles.delete(`${access.roleArn}\n${access.externalId}`);
  }

  /** STS GetCallerIdentity with the account's credentials: proves they work and names the account. */
  async identity(access: AccountAccess): Promise<CallerIdentity> {
    const sts = new STSClient({ ...this.common(this.region), credentials: this.credentials(access) });
    try {
      const r = await sts.send(new GetCallerIdentityCommand({}));
      if (!r.Account || !r.Arn) throw new Error('STS GetCallerIdentity returned no account');
      return { account: r.Account, arn: r.Arn, userId: r.UserId ?? '' };
    } catch (err) {
      throw awsError(err, 'STS GetCallerIdentity');
    } finally {
      sts.destroy();
    }
  }

  /** The appliance's own identity (the SDK's default credential chain): who assumes the accounts' roles. */
  async ownIdentity(): Promise<CallerIdentity> {
    const sts = new STSClient(this.common(this.region));
    try {
      const r = await sts.send(new GetCallerIdentityCommand({}));
      if (!r.Account || !r.Arn) throw new Error('STS GetCallerIdentity returned no account');
      return { account: r.Account, arn: r.Arn, userId: r.UserId ?? '' };
    } catch (err) {
      throw awsError(err, "the appliance's own identity (STS GetCallerIdentity)");
    } finally {
      sts.destroy();
    }
  }

  /**
   * IAM SimulatePrincipalPolicy, called with the account's own credentials (a principal's policies are simulated
   * within its account): the decision for each action.
   */
  async simulate(
    access: AccountAccess,
    principalArn: string,
    actions: readonly string[],
  ): Promise<Map<string, SimulationDecision>> {
    const iam = new IAMClient({ ...this.common('us-east-1'), credentials: this.credentials(access) });
    const out = new Map<string, SimulationDecision>();
    try {
      // At most 128 action names per call (IAM's limit); paged by Marker.
      for (let i = 0; i < actions.length; i += 100) {
        let marker: string | undefined;
        do {
          const r = await iam.send(
            new SimulatePrincipalPolicyCommand({
              PolicySourceArn: principalArn,
              ActionNames: actions.slice(i, i + 100),
              ...(marker && { Marker: marker }),
            }),
          );
          for (const e of r.EvaluationResults ?? []) {
            if (!e.EvalActionName) continue;
            const decision = e.EvalDecision as SimulationDecision;
            // Several resources per action: denied if any is denied.
            if (out.get(e.EvalActionName) !== 'allowed' && out.has(e.EvalActionName)) continue;
            out.set(e.EvalActionName, decision);
          }
          marker = r.IsTruncated ? r.Marker : undefined;
        } while (marker);
      }
      return out;
    } catch (err) {
      throw awsError(err, 'IAM SimulatePrincipalPolicy');
    } finally {
      iam.destroy();
    }
  }

  /**
   * The instances of a region with their volumes (terminated ones left out: they are gone). `maxAttempts: 1` when
   * the caller retries (the job engine's withRetries): the SDK's own retries would hide throttling from it.
   */
  async instances(
    access: AccountAccess,
    region: string,
    options: { maxAttempts?: number } = {},
  ): Promise<InstanceView[]> {
    const ec2 = new EC2Client({
      ...this.common(region),
      ...(options.maxAttempts !== undefined && { maxAttempts: options.maxAttempts }),
      credentials: this.credentials(access),
    });
    try {
      const found: Instance[] = [];
      const pages = paginateDescribeInstances({ client: ec2, pageSize: 500 }, {});
      for await (const page of pages as AsyncIterable<DescribeInstancesCommandOutput>) {
        for (const r of page.Reservations ?? []) found.push(...(r.Instances ?? []));
      }
      const volumes = new Map<string, Volume>();
      if (found.length > 0) {
        for await (const page of paginateDescribeVolumes({ client: ec2, pageSize: 500 }, {})) {
          for (const v of page.Volumes ?? []) if (v.VolumeId) volumes.set(v.VolumeId, v);
        }
      }
      return found
        .filter((i) => i.InstanceId && i.State?.Name !== 'terminated')
        .map((i) => instanceView(i, volumes));
    } catch (err) {
      throw awsError(err, `EC2 in ${region}`);
    } finally {
      ec2.destroy();
    }
  }
}

export function instanceView(i: Instance, volumes: Map<string, Volume>): InstanceView {
  const tags: Record<string, string> = {};
  for (const t of i.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? '';
  const attached: VolumeView[] = [];
  const listed = new Set<string>();
  for (const m of i.BlockDeviceMappings ?? []) {
    const id = m.Ebs?.VolumeId;
    if (!id) continue;
    listed.add(id);
    attached.push(volumeView(id, m.DeviceName ?? null, m.Ebs?.DeleteOnTermination ?? null, volumes.get(id)));
  }
  // Volumes attached to it that the instance's own mappings did not list (seen in DescribeVolumes only).
  for (const v of volumes.values()) {
    const a = v.Attachments?.find((x) => x.InstanceId === i.InstanceId);
    if (a && v.VolumeId && !listed.has(v.VolumeId)) {
      attached.push(volumeView(v.VolumeId, a.Device ?? null, a.DeleteOnTermination ?? null, v));
    }
  }
  return {
    instanceId: i.InstanceId!,
    name: tags.Name ?? null,
    state: i.State?.Name ?? 'unknown',
    instanceType: i.InstanceType ?? 'unknown',
    availabilityZone: i.Placement?.AvailabilityZone ?? null,
    vpcId: i.VpcId ?? null,
    subnetId: i.SubnetId ?? null,
    launchedAt: i.LaunchTime ? new Date(i.LaunchTime).toISOString() : null,
    tags,
    volumes: attached,
  };
}

function volumeView(
  volumeId: string,
  device: string | null,
  deleteOnTermination: boolean | null,
  v: Volume | undefined,
): VolumeView {
  return {
    volumeId,
    device,
    sizeGiB: v?.Size ?? 0,
    type: v?.VolumeType ?? null,
    encrypted: v?.Encrypted ?? false,
    kmsKeyId: v?.KmsKeyId ?? null,
    deleteOnTermination,
  };
}

/** An SDK error as AwsCallError: AWS's code and message, never the credentials. */
export function awsError(err: unknown, what: string): AwsCallError {
  if (err instanceof AwsCallError) return err;
  const e = err as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    code?: string;
  };
  const code = e?.name && e.name !== 'Error' ? e.name : (e?.code ?? 'Error');
  const message = (e?.message ?? String(err)).split('\n')[0]!.slice(0, 500);
  return new AwsCallError(code, `${what}: ${code}: ${message}`, e?.$metadata?.httpStatusCode, { cause: err });
}
