/**
 * kill -9 at random moments: real `lifeboat image backup` and `lifeboat prune` processes (alone, or both at
 * once on one repository) are killed after a seeded random delay, a fraction of how long the same command takes
 * uninterrupted. Then: the dead process's lease is broken, `repo check` is clean, prune completes what is left,
 * a next backup of the same image works, and every restore point restores byte-identical. The count is bounded
 * (RUNS) and the seed printed, so that a failure can be replayed with LIFEBOAT_KILL9_SEED.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository, recoveryUnlocker } from '../../repository/src/repository.js';
import { tempDir } from '../../repository/test/helpers.js';
import {
  type CliResult,
  changeLayout,
  describeRun,
  type Expected,
  type ImageLayout,
  removeCliPreload,
  runCli,
  type StoreTarget,
  storeFactories,
  verifyRepository,
  writeLayout,
} from '../../repository/test/maintenance-helpers.js';

const RUNS = 6;
const SEED = Number(process.env.LIFEBOAT_KILL9_SEED ?? 20260105);
const PASSWORD = 'kill -9 test password';

/** mulberry32: a small seeded generator, the same sequence on every machine. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** I: 16 random blocks and a compressible one (8.5 MiB); I2: I with its first 8 blocks changed. */
const I: ImageLayout = {
  blocks: [...Array.from({ length: 16 }, (_, i) => `i-${i}`), null, 'text:i'],
};
const I2 = changeLayout(I, Object.fromEntries(Array.from({ length: 8 }, (_, i) => [i, `i2-${i}`])));

const tmp = tempDir('lb-kill9-');
const factories = storeFactories();
afterAll(async () => {
  removeCliPreload();
  tmp.cleanup();
  for (const f of factories) await f.dispose();
});

for (const factory of factories) {
  describe(`kill -9 of backup and prune at random moments (${factory.name}, seed ${SEED})`, () => {
    const images: Record<string, { path: string; sha: string }> = {};
    let base: StoreTarget;
    let recoveryKey: string | undefined;
    /** How long each command runs from its first checkpoint (the session, the lease) to its end. */
    let backupMs = 0;
    let pruneMs = 0;
    const env = (t: StoreTarget, cache: string) => ({
      ...factory.env,
      LIFEBOAT_REPO: t.location,
      LIFEBOAT_PASSWORD: PASSWORD,
      LIFEBOAT_RECOVERY_KEY: recoveryKey,
      LIFEBOAT_CACHE: cache,
    });
    const ok = async (args: string[], e: Record<string, string | undefined>): Promise<CliResult> => {
      const r = await runCli(args, { env: e });
      if (r.code !== 0) throw new Error(describeRun(args, r));
      return r;
    };
    const backupArgs = (name: 'I' | 'I2') => [
      '--json',
      '-q',
      'image',
      'backup',
      images[name]!.path,
      '--resource',
      'vol-i',
      '--tag',
      `src=${name}`,
    ];
    /** Runs uninterrupted; the time from its first checkpoint to its exit. */
    const timed = async (args: string[], e: Record<string, string | undefined>) => {
      let anchor = 0;
      const r = await runCli(args, {
        env: e,
        onCheckpoint: () => {
          anchor ||= performance.now();
        },
      });
      if (r.code !== 0 || !anchor) throw new Error(describeRun(args, r));
      return performance.now() - anchor;
    };

    beforeAll(async () => {
      for (const [name, layout] of [
        ['I', I],
        ['I2', I2.layout],
      ] as const) {
        const path = join(tmp.path, `${name}.img`);
        images[name] = { path, sha: writeLayout(path, layout) };
      }
      base = await factory.create('kill9');
      const cache = join(tmp.path, 'cache-base');
      const init = await ok(['--json', 'repo', 'init'], env(base, cache));
      recoveryKey = (JSON.parse(init.stdout) as { recoveryKey?: string }).recoveryKey;
      // p0 = I, p1 = I2; p0 forgotten and planned away: a prune has a plan to complete, a backup data to reuse
      const p0 = JSON.parse((await ok(backupArgs('I'), env(base, cache))).stdout) as { id: string };
      backupMs = await timed(backupArgs('I2'), env(base, cache));
      await ok(['forget', p0.id], env(base, cache));
      pruneMs = await timed(['prune'], env(base, cache));
    }, 60_000);

    it(`${RUNS} runs: killed backups and prunes leave a repository that checks clean and restores`, async () => {
      const random = rng(SEED);
      const outcomes: string[] = [];
      let killed = 0;
      for (let run = 0; run < RUNS; run++) {
        const kinds = (['backup', 'prune', 'both'] as const)[run % 3]!;
        const target = await factory.copy(base, `run${run}`);
        const cache = join(tmp.path, `cache-${run}`);
        const e = env(target, cache);
        const procs: Array<Promise<CliResult & { what: string; delay: number }>> = [];
        const launch = (what: string, args: string[], typicalMs: number) => {
          // a random moment of the work: after its first checkpoint (the process has opened the repository and
          // announced itself), within how long the work takes uninterrupted
          const delay = Math.round(random() * typicalMs);
          let kill = () => {};
          let armed = false;
          procs.push(
            runCli(args, {
              env: e,
              started: (_pid, k) => {
                kill = k;
              },
              onCheckpoint: () => {
                if (armed) return;
                armed = true;
                setTimeout(() => kill(), delay);
              },
            }).then((r) => ({ ...r, what, delay })),
          );
        };
        if (kinds !== 'prune') launch('backup', backupArgs('I'), backupMs);
        if (kinds !== 'backup') launch('prune', ['prune', '--grace', '0'], pruneMs);
        const results = await Promise.all(procs);
        for (const r of results) {
          const died = r.signal === 'SIGKILL';
          killed += died ? 1 : 0;
          outcomes.push(
            `run ${run}: ${r.what} ${died ? `killed ${r.delay} ms into its work` : `finished (exit ${r.code})`}`,
          );
          // a process that was not killed finished normally
          if (!died) expect(r.code, describeRun([r.what], r)).toBe(0);
        }
        const label = `seed ${SEED}, ${outcomes.slice(-results.length).join('; ')}`;

        // recovery: break what a dead prune held, check, let prune finish, back up again
        await ok(['repo', 'unlock', '--break'], e);
        const check = await runCli(['repo', 'check'], { env: e });
        expect(check.code, `${label}\n${describeRun(['repo', 'check'], check)}`).toBe(0);
        await ok(['prune', '--grace', '0'], e);
        await ok(backupArgs('I'), e);

        // every restore point restores byte-identical (the killed backup's, if it wrote its manifest)
        const repo = recoveryKey
          ? await Repository.openWith(target.store, [recoveryUnlocker(recoveryKey)], { cacheDir: cache })
          : await Repository.open(target.store, PASSWORD, { cacheDir: cache });
        const points = await repo.points();
        expect(points.length, label).toBeGreaterThanOrEqual(2);
        const expected: Expected = new Map(points.map((m) => [m.id, { disk0: images[m.tags.src!]!.sha }]));
        await verifyRepository(repo, expected, join(tmp.path, `restored-${run}`), {
          readData: run % 2 === 0,
          restore: 'file',
        });
      }
      console.log(`kill -9 (seed ${SEED}):\n  ${outcomes.join('\n  ')}`);
      // the delays are fractions of an uninterrupted run: most processes die mid-way
      expect(killed, outcomes.join('\n')).toBeGreaterThanOrEqual(RUNS / 2);
    }, 120_000);
  });
}
