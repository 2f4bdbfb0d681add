/** Accounts and inventory (issue 16): cases of the catalog conformance suite, registered by conformance.ts. */
import { describe, expect, it } from 'vitest';
import { type Catalog, isCatalogError, type NewAccount, type SeenInstance } from '../src/index.js';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T01:00:00.000Z';
const T2 = '2026-01-01T02:00:00.000Z';

export function account(name: string, extra: Partial<NewAccount> = {}): NewAccount {
  return {
    id: `a-${name}`,
    name,
    kind: 'role',
    awsAccountId: '111111111111',
    principalArn: 'arn:aws:iam::111111111111:role/lifeboat',
    roleArn: 'arn:aws:iam::111111111111:role/lifeboat',
    externalId: 'lifeboat-x',
    sealedCredentials: null,
    accessKeyHint: null,
    regions: ['us-east-1', 'eu-west-1'],
    ...extra,
  };
}

function seen(id: string, extra: Partial<SeenInstance> = {}): SeenInstance {
  return {
    accountId: 'a-prod',
    region: 'us-east-1',
    instanceId: id,
    name: id,
    state: 'running',
    instanceType: 't3.micro',
    availabilityZone: 'us-east-1a',
    vpcId: 'vpc-1',
    subnetId: 'subnet-1',
    launchedAt: T0,
    tags: { Name: id },
    volumes: [
      {
        volumeId: `vol-${id}`,
        device: '/dev/xvda',
        sizeGiB: 8,
        type: 'gp3',
        encrypted: false,
        kmsKeyId: null,
        deleteOnTermination: true,
      },
    ],
    ...extra,
  };
}

async function code(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCatalogError(err) ? err.code : `not a CatalogError: ${String(err)}`;
}

export function accountConformance(catalog: () => Catalog): void {
  describe('accounts', () => {
    it('inserts, reads back, lists by name, refuses a taken name', async () => {
      const c = catalog();
      const a = await c.accounts.insert(account('prod'), T0);
      expect(a).toMatchObject({
        name: 'prod',
        version: 1,
        regions: ['us-east-1', 'eu-west-1'],
        lastCheck: null,
      });
      expect(await c.accounts.get('prod')).toEqual(a);
      expect(await c.accounts.getById('a-prod')).toEqual(a);
      await c.accounts.insert(
        account('backup', { kind: 'keys', sealedCredentials: 'lb1:k1:x', roleArn: null }),
        T0,
      );
      expect(await code(c.accounts.insert(account('prod', { id: 'a-other' }), T0))).toBe('CONFLICT');
      expect((await c.accounts.list({ limit: 10 })).map((x) => x.name)).toEqual(['backup', 'prod']);
      expect((await c.accounts.list({ limit: 10, after: 'backup' })).map((x) => x.name)).toEqual(['prod']);
      expect((await c.accounts.get('backup'))?.sealedCredentials).toBe('lb1:k1:x');
    });

    it('updates regions and the last check with a version; removes with its inventory', async () => {
      const c = catalog();
      await c.accounts.insert(account('prod'), T0);
      const check = { features: [{ feature: 'snapshots', ok: false, missing: ['ec2:CreateSnapshots'] }] };
      const u = await c.accounts.update(
        'a-prod',
        1,
        { lastCheck: check, checkedAt: T1, regions: ['us-east-1'] },
        T1,
      );
      expect(u).toMatchObject({
        version: 2,
        lastCheck: check,
        checkedAt: T1,
        regions: ['us-east-1'],
        updatedAt: T1,
      });
      expect(await code(c.accounts.update('a-prod', 1, { regions: [] }, T1))).toBe('VERSION_MISMATCH');
      expect(await code(c.accounts.update('a-none', undefined, { regions: [] }, T1))).toBe('NOT_FOUND');
      await c.inventory.reconcile('a-prod', 'us-east-1', [seen('i-1')], T1);
      await c.inventory.setRegionStatus({
        accountId: 'a-prod',
        region: 'us-east-1',
        attemptedAt: T1,
        refreshedAt: T1,
        error: null,
        instances: 1,
      });
      expect(await code(c.accounts.remove('a-prod', 1))).toBe('VERSION_MISMATCH');
      await c.accounts.remove('a-prod', 2);
      expect(await c.accounts.get('prod')).toBeUndefined();
      expect(await c.inventory.list({ limit: 10 })).toEqual([]);
      expect(await c.inventory.regionStatus()).toEqual([]);
    });
  });

  describe('inventory', () => {
    it('reconciles a region: upserts what it saw, marks the rest gone once, brings gone ones back', async () => {
      const c = catalog();
      await c.accounts.insert(account('prod'), T0);
      expect(await c.inventory.reconcile('a-prod', 'us-east-1', [seen('i-1'), seen('i-2')], T0)).toEqual({
        gone: [],
      });
      await c.inventory.reconcile('a-prod', 'eu-west-1', [seen('i-3', { region: 'eu-west-1' })], T0);
      const r = await c.inventory.reconcile('a-prod', 'us-east-1', [seen('i-1', { state: 'stopped' })], T1);
      expect(r.gone).toEqual(['a-prod/us-east-1/i-2']);
      expect(await c.inventory.get('a-prod', 'us-east-1', 'i-2')).toMatchObject({
        state: 'gone',
        goneAt: T1,
        lastSeenAt: T0,
      });
      expect(await c.inventory.get('a-prod', 'us-east-1', 'i-1')).toMatchObject({
        state: 'stopped',
        firstSeenAt: T0,
        lastSeenAt: T1,
        goneAt: null,
      });
      // The other region is untouched; gone stays gone (not reported twice); it comes back when seen again.
      expect((await c.inventory.get('a-prod', 'eu-west-1', 'i-3'))?.state).toBe('running');
      expect((await c.inventory.reconcile('a-prod', 'us-east-1', [seen('i-1')], T2)).gone).toEqual([]);
      expect((await c.inventory.get('a-prod', 'us-east-1', 'i-2'))?.goneAt).toBe(T1);
      await c.inventory.reconcile('a-prod', 'us-east-1', [seen('i-1'), seen('i-2')], T2);
      expect(await c.inventory.get('a-prod', 'us-east-1', 'i-2')).toMatchObject({
        state: 'running',
        goneAt: null,
      });
      expect(await c.inventory.remove(['a-prod/us-east-1/i-2'])).toBe(1);
      expect(await c.inventory.get('a-prod', 'us-east-1', 'i-2')).toBeUndefined();
    });

    it('lists by key with filters on account, region, state and every given tag, paging with after', async () => {
      const c = catalog();
      await c.accounts.insert(account('prod'), T0);
      await c.accounts.insert(account('dev', { id: 'a-dev' }), T0);
      await c.inventory.reconcile(
        'a-prod',
        'us-east-1',
        [
          seen('i-1', { tags: { Env: 'prod', App: 'web' } }),
          seen('i-2', { tags: { Env: 'prod', App: 'db' }, state: 'stopped' }),
          seen('i-3', { tags: { Env: 'dev', App: 'web' } }),
        ],
        T0,
      );
      await c.inventory.reconcile(
        'a-dev',
        'eu-west-1',
        [seen('i-9', { accountId: 'a-dev', tags: { Env: 'prod' } })],
        T0,
      );
      const ids = async (q: Parameters<Catalog['inventory']['list']>[0]) =>
        (await c.inventory.list(q)).map((i) => i.instanceId);
      expect(await ids({ limit: 10 })).toEqual(['i-9', 'i-1', 'i-2', 'i-3']);
      expect(await ids({ limit: 10, accountId: 'a-prod' })).toEqual(['i-1', 'i-2', 'i-3']);
      expect(await ids({ limit: 10, region: 'eu-west-1' })).toEqual(['i-9']);
      expect(await ids({ limit: 10, state: 'stopped' })).toEqual(['i-2']);
      expect(await ids({ limit: 10, tags: { Env: 'prod' } })).toEqual(['i-9', 'i-1', 'i-2']);
      expect(await ids({ limit: 10, tags: { Env: 'prod', App: 'web' } })).toEqual(['i-1']);
      expect(await ids({ limit: 2, accountId: 'a-prod' })).toEqual(['i-1', 'i-2']);
      expect(await ids({ limit: 2, accountId: 'a-prod', after: 'a-prod/us-east-1/i-2' })).toEqual(['i-3']);
      const one = (await c.inventory.list({ limit: 1, tags: { App: 'db' } }))[0];
      expect(one?.volumes[0]).toMatchObject({ volumeId: 'vol-i-2', sizeGiB: 8, encrypted: false });
      // Tags follow the instance: a changed tag no longer matches its old value.
      await c.inventory.reconcile('a-prod', 'us-east-1', [seen('i-1', { tags: { Env: 'test' } })], T1);
      expect(await ids({ limit: 10, tags: { Env: 'prod' }, accountId: 'a-prod' })).toEqual(['i-2']);
    });

    it('keeps one status per account and region; drops regions no longer scanned', async () => {
      const c = catalog();
      await c.accounts.insert(account('prod'), T0);
      const status = (region: string, error: string | null) => ({
        accountId: 'a-prod',
        region,
        attemptedAt: T1,
        refreshedAt: error ? null : T1,
        error,
        instances: error ? 0 : 1,
      });
      await c.inventory.setRegionStatus(status('us-east-1', null));
      await c.inventory.setRegionStatus(status('eu-west-1', 'AccessDenied'));
      await c.inventory.setRegionStatus(status('us-east-1', 'throttled'));
      expect((await c.inventory.regionStatus('a-prod')).map((s) => [s.region, s.error])).toEqual([
        ['eu-west-1', 'AccessDenied'],
        ['us-east-1', 'throttled'],
      ]);
      await c.inventory.reconcile('a-prod', 'eu-west-1', [seen('i-3', { region: 'eu-west-1' })], T0);
      await c.inventory.dropRegions('a-prod', ['us-east-1']);
      expect((await c.inventory.regionStatus()).map((s) => s.region)).toEqual(['us-east-1']);
      expect(await c.inventory.list({ limit: 10 })).toEqual([]);
    });
  });
}
