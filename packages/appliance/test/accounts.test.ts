/**
 * Accounts and inventory (issue 16) over a fake AWS: credentials verified before anything is stored, access keys
 * sealed under `account-credentials` and readable by a second appliance holding the same secret, one failing
 * region isolated from the others and its error kept, vanished instances kept as gone, and docs/iam/*.json
 * generated from the feature lists (LIFEBOAT_WRITE_IAM_DOCS=1 rewrites them).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AccountAccess, InstanceView } from '@lifeboat/aws';
import { afterAll, describe, expect, it } from 'vitest';
import { FEATURE_ACTIONS, FEATURES, featurePolicy } from '../src/accounts/features.js';
import { type AccountsAws, CREDENTIALS_PURPOSE, principalOf } from '../src/accounts/service.js';
import { Appliance } from '../src/appliance.js';
import { SYSTEM } from '../src/audit.js';
import { isApplianceError } from '../src/errors.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-accounts-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const DOCS = join(import.meta.dirname, '../../../docs/iam');
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

function vm(id: string, extra: Partial<InstanceView> = {}): InstanceView {
  return {
    instanceId: id,
    name: id,
    state: 'running',
    instanceType: 't3.micro',
    availabilityZone: 'us-east-1a',
    vpcId: 'vpc-1',
    subnetId: 'subnet-1',
    launchedAt: '2026-01-01T00:00:00.000Z',
    tags: { Name: id, Env: 'prod' },
    volumes: [
      {
        volumeId: `vol-${id}`,
        device: '/dev/xvda',
        sizeGiB: 8,
        type: 'gp3',
        encrypted: true,
        kmsKeyId: 'k',
        deleteOnTermination: true,
      },
    ],
    ...extra,
  };
}

/** A fake AWS: who the credentials are, what the principal may do, what each region holds. */
class FakeAws implements AccountsAws {
  refuse = false;
  denied = new Set<string>();
  regions: Record<string, InstanceView[] | Error> = {};
  seen: AccountAccess[] = [];
  async identity(access: AccountAccess) {
    this.seen.push(access);
    if (this.refuse) throw Object.assign(new Error('assuming x: AccessDenied: no'), { name: 'AwsCallError' });
    return access.kind === 'role'
      ? { account: '111111111111', arn: 'arn:aws:sts::111111111111:assumed-role/lifeboat/s', userId: 'x' }
      : { account: '333333333333', arn: 'arn:aws:iam::333333333333:user/reader', userId: 'y' };
  }
  async ownIdentity() {
    return { account: '222222222222', arn: 'arn:aws:iam::222222222222:user/appliance', userId: 'z' };
  }
  async simulate(_a: AccountAccess, _arn: string, actions: readonly string[]) {
    return new Map(actions.map((x) => [x, this.denied.has(x) ? 'implicitDeny' : 'allowed'] as const));
  }
  async instances(_a: AccountAccess, region: string) {
    const r = this.regions[region] ?? [];
    if (r instanceof Error) throw r;
    return r;
  }
  forget() {}
}

async function open(name: string, aws: FakeAws, dataDir = join(work, name)): Promise<Appliance> {
  return Appliance.open({ dataDir, aws, inventoryIntervalMs: 0 });
}

describe('IAM policies of the features', () => {
  it('docs/iam/<feature>.json is the policy made from the feature lists', () => {
    for (const f of FEATURES) {
      const file = join(DOCS, `${f}.json`);
      const policy = `${JSON.stringify(featurePolicy(f), null, 2)}\n`;
      if (process.env.LIFEBOAT_WRITE_IAM_DOCS === '1') writeFileSync(file, policy);
      expect(readFileSync(file, 'utf8'), `${file}: run with LIFEBOAT_WRITE_IAM_DOCS=1`).toBe(policy);
      expect(FEATURE_ACTIONS[f].length).toBeGreaterThan(0);
    }
  });

  it('names a role for IAM from its assumed-role session ARN', () => {
    expect(principalOf('arn:aws:sts::111111111111:assumed-role/lifeboat/s1')).toBe(
      'arn:aws:iam::111111111111:role/lifeboat',
    );
    expect(principalOf('arn:aws:iam::1:user/x')).toBe('arn:aws:iam::1:user/x');
  });
});

describe('accounts', () => {
  it('registers a role with a generated ExternalId, or one offered before; refuses credentials AWS refuses', async () => {
    const aws = new FakeAws();
    const a = await open('role', aws);
    try {
      const offer = await a.accounts.offerExternalId();
      expect(offer.externalId).toMatch(/^lifeboat-[\w-]{32}$/);
      expect(JSON.stringify(offer.trustPolicy)).toContain(offer.externalId);
      expect(offer.applianceArn).toBe('arn:aws:iam::222222222222:user/appliance');
      const prod = await a.accounts.create(SYSTEM, {
        name: 'prod',
        roleArn: 'arn:aws:iam::111111111111:role/lifeboat',
        externalId: offer.externalId,
        regions: ['us-east-1', 'eu-west-1'],
      });
      expect(prod).toMatchObject({
        kind: 'role',
        awsAccountId: '111111111111',
        principalArn: 'arn:aws:iam::111111111111:role/lifeboat',
        externalId: offer.externalId,
        regions: ['eu-west-1', 'us-east-1'],
      });
      const other = await a.accounts.create(SYSTEM, {
        name: 'other',
        roleArn: 'arn:aws:iam::111111111111:role/lifeboat',
      });
      expect(other.externalId).toMatch(/^lifeboat-/);
      expect(other.externalId).not.toBe(offer.externalId);
      expect(other.regions).toEqual([process.env.AWS_REGION ?? 'us-east-1']);
      aws.refuse = true;
      const err = await a.accounts
        .create(SYSTEM, { name: 'bad', roleArn: 'arn:aws:iam::111111111111:role/x' })
        .catch((e: unknown) => e);
      expect(isApplianceError(err) && err.code).toBe('VALIDATION_FAILED');
      expect(String((err as Error).message)).toMatch(/AWS refused.*AccessDenied/);
      expect(await a.catalog.accounts.get('bad')).toBeUndefined();
      await expect(
        a.accounts.create(SYSTEM, { name: 'prod', roleArn: 'arn:aws:iam::111111111111:role/lifeboat' }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(
        a.accounts.create(SYSTEM, { name: 'x', roleArn: 'arn:aws:iam::1:role/r', externalId: 'mine' }),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    } finally {
      await a.close();
    }
  });

  it('seals access keys under account-credentials; a second appliance with the same secret opens them', async () => {
    const aws = new FakeAws();
    const dir = join(work, 'keys');
    const a = await open('keys', aws, dir);
    try {
      const acct = await a.accounts.create(SYSTEM, {
        name: 'dr',
        accessKeys: { accessKeyId: 'AKIAEXAMPLE333333333', secretAccessKey: SECRET },
      });
      expect(acct).toMatchObject({
        kind: 'keys',
        accessKeyHint: '3333',
        principalArn: 'arn:aws:iam::333333333333:user/reader',
      });
      expect(JSON.stringify(acct)).not.toContain(SECRET);
      const stored = (await a.catalog.accounts.get('dr'))!;
      expect(stored.sealedCredentials).toMatch(/^lb\d:/);
      expect(stored.sealedCredentials).not.toContain(SECRET);
      expect(
        JSON.parse(a.secrets.open(CREDENTIALS_PURPOSE, stored.sealedCredentials!).toString()).secretAccessKey,
      ).toBe(SECRET);
      const audit = JSON.stringify(await a.audit.list({ limit: 50 }));
      expect(audit).toContain('account.create');
      expect(audit).not.toContain(SECRET);
    } finally {
      await a.close();
    }
    // The same secret (what a restore from the recovery phrase brings back) opens the stored keys elsewhere.
    const copy = join(work, 'keys-copy');
    cpSync(dir, copy, { recursive: true, filter: (src) => !src.endsWith('appliance.lock') });
    const b = await open('keys-copy', aws, copy);
    try {
      const access = b.accounts.access((await b.catalog.accounts.get('dr'))!);
      expect(access).toEqual({
        kind: 'keys',
        keys: { accessKeyId: 'AKIAEXAMPLE333333333', secretAccessKey: SECRET },
      });
    } finally {
      await b.close();
    }
  });

  it('check names the missing actions per feature and keeps the result', async () => {
    const aws = new FakeAws();
    const a = await open('check', aws);
    try {
      await a.accounts.create(SYSTEM, { name: 'prod', roleArn: 'arn:aws:iam::111111111111:role/lifeboat' });
      let r = await a.accounts.check(SYSTEM, 'prod');
      expect(r.lastCheck.features.every((f) => f.ok)).toBe(true);
      aws.denied.add('ec2:CreateSnapshots');
      r = await a.accounts.check(SYSTEM, 'prod');
      const missing = Object.fromEntries(r.lastCheck.features.map((f) => [f.feature, f.missing]));
      expect(missing).toEqual({
        inventory: [],
        snapshots: ['ec2:CreateSnapshots'],
        replication: [],
        'image-backup': ['ec2:CreateSnapshots'],
        restore: [],
      });
      expect((await a.accounts.get('prod')).lastCheck).toEqual(r.lastCheck);
    } finally {
      await a.close();
    }
  });
});

describe('inventory', () => {
  it('one failing region never stops the others; its error is kept; vanished instances are kept as gone', async () => {
    const aws = new FakeAws();
    const a = await open('inventory', aws);
    await a.jobs.start();
    try {
      aws.regions['us-east-1'] = [vm('i-1'), vm('i-2', { state: 'stopped', tags: { Env: 'dev' } })];
      aws.regions['eu-west-1'] = new Error('EC2 in eu-west-1: UnauthorizedOperation: no');
      await a.accounts.create(SYSTEM, {
        name: 'prod',
        roleArn: 'arn:aws:iam::111111111111:role/lifeboat',
        regions: ['us-east-1', 'eu-west-1'],
      });
      let report = await a.inventory.refresh();
      expect(report.regions).toEqual([
        {
          account: 'prod',
          region: 'eu-west-1',
          ok: false,
          instances: 0,
          gone: 0,
          error: expect.stringMatching(/UnauthorizedOperation/),
        },
        { account: 'prod', region: 'us-east-1', ok: true, instances: 2, gone: 0, error: null },
      ]);
      // A session `inventory` of one task per account × region: the failed one failed it, alone.
      expect(report.state).toBe('failed');
      const session = await a.jobs.get(report.sessionId);
      expect(session.kind).toBe('inventory');
      expect(session.tasks.map((t) => [t.kind, t.region, t.state])).toEqual([
        ['inventory.region', 'eu-west-1', 'failed'],
        ['inventory.region', 'us-east-1', 'succeeded'],
      ]);
      const shown = await a.accounts.get('prod');
      expect(shown.inventory.find((s) => s.region === 'eu-west-1')).toMatchObject({
        error: expect.stringMatching(/Unauthorized/),
        refreshedAt: null,
      });
      const list = await a.inventory.list(10, undefined, { tags: { Env: 'prod' } });
      expect(list.map((i) => i.instance)).toEqual([
        expect.objectContaining({
          account: 'prod',
          instanceId: 'i-1',
          awsAccountId: '111111111111',
          volumes: [expect.objectContaining({ volumeId: 'vol-i-1', encrypted: true })],
        }),
      ]);
      aws.regions['eu-west-1'] = [vm('i-9', { availabilityZone: 'eu-west-1a' })];
      aws.regions['us-east-1'] = [vm('i-1')];
      report = await a.inventory.refresh({ account: 'prod' });
      expect(report.regions.map((r) => [r.region, r.ok, r.instances, r.gone])).toEqual([
        ['eu-west-1', true, 1, 0],
        ['us-east-1', true, 1, 1],
      ]);
      const gone = await a.inventory.list(10, undefined, { state: 'gone' });
      expect(gone.map((g) => [g.instance.instanceId, g.instance.goneAt !== null])).toEqual([['i-2', true]]);
      expect((await a.accounts.get('prod')).inventory.every((s) => s.error === null)).toBe(true);
      // The hook decides: without restore points of it, a gone instance could go.
      a.inventory.retainGone = async () => false;
      aws.regions['us-east-1'] = [];
      await a.inventory.refresh();
      expect((await a.inventory.list(10, undefined, {})).map((i) => i.instance.instanceId)).toEqual([
        'i-9',
        'i-2',
      ]);
    } finally {
      await a.close();
    }
  });
});

describe('inventory schedule', () => {
  it('starts a refresh session per tick, and skips a tick while the last one still runs', async () => {
    const aws = new FakeAws();
    const a = await Appliance.open({ dataDir: join(work, 'schedule'), aws, inventoryIntervalMs: 40 });
    await a.jobs.start();
    let release = () => {};
    const gate = new Promise<void>((r) => (release = r));
    aws.instances = async () => {
      await gate;
      return [];
    };
    const lines: string[] = [];
    try {
      await a.accounts.create(SYSTEM, { name: 'prod', roleArn: 'arn:aws:iam::111111111111:role/lifeboat' });
      a.startSchedules((l) => lines.push(l));
      await new Promise((r) => setTimeout(r, 300));
      // The first read of the new account still runs: every tick is skipped.
      expect(lines.length).toBeGreaterThan(1);
      expect(
        lines.every((l) => /scheduled refresh skipped: session .* is still (running|queued)/.test(l)),
      ).toBe(true);
      release();
      await new Promise((r) => setTimeout(r, 300));
      expect(lines.some((l) => /scheduled refresh started: session /.test(l))).toBe(true);
      const sessions = await a.jobs.list({ kind: 'inventory', limit: 50 });
      expect(sessions.map((s) => s.name)).toContain('scheduled inventory refresh');
      expect(sessions.map((s) => s.name)).toContain('first inventory of account prod');
    } finally {
      a.inventory.stop();
      await a.close();
    }
  });
});
