/**
 * Damage as it happens in the field: single altered bytes. A small repository (one restore point of a sparse disk
 * with two leaves, random and compressible blocks, several runs of a restore in flight at once) is damaged one
 * byte at a time at 200+ offsets chosen with a fixed seed over every kind of file it holds (config, key slots,
 * data pack, tree pack, index file, restore point). For each flip, `image restore` runs with the local index
 * cache empty or warm (both for a flip in an index file: a warm cache hides it), and `repo check --read-data`
 * runs, all as processes. Every restore ends byte-identical with exit 0, or with a one-line error, its documented exit code,
 * no stack trace and nothing left beside the target; check reports whatever a restore tripped over. Replay a
 * failure with LIFEBOAT_FLIP_SEED.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../repository/src/repository.js';
import { LocalStore } from '../../repository/src/store/local.js';
import {
  BLOCK,
  compressible,
  flipBit,
  lifeboat,
  type RunResult,
  random,
  removeDir,
  repoFiles,
  tempDir,
  writeImage,
} from './helpers.js';

const SEED = Number(process.env.LIFEBOAT_FLIP_SEED ?? 20261214);
const PASSWORD = 'byte flip test password';
/** Flips per kind of file: 200 in all. */
const FLIPS: Record<Kind, number> = { config: 14, keys: 24, data: 70, tree: 34, index: 28, point: 30 };
const PARALLEL = 2;
/** About 115 s of two idle cores (224 CPU-s); the bound is for a CI machine busy with other test files. */
const TIMEOUT_MS = Number(process.env.LIFEBOAT_FLIP_TIMEOUT_MS ?? 600_000);

type Kind = 'config' | 'keys' | 'data' | 'tree' | 'index' | 'point';

function kindOf(file: string): Kind {
  if (file === 'config') return 'config';
  if (file.startsWith('keys/')) return 'keys';
  if (file.startsWith('data/')) return 'data';
  if (file.startsWith('meta/packs/')) return 'tree';
  if (file.startsWith('meta/index/')) return 'index';
  if (file.startsWith('meta/points/')) return 'point';
  throw new Error(`unexpected file ${file}`);
}

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

/**
 * The disk: 40 blocks, 20 MiB (a few MiB of data): 6 random blocks, then 20 compressible ones (a run of a
 * restore holds up to 16 blocks, so several runs are in flight at once), holes, 2 random and 6 compressible
 * blocks, a hole, and a short last block. (Damage to a node above the leaves: partial.test.ts.)
 */
const DISK_BLOCKS = 40;
const DISK_SIZE = DISK_BLOCKS * BLOCK - 4096;

let dir: string;
let image: string;
let origin: string;
let warmCache: string;
let pointId: string;
let files: Array<{ file: string; size: number; kind: Kind }>;

beforeAll(async () => {
  dir = tempDir('byte-flip');
  image = join(dir, 'disk.img');
  const pieces: Array<[number, Buffer]> = [];
  for (let b = 0; b < 6; b++) pieces.push([b * BLOCK, random(BLOCK)]);
  for (let b = 6; b < 26; b++) pieces.push([b * BLOCK, compressible(BLOCK, `block ${b}`)]);
  for (let b = 30; b < 32; b++) pieces.push([b * BLOCK, random(BLOCK)]);
  for (let b = 32; b < 38; b++) pieces.push([b * BLOCK, compressible(BLOCK, `block ${b}`)]);
  pieces.push([DISK_SIZE - 1000, random(1000)]);
  writeImage(image, DISK_SIZE, pieces);
  origin = join(dir, 'origin');
  // A cheap key derivation (the library allows it, the CLI never writes it): 200+ flips open the repository
  // ~700 times. Every open still goes through the password slot.
  await Repository.init(new LocalStore(origin), PASSWORD, { kdfCost: { N: 1024, r: 8, p: 1 } });
  warmCache = join(dir, 'warm-cache');
  const r = await run(['--json', '-q', 'image', 'backup', image, '--disk', 'root'], origin, warmCache);
  expect(r.code, r.stderr).toBe(0);
  pointId = JSON.parse(r.stdout).id;
  files = [...repoFiles(origin)].map(([file, size]) => ({ file, size, kind: kindOf(file) }));
  const kinds = new Set(files.map((f) => f.kind));
  expect([...kinds].sort()).toEqual(['config', 'data', 'index', 'keys', 'point', 'tree']);
  // The warm cache knows the index: restores through it read no index file.
  const warm = await run(['-q', 'image', 'restore', pointId, join(dir, 'warm.img')], origin, warmCache);
  expect(warm.code, warm.stderr).toBe(0);
  expect(readFileSync(join(dir, 'warm.img')).equals(readFileSync(image))).toBe(true);
  rmSync(join(dir, 'warm.img'));
}, 120_000);

afterAll(() => removeDir(dir));

function run(args: string[], repo: string, cache: string): Promise<RunResult> {
  return lifeboat(args, {
    env: { LIFEBOAT_REPO: repo, LIFEBOAT_PASSWORD: PASSWORD, LIFEBOAT_CACHE: cache },
  });
}

interface Flip {
  file: string;
  kind: Kind;
  offset: number;
  bit: number;
}

/** Offsets per kind, spread over the files of that kind: uniform, plus each file's first and last bytes. */
function chooseFlips(): Flip[] {
  const next = rng(SEED);
  const flips: Flip[] = [];
  for (const kind of Object.keys(FLIPS) as Kind[]) {
    const ofKind = files.filter((f) => f.kind === kind);
    for (let i = 0; i < FLIPS[kind]; i++) {
      const f = ofKind[i % ofKind.length]!;
      const edge = Math.floor(i / ofKind.length);
      const offset = edge === 0 ? 0 : edge === 1 ? f.size - 1 : Math.floor(next() * f.size);
      flips.push({ file: f.file, kind, offset, bit: Math.floor(next() * 8) });
    }
  }
  return flips;
}

/** The exit codes README.md documents for damage to each kind of file (besides 0 with the right bytes). */
function allowed(kind: Kind, r: RunResult): boolean {
  if (r.code === 3) return true; // damaged data
  if (kind !== 'config' && kind !== 'keys') return false;
  if (r.code === 4) return /wrong password or damaged key slot/.test(r.stderr); // fails authentication
  // A version or key derivation this build does not know: a newer release, or damage that still parses.
  return r.code === 1 && /this build/.test(r.stderr);
}

function oneLineError(stderr: string): string | undefined {
  if (/\n\s+at /.test(`\n${stderr}`) || stderr.includes('node:internal') || /\^\s*$/m.test(stderr))
    return 'a stack trace';
  const errors = stderr.split('\n').filter((l) => l.startsWith('error:'));
  if (errors.length !== 1) return `${errors.length} error lines`;
  return undefined;
}

describe(`single altered bytes over every kind of file (seed ${SEED})`, () => {
  // No retry: a failure here is real, and a second pass would double the cost.
  it('restore is byte-identical or fails cleanly with its exit code; check reports what restore trips over', {
    retry: 0,
    timeout: TIMEOUT_MS,
  }, async () => {
    const started = Date.now();
    const flips = chooseFlips();
    const source = readFileSync(image);
    expect(flips.length).toBeGreaterThanOrEqual(200);
    const failures: string[] = [];
    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    let next = 0;
    const lane = async (n: number) => {
      const repo = join(dir, `repo-${n}`);
      rmSync(repo, { recursive: true, force: true }); // a retry starts over
      cpSync(origin, repo, { recursive: true });
      const out = join(dir, `out-${n}`);
      const cold = join(dir, `cold-${n}`);
      const warm = join(dir, `warm-${n}`);
      rmSync(out, { recursive: true, force: true });
      mkdirSync(out);
      /**
       * The cache matters only where the index is read: a flip in an index file is restored with the cache both
       * empty and warm; any other flip with one of them, in turn (a cache of undamaged index files and no cache
       * read the same index), which keeps the CI cost of 200+ flips under three minutes.
       */
      const caches = (flip: Flip, i: number): Array<[string, string]> => {
        const both: Array<[string, string]> = [
          ['empty cache', cold],
          ['warm cache', warm],
        ];
        return flip.kind === 'index' ? both : [both[i % 2]!];
      };
      while (next < flips.length) {
        const i = next++;
        const flip = flips[i]!;
        const what = `${flip.file} byte ${flip.offset} bit ${flip.bit}`;
        const path = join(repo, flip.file);
        flipBit(path, flip.offset, flip.bit);
        try {
          rmSync(cold, { recursive: true, force: true });
          rmSync(warm, { recursive: true, force: true });
          cpSync(warmCache, warm, { recursive: true });
          const results: Array<[string, RunResult]> = [];
          for (const [label, cache] of caches(flip, i)) {
            const target = join(out, 'disk.img');
            const r = await run(['-q', 'image', 'restore', pointId, target, '--workers', '1'], repo, cache);
            results.push([label, r]);
            const left = readdirSync(out);
            if (r.code === 0) {
              if (!readFileSync(target).equals(source))
                failures.push(`${what}, ${label}: exit 0 with wrong bytes`);
              if (left.length !== 1) failures.push(`${what}, ${label}: left ${left.join(', ')}`);
            } else {
              const bad = oneLineError(r.stderr);
              if (bad) failures.push(`${what}, ${label}: exit ${r.code} with ${bad}:\n${r.stderr}`);
              if (!allowed(flip.kind, r))
                failures.push(`${what}, ${label}: exit ${r.code} is not documented for it: ${r.stderr}`);
              if (left.length) failures.push(`${what}, ${label}: exit ${r.code} left ${left.join(', ')}`);
            }
            count(`${flip.kind} restore (${label}) exit ${r.code}`);
            rmSync(out, { recursive: true, force: true });
            mkdirSync(out);
          }
          const check = await run(['-q', 'repo', 'check', '--read-data', '--workers', '1'], repo, cold);
          count(`${flip.kind} check exit ${check.code}`);
          if (check.code !== 0 && check.code !== 3 && !allowed(flip.kind, check))
            failures.push(`${what}: check exit ${check.code}: ${check.stderr}`);
          if (check.code !== 0 && check.code !== 3 && oneLineError(check.stderr))
            failures.push(
              `${what}: check exit ${check.code} with ${oneLineError(check.stderr)}:\n${check.stderr}`,
            );
          for (const [label, r] of results) {
            if (r.code !== 0 && check.code !== r.code)
              failures.push(
                `${what}: restore (${label}) exit ${r.code} but check exit ${check.code}:\n${r.stderr}\n${check.stdout}`,
              );
          }
        } finally {
          flipBit(path, flip.offset, flip.bit); // the lane's copy is whole again for the next flip
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, (_, n) => lane(n)));
    const summary = [...outcomes].sort().map(([k, v]) => `${k}: ${v}`);
    console.log(
      `byte-flip (seed ${SEED}): ${flips.length} flips in ${((Date.now() - started) / 1000).toFixed(1)} s\n${summary.join('\n')}`,
    );
    expect(failures, failures.slice(0, 10).join('\n\n')).toEqual([]);
    // The flips did reach every path: damage was found in each kind of file, and most data flips were seen.
    for (const kind of Object.keys(FLIPS) as Kind[])
      expect(outcomes.get(`${kind} check exit 3`) ?? 0, kind).toBeGreaterThan(0);
    // The copies were restored bit for bit after each flip.
    for (const f of files)
      expect(readFileSync(join(dir, 'repo-0', f.file)).equals(readFileSync(join(origin, f.file)))).toBe(true);
    expect(statSync(image).size).toBe(DISK_SIZE);
  });
});
