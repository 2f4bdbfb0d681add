import { randomBytes, randomUUID } from 'node:crypto';
import type { AccountAccess, AwsAccounts, AwsCallError, AwsKeys, CallerIdentity } from '@lifeboat/aws';
import type { AccountCheckResult, AccountRecord, CatalogStores, RegionStatusRecord } from '@lifeboat/catalog';
import { isCatalogError } from '@lifeboat/catalog';
import type { Actor, AuditLog } from '../audit.js';
import type { Clock } from '../clock.js';
import { ApplianceError } from '../errors.js';
import type { SecretBox } from '../secret.js';
import { FEATURE_ACTIONS, FEATURES, type Feature } from './features.js';

/** The SecretBox purpose of stored AWS credentials: a restored appliance (recovery phrase) opens them too. */
export const CREDENTIALS_PURPOSE = 'account-credentials';

/** What the appliance asks of AWS for its accounts (AwsAccounts; a fake in unit tests). */
export type AccountsAws = Pick<AwsAccounts, 'identity' | 'ownIdentity' | 'simulate' | 'instances' | 'forget'>;

export const ACCOUNT_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const EXTERNAL_ID = /^lifeboat-[A-Za-z0-9_-]{24,64}$/;
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

/** A region's last refresh, as accounts and instance lists show it. */
export type RegionStatus = Omit<RegionStatusRecord, 'accountId'>;

/** An account as the API shows it: never its credentials. */
export interface Account {
  id: string;
  name: string;
  kind: 'role' | 'keys';
  awsAccountId: string;
  principalArn: string;
  roleArn: string | null;
  externalId: string | null;
  /** Access keys: the last four characters of the key id. */
  accessKeyHint: string | null;
  regions: string[];
  lastCheck: AccountCheckResult | null;
  checkedAt: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
  inventory: RegionStatus[];
}

export interface NewAccountInput {
  name: string;
  regions?: string[];
  /** A role to assume, with the ExternalId from POST /accounts/external-id (else a new one is made). */
  roleArn?: string;
  externalId?: string;
  accessKeys?: { accessKeyId: string; secretAccessKey: string };
}

export interface ExternalIdOffer {
  externalId: string;
  /** Who will assume the role: the appliance's own identity, when it has one. */
  applianceArn: string | null;
  /** The trust policy to give the role (the appliance's ARN, or a placeholder, as its principal). */
  trustPolicy: Record<string, unknown>;
}

export class AccountService {
  constructor(
    private readonly catalog: CatalogStores,
    private readonly audit: AuditLog,
    private readonly secrets: SecretBox,
    private readonly aws: AccountsAws,
    private readonly clock: Clock,
    /** Regions when none are given: the appliance's own AWS region. */
    private readonly defaultRegion: string,
    /** Called after an account is added (the inventory's first refresh of it). */
    private readonly onAdded: (account: AccountRecord) => void = () => {},
  ) {}

  /** A new ExternalId and the trust policy that requires it, to set on the role before `account add`. */
  async offerExternalId(): Promise<ExternalIdOffer> {
    const externalId = newExternalId();
    const own = await this.aws.ownIdentity().catch(() => undefined);
    return { externalId, applianceArn: own?.arn ?? null, trustPolicy: trustPolicy(own, externalId) };
  }

  async list(limit: number, after?: string): Promise<Account[]> {
    const records = await this.catalog.accounts.list({ limit, after });
    const status = await this.catalog.inventory.regionStatus();
    return records.map((r) => view(r, status));
  }

  async get(name: string): Promise<Account> {
    const r = await this.find(this.catalog, name);
    return view(r, await this.catalog.inventory.regionStatus(r.id));
  }

  async create(actor: Actor, input: NewAccountInput): Promise<Account> {
    if (!ACCOUNT_NAME.test(input.name)) {
      throw new ApplianceError(
        'VALIDATION_FAILED',
        `account name ${input.name}: a-z 0-9 . _ - (up to 64, starting with a letter or digit)`,
      );
    }
    const regions = checkRegions(input.regions ?? [this.defaultRegion]);
    if ((input.roleArn === undefined) === (input.accessKeys === undefined)) {
      throw new ApplianceError(
        'VALIDATION_FAILED',
        'give either roleArn (a role the appliance assumes) or accessKeys, not both',
      );
    }
    if (await this.catalog.accounts.get(input.name)) {
      throw new ApplianceError('CONFLICT', `account ${input.name} exists already: choose another name`);
    }
    let access: AccountAccess;
    let sealed: string | null = null;
    let hint: string | null = null;
    if (input.roleArn !== undefined) {
      if (!ROLE_ARN.test(input.roleArn))
        throw new ApplianceError('VALIDATION_FAILED', `${input.roleArn} is not an IAM role ARN`);
      if (input.externalId !== undefined && !EXTERNAL_ID.test(input.externalId)) {
        throw new ApplianceError(
          'VALIDATION_FAILED',
          'externalId: pass one the appliance generated (POST /accounts/external-id), or none to get a new one',
        );
      }
      access = { kind: 'role', roleArn: input.roleArn, externalId: input.externalId ?? newExternalId() };
    } else {
      const k = input.accessKeys!;
      if (!ACCESS_KEY_ID.test(k.accessKeyId) || k.secretAccessKey.length < 16) {
        throw new ApplianceError('VALIDATION_FAILED', 'accessKeys: not an AWS access key id and secret');
      }
      const keys: AwsKeys = { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
      access = { kind: 'keys', keys };
      sealed = this.secrets.seal(CREDENTIALS_PURPOSE, JSON.stringify(keys));
      hint = k.accessKeyId.slice(-4);
    }
    const identity = await this.verify(input.name, access);
    const record = await this.audit.change(actor, async (tx, note) => {
      const a = await tx.accounts
        .insert(
          {
            id: randomUUID(),
            name: input.name,
            kind: access.kind,
            awsAccountId: identity.account,
            principalArn: access.kind === 'role' ? access.roleArn : principalOf(identity.arn),
            roleArn: access.kind === 'role' ? access.roleArn : null,
            externalId: access.kind === 'role' ? access.externalId : null,
            sealedCredentials: sealed,
            accessKeyHint: hint,
            regions,
          },
          this.now(),
        )
        .catch(rethrow(`account ${input.name}`));
      await note({
        action: 'account.create',
        target: `account/${a.name}`,
        details: {
          kind: a.kind,
          awsAccountId: a.awsAccountId,
          principalArn: a.principalArn,
          regions,
          ...(a.kind === 'keys' && { accessKeyHint: hint }),
        },
      });
      return a;
    });
    this.onAdded(record);
    return view(record, []);
  }

  async remove(actor: Actor, name: string, expectedVersion?: number): Promise<void> {
    const removed = await this.audit.change(actor, async (tx, note) => {
      const a = await this.find(tx, name);
      await tx.accounts.remove(a.id, expectedVersion).catch(rethrow(`account ${name}`));
      await note({
        action: 'account.remove',
        target: `account/${name}`,
        details: { kind: a.kind, awsAccountId: a.awsAccountId },
      });
      return a;
    });
    try {
      this.aws.forget(this.access(removed));
    } catch {}
  }

  /**
   * Which actions of each feature the account's principal lacks, by IAM SimulatePrincipalPolicy with the
   * account's own credentials; stored as the account's last check.
   */
  async check(actor: Actor, name: string): Promise<Account & { lastCheck: AccountCheckResult }> {
    const a = await this.find(this.catalog, name);
    const actions = [...new Set(FEATURES.flatMap((f) => FEATURE_ACTIONS[f]))];
    let decisions: Map<string, string>;
    try {
      decisions = await this.aws.simulate(this.access(a), a.principalArn, actions);
    } catch (err) {
      throw awsRefusal(err, `checking account ${name}`);
    }
    const result: AccountCheckResult = {
      features: FEATURES.map((feature: Feature) => {
        const missing = FEATURE_ACTIONS[feature].filter((x) => decisions.get(x) !== 'allowed');
        return { feature, ok: missing.length === 0, missing: [...missing] };
      }),
    };
    const at = this.now();
    const updated = await this.audit.change(actor, async (tx, note) => {
      const u = await tx.accounts
        .update(a.id, undefined, { lastCheck: result, checkedAt: at }, at)
        .catch(rethrow(`account ${name}`));
      await note({
        action: 'account.check',
        target: `account/${name}`,
        details: {
          missing: Object.fromEntries(
            result.features.filter((f) => !f.ok).map((f) => [f.feature, f.missing]),
          ),
        },
      });
      return u;
    });
    const v = view(updated, await this.catalog.inventory.regionStatus(a.id));
    return { ...v, lastCheck: result };
  }

  /** The credentials of a stored account: its role, or its access keys unsealed. */
  access(a: AccountRecord): AccountAccess {
    if (a.kind === 'role') return { kind: 'role', roleArn: a.roleArn!, externalId: a.externalId! };
    const keys = JSON.parse(this.secrets.open(CREDENTIALS_PURPOSE, a.sealedCredentials!).toString('utf8'));
    return { kind: 'keys', keys: keys as AwsKeys };
  }

  /** STS GetCallerIdentity through the new credentials (AssumeRole first for a role): they must work. */
  private async verify(name: string, access: AccountAccess): Promise<CallerIdentity> {
    try {
      return await this.aws.identity(access);
    } catch (err) {
      this.aws.forget(access);
      const hint =
        access.kind === 'role'
          ? ` (does the role's trust policy allow the appliance's identity, with sts:ExternalId ${access.externalId}?)`
          : ' (are the access keys active?)';
      throw awsRefusal(err, `account ${name}: AWS refused the credentials${hint}`);
    }
  }

  private async find(stores: CatalogStores, name: string): Promise<AccountRecord> {
    const a = await stores.accounts.get(name);
    if (!a) throw new ApplianceError('NOT_FOUND', `no account named ${name}`);
    return a;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

/** `lifeboat-` and 32 random base64url characters (192 bits): unique per registration, shown to the operator. */
export function newExternalId(): string {
  return `lifeboat-${randomBytes(24).toString('base64url')}`;
}

function trustPolicy(own: CallerIdentity | undefined, externalId: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: own ? principalOf(own.arn) : 'arn:aws:iam::APPLIANCE-ACCOUNT-ID:root' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': externalId } },
      },
    ],
  };
}

/** An assumed-role session's ARN names its role for IAM: arn:aws:sts::A:assumed-role/R/S → arn:aws:iam::A:role/R. */
export function principalOf(arn: string): string {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

function checkRegions(regions: string[]): string[] {
  const unique = [...new Set(regions)];
  if (unique.length === 0)
    throw new ApplianceError('VALIDATION_FAILED', 'an account scans at least one region');
  for (const r of unique) {
    if (!REGION.test(r)) throw new ApplianceError('VALIDATION_FAILED', `${r} is not an AWS region name`);
  }
  return unique.sort();
}

function view(r: AccountRecord, status: RegionStatusRecord[]): Account {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    awsAccountId: r.awsAccountId,
    principalArn: r.principalArn,
    roleArn: r.roleArn,
    externalId: r.externalId,
    accessKeyHint: r.accessKeyHint,
    regions: r.regions,
    lastCheck: r.lastCheck,
    checkedAt: r.checkedAt,
    version: r.version,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    inventory: status.filter((s) => s.accountId === r.id).map(({ accountId: _, ...s }) => s),
  };
}

/** AWS's refusal as a 400 with AWS's words; anything else passes through. */
function awsRefusal(err: unknown, what: string): unknown {
  // By name: @lifeboat/aws is loaded only when the appliance opens (types only here).
  if ((err as AwsCallError | undefined)?.name === 'AwsCallError')
    return new ApplianceError('VALIDATION_FAILED', `${what}: ${(err as AwsCallError).message}`, {
      cause: err,
    });
  return err;
}

function rethrow(what: string): (err: unknown) => never {
  return (err) => {
    if (isCatalogError(err)) {
      if (err.code === 'NOT_FOUND') throw new ApplianceError('NOT_FOUND', `${what} does not exist`);
      if (err.code === 'CONFLICT') throw new ApplianceError('CONFLICT', `${what} exists already`);
      if (err.code === 'VERSION_MISMATCH') {
        throw new ApplianceError('PRECONDITION_FAILED', `${what} changed since you read it: read it again`);
      }
    }
    throw err;
  };
}
