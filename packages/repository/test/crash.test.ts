/**
 * Deterministic crash tests: real `lifeboat` processes that SIGKILL themselves at a named checkpoint
 * (src/crash.ts) of init, backup (full and incremental), forget, prune (plan, repack, completion), the lease
 * and passwd. After each crash: `repo check` is clean; the interrupted work is finished by the next run (a
 * backup, or forget and prune; a stale lease is refused with its owner, then broken); a next backup uploads
 * fewer bytes than a fresh one where the crashed run had stored packs; every restore point restores
 * byte-identical. Each case works on a copy of a prepared repository. Runs on every store of storeFactories().
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINTS } from '../src/crash.js';
import { PLANS_PREFIX } from '../src/format.js';
import { prune } from '../src/prune.js';
import { Repository, recoveryUnlocker } from '../src/repository.js';
import type { Store } from '../src/store/store.js';
import { tempDir } from './helpers.js';
import {
  type CliResult,
  changeLayout,
  describeRun,
  type Expected,
  type ImageLayout,
  listKeys,
  removeCliPreload,
  runCli,
  type StoreTarget,
  storeFactories,
  verifyRepository,
  writeLayout,
} from './maintenance-helpers.js';

const tmp = tempDir('lb-crash-');
const factories = storeFactories();
afterAll(async () => {
  removeCliPreload();
  tmp.cleanup();
  for (const f of factories) await f.dispose();
});

const PASSWORD = 'crash test password';
const NEW_PASSWORD = 'the new crash test password';

/** A: four random blocks, a hole, a compressible block (about 2.6 MiB). A2: A with blocks 0 and 1 changed. */
const A: ImageLayout = { blocks: ['a-0', 'a-1', null, 'a-2', 'a-3', 'text:a'], tail: 77_777 };
const A2 = changeLayout(A, { 0: 'a2-0', 1: 'a2-1' });

interface Img {
  path: string;
  sha: string;
}

interface Prepared {
  target: StoreTarget;
  recoveryKey?: string;
  /** Restore point ids by name (p1 = full A, p2 = incremental A2 on p1). */
  points: Record<string, string>;
  /** Object keys of p1's tree pack (its leaf only: deleted once p1 is forgotten and pruned). */
  p1TreePack?: string;
}

/** Points the prepared bases hold, by source image name (--tag src=NAME). */
const BASE_POINTS = { S0: [], S1: ['A'], S2: ['A', 'A2'], S2f: ['A2'], S3: ['A2'] } as const;
type BaseName = keyof typeof BASE_POINTS;

type After = 'init' | 'backup' | 'incremental' | 'forget' | 'prune' | 'completion' | 'passwd';

interface CrashCase {
  at: string; // checkpoint[:n]
  base: BaseName | 'empty';
  after: After;
  readData?: boolean;
  /** Show that the stale lease is refused, naming the dead process, before breaking it. */
  showLease?: boolean;
  /** Also collect the unindexed packs the crash left, in process with the clock 2 hours ahead. */
  collectOrphans?: boolean;
}

const CASES: CrashCase[] = [
  { at: 'init:key-slot-stored', base: 'empty', after: 'init' },
  { at: 'session:started', base: 'S0', after: 'backup' },
  { at: 'backup:disk-done', base: 'S0', after: 'backup' },
  { at: 'backup:data-pack-stored', base: 'S0', after: 'backup' }, // its pack is indexed and reused by the next backup
  { at: 'backup:tree-pack-stored', base: 'S0', after: 'backup', readData: true },
  { at: 'backup:before-index', base: 'S0', after: 'backup' },
  { at: 'backup:after-index', base: 'S0', after: 'backup', readData: true },
  { at: 'backup:before-manifest', base: 'S0', after: 'backup' },
  { at: 'backup:after-manifest', base: 'S0', after: 'backup' },
  { at: 'backup:data-pack-stored', base: 'S1', after: 'incremental' },
  { at: 'backup:after-index', base: 'S1', after: 'incremental' },
  { at: 'backup:before-manifest', base: 'S1', after: 'incremental' },
  { at: 'lease:acquired', base: 'S2', after: 'forget', showLease: true },
  { at: 'forget:manifest-deleted', base: 'S2', after: 'forget' },
  { at: 'prune:after-mark', base: 'S2f', after: 'prune' },
  { at: 'prune:repack-pack-stored', base: 'S2f', after: 'prune', collectOrphans: true },
  { at: 'prune:repack-index-stored', base: 'S2f', after: 'prune', readData: true },
  { at: 'prune:before-plan', base: 'S2f', after: 'prune' },
  { at: 'prune:plan-stored', base: 'S2f', after: 'prune', showLease: true },
  { at: 'lease:renewed', base: 'S2f', after: 'prune' },
  { at: 'lease:renewed', base: 'S3', after: 'completion' },
  { at: 'prune:superseding-index-stored', base: 'S3', after: 'completion', readData: true },
  { at: 'prune:superseded-index-deleted', base: 'S3', after: 'completion' },
  { at: 'prune:pack-deleted', base: 'S3', after: 'completion', showLease: true },
  { at: 'prune:pack-deleted:2', base: 'S3', after: 'completion' },
  { at: 'prune:before-plan-delete', base: 'S3', after: 'completion', readData: true },
  { at: 'prune:plan-completed', base: 'S3', after: 'completion' },
  { at: 'passwd:slot-added', base: 'S1', after: 'passwd' },
];

/** Checkpoints a short CLI run cannot reach: the session renews every 15 minutes (lease.test.ts covers it). */
const NOT_REACHABLE_BY_CLI = ['session:renewed'];

for (const factory of factories) {
  describe(`crash at a checkpoint, then recover (${factory.name})`, () => {
    const images: Record<string, Img> = {};
    const bases = new Map<BaseName, Prepared>();
    let fresh = 0; // bytes a backup of A stores into an empty repository
    let changedFile = '';
    let caseNo = 0;

    /** The environment of the CLI for a target: recovery key when known (no scrypt per command). */
    const envOf = (t: StoreTarget, recoveryKey: string | undefined, cache: string, extra = {}) => ({
      ...factory.env,
      LIFEBOAT_REPO: t.location,
      LIFEBOAT_PASSWORD: PASSWORD,
      LIFEBOAT_RECOVERY_KEY: recoveryKey,
      LIFEBOAT_CACHE: cache,
      ...extra,
    });

    async function ok(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
      const r = await runCli(args, { env });
      if (r.code !== 0) throw new Error(describeRun(args, r));
      return r;
    }

    const backupArgs = (name: 'A' | 'A2', parent?: string) => [
      '--json',
      '-q',
      'image',
      'backup',
      images[name]!.path,
      '--resource',
      'res-a',
      '--tag',
      `src=${name}`,
      '--workers',
      '1',
      ...(parent ? ['--parent', parent, '--changed-blocks', changedFile] : []),
    ];

    const newBytes = (r: CliResult) =>
      (JSON.parse(r.stdout) as { disks: Array<{ stats: { newBytesStored: number } }> }).disks.reduce(
        (n, d) => n + d.stats.newBytesStored,
        0,
      );

    beforeAll(async () => {
      images.A = { path: join(tmp.path, 'a.img'), sha: writeLayout(join(tmp.path, 'a.img'), A) };
      images.A2 = { path: join(tmp.path, 'a2.img'), sha: writeLayout(join(tmp.path, 'a2.img'), A2.layout) };
      changedFile = join(tmp.path, 'changed.txt');
      writeFileSync(changedFile, `${A2.changed.join('\n')}\n`);
      const cache = join(tmp.path, 'cache-bases');
      // S0: an empty repository (the CLI's own scrypt, once)
      const t0 = await factory.create('S0');
      const init = await ok(['--json', 'repo', 'init'], envOf(t0, undefined, cache));
      const recoveryKey = (JSON.parse(init.stdout) as { recoveryKey?: string }).recoveryKey;
      bases.set('S0', { target: t0, recoveryKey, points: {} });
      // S1: p1 = full backup of A
      const t1 = await factory.copy(t0, 'S1');
      const before = await listKeys(t1.store, 'meta/packs/');
      const b1 = await ok(backupArgs('A'), envOf(t1, recoveryKey, cache));
      fresh = newBytes(b1);
      const p1 = (JSON.parse(b1.stdout) as { id: string }).id;
      const p1TreePack = [...(await listKeys(t1.store, 'meta/packs/')).keys()].find((k) => !before.has(k));
      bases.set('S1', { target: t1, recoveryKey, points: { p1 }, p1TreePack });
      // S2: p2 = incremental backup of A2 on p1
      const t2 = await factory.copy(t1, 'S2');
      const b2 = await ok(backupArgs('A2', p1), envOf(t2, recoveryKey, cache));
      const p2 = (JSON.parse(b2.stdout) as { id: string }).id;
      bases.set('S2', { target: t2, recoveryKey, points: { p1, p2 }, p1TreePack });
      // S2f: p1 forgotten (by rule: the newest of the series stays)
      const t2f = await factory.copy(t2, 'S2f');
      await ok(['forget', '--keep-last', '1'], envOf(t2f, recoveryKey, cache));
      bases.set('S2f', { target: t2f, recoveryKey, points: { p2 }, p1TreePack });
      // S3: a prune plan exists
      const t3 = await factory.copy(t2f, 'S3');
      await ok(['prune'], envOf(t3, recoveryKey, cache));
      expect((await listKeys(t3.store, PLANS_PREFIX)).size).toBe(1);
      bases.set('S3', { target: t3, recoveryKey, points: { p2 }, p1TreePack });
    }, 120_000);

    /** Opens in process (recovery key: no scrypt), for the final checks. */
    const openRepo = (p: Prepared, store: Store, cache: string) =>
      p.recoveryKey
        ? Repository.openWith(store, [recoveryUnlocker(p.recoveryKey)], { cacheDir: cache })
        : Repository.open(store, PASSWORD, { cacheDir: cache });

    /** Every restore point restores its source (by its src tag); the count is as expected. */
    async function verifyAll(repo: Repository, count: number, readData: boolean, scratch: string) {
      const points = await repo.points();
      expect(points).toHaveLength(count);
      const expected: Expected = new Map(points.map((m) => [m.id, { disk0: images[m.tags.src!]!.sha }]));
      await verifyRepository(repo, expected, scratch, { readData, restore: 'file' });
    }

    const packKeys = async (store: Store) =>
      new Set([...(await listKeys(store, 'data/')).keys(), ...(await listKeys(store, 'meta/packs/')).keys()]);

    it('LIFEBOAT_CRASH_AT=name kills the CLI at that checkpoint (the documented hook, alone)', async () => {
      const base = bases.get('S0')!;
      const t = await factory.copy(base.target, 'env-only');
      const env = envOf(t, base.recoveryKey, join(tmp.path, 'cache-env'));
      const r = await runCli(backupArgs('A'), { env, crashAt: 'backup:after-index', envOnly: true });
      expect(r.signal, describeRun(['LIFEBOAT_CRASH_AT=backup:after-index', ...backupArgs('A')], r)).toBe(
        'SIGKILL',
      );
    });

    describe.concurrent('cases', () => {
      for (const c of CASES) {
        it(`${c.at} (${c.after}${c.base === 'empty' ? '' : `, from ${c.base}`})`, async () => {
          const n = caseNo++;
          const cache = join(tmp.path, `cache-${n}`);
          const scratch = join(tmp.path, `restored-${n}`);
          const prepared: Prepared =
            c.base === 'empty' ? { target: await factory.create('init'), points: {} } : bases.get(c.base)!;
          const target = c.base === 'empty' ? prepared.target : await factory.copy(prepared.target, c.at);
          const withPassword = c.after === 'passwd' || c.after === 'init';
          let env = envOf(target, withPassword ? undefined : prepared.recoveryKey, cache);
          let recoveryKey = prepared.recoveryKey;
          let points: number = c.base === 'empty' ? 0 : BASE_POINTS[c.base].length;

          const command: Record<After, string[]> = {
            init: ['--json', 'repo', 'init'],
            backup: backupArgs('A'),
            incremental: backupArgs('A2', prepared.points.p1),
            forget: ['forget', '--keep-last', '1'],
            prune: ['prune', '--grace', '0'],
            completion: ['prune', '--grace', '0'],
            passwd: ['repo', 'passwd'],
          };
          const args = command[c.after];
          const packsBefore = await packKeys(target.store);
          const plansBefore = await listKeys(target.store, PLANS_PREFIX);

          // ---- the crash ----
          const crashed = await runCli(args, {
            env: { ...env, LIFEBOAT_NEW_PASSWORD: NEW_PASSWORD },
            crashAt: c.at,
          });
          expect(crashed.signal, describeRun([`CRASH_AT=${c.at}`, ...args], crashed)).toBe('SIGKILL');
          const storedPacks = [...(await packKeys(target.store))].filter((k) => !packsBefore.has(k));

          // ---- recovery ----
          if (c.after === 'init') {
            // Defined: a crashed init leaves key slots but no config, which is no repository at all ...
            const check = await runCli(['repo', 'check'], { env });
            expect(check.code, describeRun(['repo', 'check'], check)).toBe(5);
            expect(check.stderr).toMatch(/no Lifeboat repository .*REPO_NOT_FOUND/);
            // ... and a second init is not blocked: it makes a working repository there
            const init = await ok(['--json', 'repo', 'init'], env);
            recoveryKey = (JSON.parse(init.stdout) as { recoveryKey?: string }).recoveryKey;
            env = envOf(target, recoveryKey, cache);
          }
          if (c.after === 'forget' || c.after === 'prune' || c.after === 'completion') {
            if (c.showLease) {
              const refused = await runCli(['prune', '--dry-run'], { env });
              expect(refused.code, describeRun(['prune', '--dry-run'], refused)).toBe(6);
              expect(refused.stderr).toContain(`pid ${crashed.pid}`);
              expect(refused.stderr).toMatch(/until \d{4}-\d\d-\d\dT/);
              expect(refused.stderr).toContain('lifeboat repo unlock --break');
            }
            const broken = await ok(['--json', 'repo', 'unlock', '--break'], env);
            // the dead process's lease (two objects of one holder when it died inside a renewal)
            const removed = (
              JSON.parse(broken.stdout) as { removed: Array<{ holder: string; owner: string }> }
            ).removed;
            expect(removed.length).toBeGreaterThanOrEqual(1);
            expect(new Set(removed.map((l) => l.holder)).size).toBe(1);
            expect(removed[0]!.owner).toContain(`pid ${crashed.pid}`);
          }
          const check = await runCli(['repo', 'check', ...(c.readData ? ['--read-data'] : [])], { env });
          expect(check.code, describeRun(['repo', 'check'], check)).toBe(0);
          expect(check.stdout).toContain('no errors found');

          if (c.after === 'passwd') {
            // both the old and the new password open the repository; the old slot was not removed yet
            await ok(['repo', 'check'], { ...env, LIFEBOAT_PASSWORD: NEW_PASSWORD });
            const slots = JSON.parse(
              (await ok(['--json', 'repo', 'passwd', '--list'], env)).stdout,
            ) as Array<{
              kind: string;
            }>;
            expect(slots.filter((s) => s.kind === 'password')).toHaveLength(2);
          }
          if (c.after === 'forget') {
            const again = await ok(['--json', 'forget', '--keep-last', '1'], env);
            const removed = (JSON.parse(again.stdout) as { removed: string[] }).removed;
            expect(removed).toHaveLength(c.at === 'forget:manifest-deleted' ? 0 : 1);
            points = 1;
          }
          if (c.after === 'forget' || c.after === 'prune' || c.after === 'completion') {
            // the next prune runs complete what the crashed one left: p1's tree pack goes
            const hadPlan = (await listKeys(target.store, PLANS_PREFIX)).size > plansBefore.size;
            const first = JSON.parse((await ok(['--json', 'prune', '--grace', '0'], env)).stdout) as {
              completed: Array<{ plan: string }>;
            };
            if (c.after === 'completion') {
              // the plan that existed before the crash is completed by this one run (unless the crashed run had
              // deleted it already: then it was complete)
              const original = [...plansBefore.keys()][0]!;
              if (c.at !== 'prune:plan-completed')
                expect(first.completed.map((x) => `${PLANS_PREFIX}${x.plan}`)).toContain(original);
              expect((await listKeys(target.store, PLANS_PREFIX)).has(original)).toBe(false);
            } else if (hadPlan) expect(first.completed.length).toBeGreaterThan(0);
            if ((await listKeys(target.store, prepared.p1TreePack!)).size > 0)
              await ok(['prune', '--grace', '0'], env);
            expect((await listKeys(target.store, prepared.p1TreePack!)).size).toBe(0);
          }

          // ---- a next backup: of the same image as the crashed one (A2, already stored, after maintenance) ----
          const nextArgs =
            c.after === 'incremental'
              ? backupArgs('A2', prepared.points.p1)
              : backupArgs(
                  c.after === 'forget' || c.after === 'prune' || c.after === 'completion' ? 'A2' : 'A',
                );
          const next = await ok(nextArgs, env);
          const uploaded = newBytes(next);
          if (storedPacks.length > 0 && (c.after === 'backup' || c.after === 'incremental')) {
            // the crashed run had stored packs: the next backup reuses them
            expect(uploaded, `the next backup stored ${uploaded} bytes, a fresh one ${fresh}`).toBeLessThan(
              fresh,
            );
          }
          if (c.after === 'forget' || c.after === 'prune' || c.after === 'completion' || c.after === 'passwd')
            expect(uploaded).toBe(0); // everything is still there
          points += 1 + (c.at === 'backup:after-manifest' ? 1 : 0);

          // ---- every restore point restores byte-identical; check (in process) is clean ----
          const repo = await openRepo({ ...prepared, recoveryKey }, target.store, cache);
          if (c.collectOrphans) {
            // garbage collection deletes what the killed run left unindexed, once it is old enough
            const later = Date.now() + 2 * 3600_000;
            repo.now = () => later;
            const planned = await prune(repo, { graceMs: 0, safetyMarginMs: 0 });
            expect(planned.planned?.packs).toBeGreaterThan(0);
            await prune(repo, { graceMs: 0, safetyMarginMs: 0 });
            for (const k of storedPacks) expect((await listKeys(target.store, k)).size, k).toBe(0);
          }
          await verifyAll(repo, points, Boolean(c.readData), scratch);
        });
      }
    });

    it(`reaches at least 20 distinct checkpoints, every one but ${NOT_REACHABLE_BY_CLI.join(', ')}`, () => {
      const names = new Set(CASES.map((c) => c.at.split(':').slice(0, 2).join(':')));
      expect(names.size).toBeGreaterThanOrEqual(20);
      expect(CHECKPOINTS.filter((c) => !names.has(c))).toEqual(NOT_REACHABLE_BY_CLI);
    });
  });
}
