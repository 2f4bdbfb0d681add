/**
 * Issue 17, end to end: backup policies and cloud-native snapshots on a real `lifeboat server` over the sandbox's
 * demo environment. A tag policy over two regions takes crash-consistent snapshot sets of the prod instances
 * (an excluded device left out), seals them, replicates them into the backup account re-encrypted with its key,
 * keeps exactly `keep` restore points per instance and layer across runs, skips held points, never touches
 * untagged, marker-only, forged or replayed-seal snapshots, and records its AWS calls; an aws/ebs-encrypted
 * instance cannot be replicated across accounts without a shareable key and says so (session warning), and can
 * with one; AWS throttling and 5xx are retried; a scheduled policy runs under the test clock.
 */
import {
  AttachVolumeCommand,
  CreateVolumeCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifeboat, problemOf, stopAll, tempDir } from './appliance-process.js';
import { type PointBody, PolicyWorld } from './policy-fixture.js';

let w: PolicyWorld;
const PROD = ['web-1', 'db-1', 'web-eu-1'];

const policy = (over: Record<string, unknown> = {}) => ({
  name: 'prod-daily',
  resources: {
    accounts: ['production'],
    regions: ['us-east-1', 'eu-west-1'],
    tags: { Environment: 'prod' },
    exclude: { devices: ['/dev/sdg'] },
  },
  snapshots: { keep: 2 },
  replicas: [{ account: 'backup', region: 'eu-west-1', kmsKey: 'alias/backup', keep: 1 }],
  ...over,
});

/** Instance ids of the demo by Name. */
const ids: Record<string, string> = {};

beforeAll(async () => {
  w = await PolicyWorld.start();
  const r = await w.call<{ items: Array<{ instanceId: string; name: string }> }>(
    'GET',
    '/instances?limit=100',
  );
  for (const i of r.body.items) ids[i.name] = i.instanceId;
}, 180_000);

afterAll(async () => {
  await w?.stop();
  await stopAll();
});

const pointsOf = (all: PointBody[], name: string) => all.filter((p) => p.instanceId === ids[name]);

describe('a tag policy over two regions with a replica in the backup account', () => {
  it('validates: unknown keys, bad fields and unregistered accounts are named', async () => {
    const bad = await w.call('POST', '/policies', {
      ...policy(),
      schedul: {},
      snapshots: { keep: 0 },
      replicas: [{ account: 'nobody', region: 'eu-west-1', keep: 1 }],
    });
    const p = problemOf(bad, 400, 'VALIDATION_FAILED');
    const paths = (p.errors ?? []).map((e) => e.path);
    expect(paths).toContain('(top level)');
    expect(paths).toContain('snapshots.keep');
    const unregistered = problemOf(
      await w.call(
        'POST',
        '/policies',
        policy({ replicas: [{ account: 'nobody', region: 'eu-west-1', keep: 1 }] }),
      ),
      400,
      'VALIDATION_FAILED',
    );
    expect(unregistered.errors).toEqual([
      { path: 'replicas[0].account', message: expect.stringMatching(/no account named nobody/) },
    ]);
  });

  it('a dry run shows the selection from the inventory; a policy selecting nothing says so', async () => {
    const dry = await w.call<{
      action: string;
      selected: Array<{ instanceId: string; devices: string[]; excludedDevices: string[] }>;
    }>('PUT', '/policies/prod-daily?dryRun=true', policy());
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body.action).toBe('create');
    expect(dry.body.selected.map((s) => s.instanceId).sort()).toEqual(PROD.map((n) => ids[n]).sort());
    const db = dry.body.selected.find((s) => s.instanceId === ids['db-1'])!;
    expect(db.excludedDevices).toEqual(['/dev/sdg']);
    expect((await w.call('GET', '/policies/prod-daily')).status).toBe(404);
    const none = await w.call<{ warnings: Array<{ code: string }> }>(
      'PUT',
      '/policies/nothing?dryRun=true',
      policy({
        name: 'nothing',
        resources: { accounts: ['production'], regions: ['us-east-1'], tags: { Environment: 'qa' } },
      }),
    );
    expect(none.body.warnings.map((x) => x.code)).toContain('SELECTS_NOTHING');
  });

  let first: PointBody[] = [];

  it('runs: one sealed snapshot set per instance, the excluded device left out, replicas re-encrypted', async () => {
    expect((await w.call('POST', '/policies', policy())).status).toBe(201);
    const s = await w.run('prod-daily');
    expect(s.state, JSON.stringify(s.tasks.map((t) => t.error))).toBe('succeeded');
    expect(s.tasks.filter((t) => t.kind === 'snapshot.instance')).toHaveLength(3);
    first = await w.timeline('&policy=prod-daily');
    expect(first).toHaveLength(3);
    for (const p of first) {
      expect(p.state).toBe('available');
      expect(p.hasConfiguration).toBe(true);
      expect(p.volumes.every((v) => v.sealed && v.state === 'completed')).toBe(true);
      expect(p.replicas).toHaveLength(p.volumes.length);
      for (const r of p.replicas) {
        expect(r).toMatchObject({
          account: 'backup',
          region: 'eu-west-1',
          state: 'completed',
          target: 'backup/eu-west-1',
        });
      }
    }
    const db = pointsOf(first, 'db-1')[0]!;
    expect(db.volumes.map((v) => v.device).sort()).toEqual(['/dev/sdf', '/dev/xvda']);
    // In AWS: one StartTime per set, the clear markers and the seal; the replicas under the backup key.
    const prodSnaps = await w.snapshots(0, 'us-east-1');
    const set = prodSnaps.filter((x) => db.volumes.some((v) => v.snapshotId === x.SnapshotId));
    expect(new Set(set.map((x) => x.StartTime?.toISOString())).size).toBe(1);
    for (const x of set) {
      const keys = (x.Tags ?? []).map((t) => t.Key);
      expect(keys).toEqual(
        expect.arrayContaining(['lifeboat', 'lifeboat:session', 'lifeboat:token', 'lifeboat:seal']),
      );
      expect(keys.length).toBeLessThanOrEqual(40);
    }
    const replicas = await w.snapshots(1, 'eu-west-1');
    for (const r of db.replicas) {
      const x = replicas.find((y) => y.SnapshotId === r.snapshotId)!;
      expect(x.Encrypted).toBe(true);
      expect(x.KmsKeyId).toBe(w.backupKeyArn);
      expect((x.Tags ?? []).some((t) => t.Key === 'lifeboat:seal')).toBe(true);
    }
    // The session's AWS calls, by API and region.
    const calls = await w.call<{
      total: number;
      calls: Array<{ api: string; region: string; count: number }>;
    }>('GET', `/sessions/${s.id}/aws-calls`);
    const count = (api: string) =>
      calls.body.calls.filter((c) => c.api === api).reduce((n, c) => n + c.count, 0);
    expect(count('ec2:CreateSnapshots')).toBe(3);
    expect(count('ec2:CopySnapshot')).toBe(first.reduce((n, p) => n + p.volumes.length, 0));
    expect(count('ec2:DescribeInstances')).toBeGreaterThanOrEqual(2);
  });

  it('keeps exactly the newest `keep` points per instance, and `keep` replicas, across runs', async () => {
    for (let i = 0; i < 2; i++) {
      await w.advance(3600);
      expect((await w.run('prod-daily')).state).toBe('succeeded');
    }
    const all = await w.timeline('&policy=prod-daily&all=true');
    for (const name of PROD) {
      const mine = pointsOf(all, name).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      expect(mine).toHaveLength(3);
      const alive = mine.filter((p) => p.volumes.some((v) => v.state !== 'deleted'));
      expect(alive.map((p) => p.id)).toEqual(mine.slice(0, 2).map((p) => p.id));
      const withReplica = mine.filter((p) => p.replicas.some((r) => r.state !== 'deleted'));
      expect(withReplica.map((p) => p.id)).toEqual([mine[0]!.id]);
      // The oldest point is gone from AWS, sources and replicas.
      expect(mine[2]!.state).toBe('deleted');
    }
    const gone = pointsOf(all, 'web-1').at(-1)!;
    const live = new Set((await w.snapshots(0, 'us-east-1')).map((s) => s.SnapshotId));
    for (const v of gone.volumes) expect(live.has(v.snapshotId)).toBe(false);
  });

  it('never deletes nor lists untagged, marker-only, forged or replayed-seal snapshots', async () => {
    const ours = (await w.snapshots(0, 'us-east-1')).find((s) =>
      (s.Tags ?? []).some((t) => t.Key === 'lifeboat:seal'),
    )!;
    const sealTags = Object.fromEntries(
      (ours.Tags ?? []).filter((t) => t.Key!.startsWith('lifeboat')).map((t) => [t.Key!, t.Value!]),
    );
    const vol = ours.VolumeId!;
    const planted = {
      untagged: await w.foreignSnapshot(0, 'us-east-1', vol, {}),
      markerOnly: await w.foreignSnapshot(0, 'us-east-1', vol, {
        lifeboat: 'v1',
        'lifeboat:session': '00000000-0000-4000-8000-000000000000',
        'lifeboat:token': first[0]!.id,
      }),
      forged: await w.foreignSnapshot(0, 'us-east-1', vol, {
        lifeboat: 'v1',
        'lifeboat:seal': `lb1:0badc0de:${'A'.repeat(120)}`,
      }),
      replayed: await w.foreignSnapshot(0, 'us-east-1', vol, sealTags),
    };
    for (let i = 0; i < 2; i++) {
      await w.advance(3600);
      expect((await w.run('prod-daily')).state).toBe('succeeded');
    }
    const janitor = await w.call<{ id: string }>('POST', '/janitor', {});
    expect(janitor.status, janitor.text).toBe(202);
    expect((await w.ended(janitor.body.id)).state).toBe('succeeded');
    const rescan = await w.call<{ id: string }>('POST', '/rescan', {});
    expect((await w.ended(rescan.body.id)).state).toBe('succeeded');
    const live = new Set((await w.snapshots(0, 'us-east-1')).map((s) => s.SnapshotId));
    const listed = JSON.stringify(await w.timeline('&all=true'));
    for (const [what, id] of Object.entries(planted)) {
      expect(live.has(id), `${what} ${id} deleted`).toBe(true);
      expect(listed.includes(id), `${what} ${id} listed`).toBe(false);
    }
  });

  it('a held point survives retention and says why; released, the next run deletes it', async () => {
    const all = pointsOf(await w.timeline('&policy=prod-daily'), 'web-1').sort((a, b) =>
      b.createdAt.localeCompare(a.createdAt),
    );
    const oldest = all.at(-1)!;
    const held = await w.call<PointBody>('POST', `/restore-points/${oldest.id}/hold`, {
      reason: 'legal hold 42',
    });
    expect(held.status, held.text).toBe(200);
    expect(held.body.holds).toEqual([expect.objectContaining({ kind: 'manual', reason: 'legal hold 42' })]);
    await w.advance(3600);
    const s = await w.run('prod-daily');
    const log = await w.call<{ items: Array<{ message: string }> }>('GET', `/sessions/${s.id}/log?limit=500`);
    expect(log.text).toMatch(
      new RegExp(`kept ${oldest.id} \\(snapshots\\): held: manual \\(legal hold 42\\)`),
    );
    expect(
      (await w.call<PointBody>('GET', `/restore-points/${oldest.id}`)).body.volumes.every(
        (v) => v.state === 'completed',
      ),
    ).toBe(true);
    expect((await w.call('DELETE', `/restore-points/${oldest.id}/hold`)).status).toBe(200);
    await w.advance(3600);
    await w.run('prod-daily');
    const after = (await w.call<PointBody>('GET', `/restore-points/${oldest.id}`)).body;
    expect(after.volumes.every((v) => v.state === 'deleted')).toBe(true);
  });

  it('retries AWS throttling and 5xx storms, and logs them', async () => {
    w.sandbox.addFault({ service: 'ec2', operation: 'CreateSnapshots', kind: 'throttle', count: 3 });
    w.sandbox.addFault({ service: 'ec2', operation: 'CreateTags', kind: 'error5xx', status: 503, count: 3 });
    w.sandbox.addFault({
      service: 'ec2',
      operation: 'DescribeSnapshots',
      kind: 'error5xx',
      status: 500,
      count: 2,
    });
    try {
      await w.advance(3600);
      const s = await w.run('prod-daily');
      expect(s.state, JSON.stringify(s.tasks.map((t) => t.error))).toBe('succeeded');
      const log = await w.call('GET', `/sessions/${s.id}/log?limit=500`);
      expect(log.text).toMatch(/throttled/);
      expect(log.text).toMatch(/server error/);
    } finally {
      w.sandbox.clearFaults();
    }
  });
});

describe('changing and removing policies', () => {
  it('a dry run of a lowered keep lists exactly the snapshots the next run deletes', async () => {
    const current = policy();
    const dry = await w.call<{
      action: string;
      changedFields: string[];
      wouldDelete: Array<{ snapshotId: string }>;
    }>('PUT', '/policies/prod-daily?dryRun=true', { ...current, snapshots: { keep: 1 } });
    expect(dry.status, dry.text).toBe(200);
    expect(dry.body.action).toBe('update');
    expect(dry.body.changedFields).toEqual(['snapshots.keep']);
    const points = await w.timeline('&policy=prod-daily');
    const expected = PROD.flatMap((n) =>
      pointsOf(points, n)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .slice(1)
        .flatMap((p) => p.volumes.filter((v) => v.state !== 'deleted').map((v) => v.snapshotId)),
    );
    expect(dry.body.wouldDelete.map((d) => d.snapshotId).sort()).toEqual(expected.sort());
    // Nothing changed.
    expect(
      (await w.call<{ document: { snapshots: { keep: number } } }>('GET', '/policies/prod-daily')).body
        .document.snapshots.keep,
    ).toBe(2);
  });

  it('a deselected instance keeps its points (a retention task looks after them)', async () => {
    const current = policy();
    const excluded = {
      ...current,
      resources: {
        ...current.resources,
        exclude: { ...current.resources.exclude, instances: [ids['web-1']!] },
      },
    };
    const before = pointsOf(await w.timeline('&policy=prod-daily'), 'web-1')
      .map((p) => p.id)
      .sort();
    expect((await w.call('PUT', '/policies/prod-daily', excluded)).status).toBe(200);
    await w.advance(3600);
    const s = await w.run('prod-daily');
    expect(s.state).toBe('succeeded');
    expect(s.tasks.filter((t) => t.kind === 'snapshot.instance').map((t) => t.resource)).not.toContain(
      ids['web-1'],
    );
    expect(s.tasks.some((t) => t.kind === 'snapshot.retention')).toBe(true);
    expect(
      pointsOf(await w.timeline('&policy=prod-daily'), 'web-1')
        .map((p) => p.id)
        .sort(),
    ).toEqual(before);
    expect((await w.call('PUT', '/policies/prod-daily', current)).status).toBe(200);
  });

  it("a full snapshot quota fails every instance with AWS's code and words; the session fails", async () => {
    await w.sandbox.setQuotas({ snapshotsPerRegion: 0 });
    try {
      await w.advance(3600);
      const s = await w.run('prod-daily');
      const tasks = s.tasks.filter((t) => t.kind === 'snapshot.instance');
      expect(tasks).toHaveLength(3);
      for (const t of tasks) {
        expect(t.state).toBe('failed');
        expect(t.error?.code).toBe('SnapshotLimitExceeded');
        expect(t.error?.message).toMatch(/EC2 CreateSnapshots of i-[0-9a-f]+: SnapshotLimitExceeded/);
      }
      expect(s.state).toBe('failed');
    } finally {
      await w.sandbox.setQuotas({ snapshotsPerRegion: 100_000 });
    }
  });

  it('removing a policy leaves its points listed as orphaned, or deletes them with --delete-snapshots', async () => {
    const doc = {
      ...policy({ name: 'short-lived', replicas: undefined }),
      resources: { accounts: ['production'], regions: ['eu-west-1'], tags: { Environment: 'prod' } },
    };
    delete (doc as { replicas?: unknown }).replicas;
    expect((await w.call('POST', '/policies', doc)).status).toBe(201);
    expect((await w.run('short-lived')).state).toBe('succeeded');
    const [made] = await w.timeline('&policy=short-lived');
    expect((await w.call('DELETE', '/policies/short-lived')).status).toBe(200);
    const orphaned = await w.timeline('&orphaned=true');
    expect(orphaned.map((p) => p.id)).toContain(made!.id);
    expect(orphaned.find((p) => p.id === made!.id)!.policy).toBe('short-lived');
    // Made again and removed with its snapshots: a session deletes them (seals checked).
    expect((await w.call('POST', '/policies', doc)).status).toBe(201);
    await w.advance(60);
    expect((await w.run('short-lived')).state).toBe('succeeded');
    const second = (await w.timeline('&policy=short-lived')).find((p) => p.id !== made!.id)!;
    const removed = await w.call<{ sessionId: string }>(
      'DELETE',
      '/policies/short-lived?deleteSnapshots=true',
    );
    expect(removed.status, removed.text).toBe(200);
    expect((await w.ended(removed.body.sessionId)).state).toBe('succeeded');
    const live = new Set((await w.snapshots(0, 'eu-west-1')).map((x) => x.SnapshotId));
    for (const v of second.volumes) expect(live.has(v.snapshotId)).toBe(false);
    // The first policy of that name was another policy: its orphaned points stay.
    for (const v of made!.volumes) expect(live.has(v.snapshotId)).toBe(true);
  });
});

describe('a gone instance', () => {
  it('keeps its restore points and their replicas: a retention task marks it gone and deletes nothing', async () => {
    const before = pointsOf(await w.timeline('&policy=prod-daily'), 'web-eu-1');
    expect(before.length).toBeGreaterThan(0);
    const c = w.ec2(0, 'eu-west-1');
    await c.send(new TerminateInstancesCommand({ InstanceIds: [ids['web-eu-1']!] }));
    c.destroy();
    for (let i = 0; i < 3; i++) {
      await w.advance(3600);
      const s = await w.run('prod-daily');
      expect(s.state).toBe('succeeded');
      expect(s.tasks.filter((t) => t.kind === 'snapshot.instance').map((t) => t.resource)).not.toContain(
        ids['web-eu-1'],
      );
      const retention = s.tasks.find((t) => t.kind === 'snapshot.retention' && t.region === 'eu-west-1')!;
      expect(retention.state).toBe('succeeded');
      expect((retention.result as { deleted: number }).deleted).toBe(0);
      const input = (
        retention as unknown as { input: { instances: Array<{ instanceId: string; gone: boolean }> } }
      ).input;
      expect(input.instances).toContainEqual({ instanceId: ids['web-eu-1'], gone: true });
    }
    const after = pointsOf(await w.timeline('&policy=prod-daily'), 'web-eu-1');
    expect(after.map((p) => p.id).sort()).toEqual(before.map((p) => p.id).sort());
    const live = new Set((await w.snapshots(0, 'eu-west-1')).map((x) => x.SnapshotId));
    for (const p of after)
      for (const v of p.volumes.filter((x) => x.state !== 'deleted'))
        expect(live.has(v.snapshotId)).toBe(true);
  });
});

describe('aws/ebs-encrypted volumes replicated into another account', () => {
  let instanceId = '';

  it('fails the replica saying exactly why without a shareable key (session warning), works with one', async () => {
    const c = w.ec2(0, 'us-east-1');
    const web = (await c.send(new DescribeInstancesCommand({ InstanceIds: [ids['web-1']!] })))
      .Reservations![0]!.Instances![0]!;
    const launched = await c.send(
      new RunInstancesCommand({
        ImageId: web.ImageId!,
        InstanceType: 't3.micro',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: web.SubnetId!,
        TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Tier', Value: 'secure' }] }],
      }),
    );
    instanceId = launched.Instances![0]!.InstanceId!;
    const zone = launched.Instances![0]!.Placement!.AvailabilityZone!;
    const vol = await c.send(new CreateVolumeCommand({ AvailabilityZone: zone, Size: 1, Encrypted: true }));
    await new Promise((r) => setTimeout(r, 200));
    await c.send(
      new AttachVolumeCommand({ VolumeId: vol.VolumeId!, InstanceId: instanceId, Device: '/dev/sdh' }),
    );
    c.destroy();
    const secure = {
      name: 'secure',
      resources: {
        accounts: ['production'],
        regions: ['us-east-1'],
        instances: [instanceId],
        exclude: { devices: ['/dev/xvda'] },
      },
      snapshots: { keep: 1 },
      replicas: [{ account: 'backup', region: 'us-east-1', keep: 1 }],
    };
    expect((await w.call('POST', '/policies', secure)).status).toBe(201);
    // Through the CLI: `policy run --wait` follows the session and exits 7 on its warning.
    const home = tempDir('cli-home');
    const cli = await lifeboat(['policy', 'run', 'secure', '--wait'], {
      LIFEBOAT_SERVER: w.appliance.origin,
      LIFEBOAT_TOKEN: w.token,
      HOME: home,
      XDG_CONFIG_HOME: home,
    });
    expect(cli.code, `${cli.stdout}\n${cli.stderr}`).toBe(7);
    const sessionId = (await w.call<{ lastSessionId: string }>('GET', '/policies/secure')).body.lastSessionId;
    const s = await w.ended(sessionId);
    expect(s.state).toBe('warning');
    const task = s.tasks.find((t) => t.kind === 'snapshot.instance')!;
    expect(task.state).toBe('warning');
    const detail = await w.call('GET', `/sessions/${s.id}/log?limit=500`);
    expect(detail.text).toMatch(
      /AWS managed key aws\/ebs of account 111111111111, which cannot be shared with account 222222222222/,
    );
    const shareable = { ...secure, replicas: [{ ...secure.replicas[0], shareKmsKey: 'alias/share' }] };
    expect((await w.call('PUT', '/policies/secure', shareable)).status).toBe(200);
    await w.advance(60);
    const again = await w.run('secure');
    const why = await w.call('GET', `/sessions/${again.id}/log?limit=500`);
    expect(again.state, why.text).toBe('succeeded');
    const [p] = await w.timeline(`&policy=secure`);
    expect(p!.replicas).toHaveLength(1);
    expect(p!.replicas[0]).toMatchObject({ account: 'backup', region: 'us-east-1', state: 'completed' });
    // The temporary shareable copy is gone; the source is no longer shared.
    const prodSnaps = await w.snapshots(0, 'us-east-1');
    expect(prodSnaps.filter((x) => (x.Description ?? '').includes('temporary'))).toEqual([]);
  });
});

describe('schedules under the test clock', () => {
  it('a daily policy in Europe/Berlin runs once when its time comes, started by the appliance', async () => {
    const daily = {
      ...policy({ name: 'berlin', replicas: undefined }),
      resources: { accounts: ['production'], regions: ['eu-west-1'], tags: { Environment: 'prod' } },
      schedule: { daily: { times: ['02:00'] }, timezone: 'Europe/Berlin' },
    };
    delete (daily as { replicas?: unknown }).replicas;
    const created = await w.call<{ policy: { nextRunAt: string } }>('POST', '/policies', daily);
    expect(created.status, created.text).toBe(201);
    const next = Date.parse(created.body.policy.nextRunAt);
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      hour: '2-digit',
      minute: '2-digit',
    });
    expect(local.format(next)).toBe('02:00');
    const now = Date.parse(
      (await w.call<{ now: string }>('POST', '/test/clock', { advanceSeconds: 0 })).body.now,
    );
    await w.advance(Math.ceil((next - now) / 1000) + 1);
    let session: string | null = null;
    for (const stop = Date.now() + 20_000; Date.now() < stop && !session; ) {
      session = (await w.call<{ lastSessionId: string | null }>('GET', '/policies/berlin')).body
        .lastSessionId;
      if (!session) await new Promise((r) => setTimeout(r, 100));
    }
    expect(session).not.toBeNull();
    const s = await w.ended(session!);
    expect(s.createdBy).toBeNull();
    expect(s.state).toBe('succeeded');
    const after = (await w.call<{ nextRunAt: string }>('GET', '/policies/berlin')).body;
    expect(Date.parse(after.nextRunAt) - next).toBeGreaterThanOrEqual(23 * 3600_000);
  });
});
