/**
 * Issue 17, end to end: restore points rebuilt from the seals alone. Appliance A (secret made by `server init`,
 * recovery phrase in a file) protects the demo's prod instances with replicas; a rescan of A adds nothing; a new
 * appliance B, initialised from A's recovery phrase, with an empty catalog and the same accounts, rescans and
 * lists the same restore points, configuration included; an appliance C with a secret of its own finds none
 * (the seals do not open: counted as another key's, never listed). Then kill -9: between the two tag phases (the
 * seal never written) and while CreateSnapshots is in flight (the set made, its answer lost); after a restart the
 * task resumes, finds its set by its token instead of making a second one, and seals it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, lifeboat, stopAll, tempDir } from './appliance-process.js';
import { type PointBody, PolicyWorld, type SessionBody } from './policy-fixture.js';

let a: PolicyWorld;
const work = tempDir('rescan');
const phrase = join(work, 'phrase');
const extra: PolicyWorld[] = [];

const policy = {
  name: 'prod',
  resources: { accounts: ['production'], regions: ['us-east-1', 'eu-west-1'], tags: { Environment: 'prod' } },
  snapshots: { keep: 2 },
  replicas: [{ account: 'backup', region: 'eu-west-1', kmsKey: 'alias/backup', keep: 2 }],
};

/** What must survive a rescan: the point, its volumes and replicas, its configuration. */
async function comparable(w: PolicyWorld) {
  const points = await w.timeline();
  const out = [];
  for (const p of points.sort((x, y) => x.id.localeCompare(y.id))) {
    const full = (await w.call<PointBody & { configuration?: unknown }>('GET', `/restore-points/${p.id}`))
      .body;
    out.push({
      id: p.id,
      createdAt: p.createdAt,
      instanceId: p.instanceId,
      region: p.region,
      account: p.account,
      policy: p.policy,
      state: p.state,
      hasConfiguration: p.hasConfiguration,
      configuration: full.configuration ?? null,
      volumes: p.volumes
        .filter((v) => v.state !== 'deleted')
        .map((v) => ({ id: v.snapshotId, device: v.device, size: v.sizeGiB, state: v.state }))
        .sort((x, y) => x.id.localeCompare(y.id)),
      replicas: p.replicas
        .filter((r) => r.state !== 'deleted')
        .map((r) => ({
          id: r.snapshotId,
          device: r.device,
          account: r.account,
          region: r.region,
          target: r.target,
          source: r.sourceSnapshotId,
        }))
        .sort((x, y) => x.id.localeCompare(y.id)),
    });
  }
  return out;
}

async function rescan(w: PolicyWorld): Promise<SessionBody> {
  const r = await w.call<SessionBody>('POST', '/rescan', {});
  expect(r.status, r.text).toBe(202);
  const s = await w.ended(r.body.id);
  expect(s.state).toBe('succeeded');
  return s;
}

const total = (s: SessionBody, key: string) =>
  s.tasks.reduce((n, t) => n + Number((t.result as Record<string, unknown> | null)?.[key] ?? 0), 0);

beforeAll(async () => {
  a = await PolicyWorld.start({
    beforeStart: async (data) => {
      const r = await lifeboat(['server', 'init', '--data', data, '--recovery-phrase-file', phrase], {
        LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
      });
      expect(r.code, r.stderr).toBe(0);
    },
  });
  expect((await a.call('POST', '/policies', policy)).status).toBe(201);
  for (let i = 0; i < 2; i++) {
    expect((await a.run('prod')).state).toBe('succeeded');
    await a.advance(3600);
  }
}, 240_000);

afterAll(async () => {
  for (const w of extra) await w.stop();
  await a?.stop();
  await stopAll();
});

describe('rescan', () => {
  let before: Awaited<ReturnType<typeof comparable>> = [];

  it('into the non-empty catalog that made the points: nothing new, nothing duplicated', async () => {
    before = await comparable(a);
    expect(before).toHaveLength(6);
    expect(before.every((p) => p.hasConfiguration && p.replicas.length === p.volumes.length)).toBe(true);
    const s = await rescan(a);
    expect(total(s, 'newPoints')).toBe(0);
    expect(total(s, 'newSnapshots')).toBe(0);
    expect(await comparable(a)).toEqual(before);
  });

  it('into an empty catalog of an appliance restored from the recovery phrase: the same points', async () => {
    const b = await PolicyWorld.start({
      sandbox: a,
      beforeStart: async (data) => {
        const r = await lifeboat(['server', 'init', '--data', data, '--from-recovery-phrase-file', phrase], {
          LIFEBOAT_ADMIN_PASSWORD: ADMIN_PASSWORD,
        });
        expect(r.code, r.stderr).toBe(0);
      },
    });
    extra.push(b);
    expect(await b.timeline()).toEqual([]);
    const s = await rescan(b);
    expect(total(s, 'newPoints')).toBe(6);
    const after = await comparable(b);
    // The policy is not in B's catalog: its points are listed by its name, as orphaned.
    expect(after).toEqual(before);
    expect((await b.timeline()).every((p) => p.orphaned)).toBe(true);
    // Twice is once.
    const again = await rescan(b);
    expect(total(again, 'newPoints')).toBe(0);
    expect(await comparable(b)).toEqual(before);
  });

  it("an appliance with another secret lists none of them: another key's seals", async () => {
    const c = await PolicyWorld.start({ sandbox: a });
    extra.push(c);
    const s = await rescan(c);
    expect(total(s, 'newPoints')).toBe(0);
    expect(await c.timeline()).toEqual([]);
    const refused = s.tasks.map((t) => (t.result as { refused: Record<string, number> }).refused);
    expect(refused.reduce((n, r) => n + (r['unknown-key'] ?? 0), 0)).toBe(
      before.reduce((n, p) => n + p.volumes.length + p.replicas.length, 0),
    );
  });
});

describe('interrupted requests and kill -9', () => {
  const ofSession = (snaps: Awaited<ReturnType<PolicyWorld['snapshots']>>, session: string) =>
    snaps.filter((x) => (x.Tags ?? []).some((t) => t.Key === 'lifeboat:session' && t.Value === session));

  /** Each us-east-1 point of the session has exactly one set: the snapshots carrying its token are its volumes. */
  async function oneSetPerPoint(s: SessionBody): Promise<void> {
    const points = await a.timeline('&all=true');
    const snaps = await a.snapshots(0, 'us-east-1');
    const tasks = s.tasks.filter((t) => t.kind === 'snapshot.instance' && t.region === 'us-east-1');
    expect(tasks.length).toBe(2);
    for (const task of tasks) {
      const pointId = (task.result as { pointId: string }).pointId;
      const byToken = snaps.filter((x) =>
        (x.Tags ?? []).some((t) => t.Key === 'lifeboat:token' && t.Value === pointId),
      );
      const point = points.find((p) => p.id === pointId)!;
      expect(byToken.map((x) => x.SnapshotId).sort()).toEqual(point.volumes.map((v) => v.snapshotId).sort());
    }
  }

  it('a CreateSnapshots whose answer is lost, with Describe lagging: the retry finds the set by its token', async () => {
    await a.advance(3600);
    await a.sandbox.setConsistency({ describeLagSeconds: 3 });
    a.sandbox.addFault({
      service: 'ec2',
      operation: 'CreateSnapshots',
      kind: 'lost',
      count: 1,
      region: 'us-east-1',
    });
    try {
      const s = await a.run('prod');
      expect(s.state, JSON.stringify(s.tasks.map((t) => t.error))).toBe('succeeded');
      await oneSetPerPoint(s);
    } finally {
      a.sandbox.clearFaults();
      await a.sandbox.setConsistency({ describeLagSeconds: 0 });
    }
  });

  it('kill -9 between the two tag phases: after a restart the task resumes and writes the seals', async () => {
    await a.advance(3600);
    a.sandbox.addFault({
      service: 'ec2',
      operation: 'CreateTags',
      kind: 'latency',
      latencyMs: 60_000,
      count: 1,
      region: 'us-east-1',
    });
    const started = await a.call<SessionBody>('POST', '/policies/prod/run');
    expect(started.status, started.text).toBe(202);
    const session = started.body.id;
    let unsealed: Awaited<ReturnType<PolicyWorld['snapshots']>> = [];
    for (const stop = Date.now() + 20_000; Date.now() < stop && unsealed.length === 0; ) {
      unsealed = ofSession(await a.snapshots(0, 'us-east-1'), session).filter(
        (x) => !(x.Tags ?? []).some((t) => t.Key === 'lifeboat:seal'),
      );
      if (unsealed.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(unsealed.length).toBeGreaterThan(0);
    await a.appliance.stop('SIGKILL');
    a.sandbox.clearFaults();
    await a.startAppliance();
    const s = await a.ended(session);
    expect(s.state, JSON.stringify(s.tasks.map((t) => t.error))).toBe('succeeded');
    const mine = ofSession(await a.snapshots(0, 'us-east-1'), session);
    for (const x of mine)
      expect(
        (x.Tags ?? []).some((t) => t.Key === 'lifeboat:seal'),
        x.SnapshotId,
      ).toBe(true);
    for (const u of unsealed) expect(mine.map((x) => x.SnapshotId)).toContain(u.SnapshotId);
    await oneSetPerPoint(s);
  });

  it('kill -9 while CreateSnapshots is in flight: the set lands late; the janitor deletes the duplicate', async () => {
    await a.advance(3600);
    a.sandbox.addFault({
      service: 'ec2',
      operation: 'CreateSnapshots',
      kind: 'latency',
      latencyMs: 15_000,
      count: 1,
      region: 'us-east-1',
    });
    const started = await a.call<SessionBody>('POST', '/policies/prod/run');
    const session = started.body.id;
    await new Promise((r) => setTimeout(r, 1500));
    await a.appliance.stop('SIGKILL');
    a.sandbox.clearFaults();
    await a.startAppliance();
    const s = await a.ended(session);
    expect(s.state, JSON.stringify(s.tasks.map((t) => t.error))).toBe('succeeded');
    // The delayed request lands after the resumed task made its set (about 15 s after it was sent).
    await new Promise((r) => setTimeout(r, 16_000 - 1500));
    const janitor = await a.call<SessionBody>('POST', '/janitor', {});
    const j = await a.ended(janitor.body.id);
    expect(j.state).toBe('succeeded');
    await oneSetPerPoint(s);
    expect(total(j, 'duplicatesDeleted')).toBeGreaterThanOrEqual(1);
  });
});
