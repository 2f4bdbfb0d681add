#!/usr/bin/env node
// Memory bound of the paged index (issue 6): peak RSS of `lifeboat image backup` of a 64 GiB sparse image with
// 16 GiB of new data into a repository that already holds 2 million chunks. See docs/benchmarks-memory.md.
//
//   npm run build && node bench/memory-2m.mjs                 # ~15-25 min on 2 cores, ~17 GB of disk at peak
//   node bench/memory-2m.mjs --chunks 200000 --data-gib 1     # quick check (~2 min)
//
//   node bench/memory-2m.mjs --steps build,points,prune        # prune and repo check at 2M chunks (~6 min)
//
// Options: --work DIR (default bench/work/memory-2m), --chunks N (2000000), --image-gib G (64), --data-gib G (16),
// --steps build,image,backup,baseline,restore,check (the default) and points,prune (on request), --keep (keep
// repository and image), --layout halves|alternate|shared (which chunks the two restore points of the points step
// reference: see layoutOf). Results are merged into bench/results/memory-<chunks>.json (steps not rerun keep
// theirs); prune results go to "prune" (layout halves) or "prune-<layout>".
// points: two synthetic restore points written with the repository's own BlobWriter / TreeBuilder / encodeLeaf /
// encodeManifest: with --layout halves, "synthetic-old" maps a disk of N/2 blocks to chunks 0..N/2-1 and
// "synthetic-new" one of N/2 blocks to chunks N/2..N-1 (block i -> chunk i of its set). prune: repo check (cold,
// then warm index cache), prune --dry-run, forget of the old point, prune (plan), prune --grace 0 (completes the
// plan), repo check, points; each under /usr/bin/time.
// The repository is built directly with the repository's own PackBuilder / sealBlob / encodeIndexFile (real,
// valid blobs: a zero block with a unique 64-byte tail, compressible to ~60 bytes), on two worker threads;
// everything timed runs through the CLI under /usr/bin/time.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const R = join(ROOT, 'packages/repository/dist');
const CHUNK = 524288;
const TAIL = 64;
const BLOBS_PER_PACK = 256;
const PACKS_PER_INDEX = 4; // 1024 entries per index file: ~2000 index files for 2M chunks
const PASSWORD = 'memory-2m benchmark';

/** Synthetic chunk k: zeros, then a unique 64-byte tail (never all-zero). */
function syntheticTail(k) {
  const tail = Buffer.alloc(TAIL, 0x5a);
  tail.write('lifeboat-synthetic-chunk', 0);
  tail.writeUInt32LE(k, 32);
  return tail;
}

if (!isMainThread) await buildWorker(workerData);
else await main();

async function buildWorker({ secret, repoId, repoDir, from, to }) {
  const { Codec } = await import(join(R, 'compress.js'));
  const { sealBlob } = await import(join(R, 'blob.js'));
  const { deriveMasterKey } = await import(join(R, 'crypto/keys.js'));
  const { idFromDigest } = await import(join(R, 'crypto/seal.js'));
  const { PackBuilder } = await import(join(R, 'pack.js'));
  const { encodeIndexFile, newIndexId } = await import(join(R, 'index/file.js'));
  const { LocalStore } = await import(join(R, 'store/local.js'));
  const { indexKey, packKey } = await import(join(R, 'format.js'));
  const key = deriveMasterKey(Buffer.from(secret), repoId);
  const codec = new Codec();
  const store = new LocalStore(repoDir);
  const block = Buffer.alloc(CHUNK);
  // SHA-256 midstate of the common zero prefix: one compression per chunk instead of 512 KiB of hashing.
  const prefix = createHash('sha256').update(block.subarray(0, CHUNK - TAIL));
  let entries = [];
  let packs = 0;
  let pack = new PackBuilder('data');
  const closePack = async () => {
    await store.put(packKey('data', pack.packId), pack.finish(key));
    entries.push(...pack.entries);
    pack = new PackBuilder('data');
    if (++packs % PACKS_PER_INDEX === 0) await writeIndex();
  };
  const writeIndex = async () => {
    if (!entries.length) return;
    const id = newIndexId();
    await store.put(indexKey(id), encodeIndexFile(key, codec, { id, supersedes: [], entries }));
    entries = [];
  };
  for (let k = from; k < to; k++) {
    syntheticTail(k).copy(block, CHUNK - TAIL);
    const id = idFromDigest(
      key.idKey,
      prefix
        .copy()
        .update(block.subarray(CHUNK - TAIL))
        .digest(),
    );
    pack.add(id, sealBlob(key, codec, id, block), CHUNK);
    if (pack.entries.length === BLOBS_PER_PACK) await closePack();
    if ((k - from) % 50_000 === 0) parentPort.postMessage({ progress: k - from });
  }
  if (pack.entries.length) await closePack();
  await writeIndex();
  parentPort.postMessage({ done: to - from });
}

function parseArgs() {
  const a = process.argv.slice(2);
  const opt = (name, def) => {
    const i = a.indexOf(`--${name}`);
    return i >= 0 ? a[i + 1] : def;
  };
  return {
    work: resolve(opt('work', join(ROOT, 'bench/work/memory-2m'))),
    chunks: Number(opt('chunks', 2_000_000)),
    imageGiB: Number(opt('image-gib', 64)),
    dataGiB: Number(opt('data-gib', 16)),
    steps: opt('steps', 'build,image,backup,baseline,restore,check').split(','),
    layout: opt('layout', 'halves'),
    keep: a.includes('--keep'),
  };
}

async function main() {
  const o = parseArgs();
  mkdirSync(o.work, { recursive: true });
  const repo = join(o.work, 'repo');
  const env = {
    ...process.env,
    LIFEBOAT_REPO: repo,
    LIFEBOAT_PASSWORD: PASSWORD,
    LIFEBOAT_CACHE: join(o.work, 'cache'),
  };
  const results = {
    chunks: o.chunks,
    imageGiB: o.imageGiB,
    dataGiB: o.dataGiB,
    node: process.version,
    runs: {},
  };
  const image = join(o.work, 'disk.img');
  if (o.steps.includes('build')) results.build = await buildRepository(o, repo, env);
  if (o.steps.includes('points')) results.points = await writePoints(o, repo);
  if (o.steps.includes('image')) results.image = writeImage(image, o);
  const dataBytes = o.dataGiB * 2 ** 30;
  if (o.steps.includes('backup')) {
    results.runs.backup = await timed(
      'backup (paged index, cold cache)',
      env,
      ['image', 'backup', image, '--json'],
      dataBytes,
    );
    results.runs.reopen = await timed('points (cache warm)', env, ['points', '--json'], 0);
  }
  if (o.steps.includes('baseline')) {
    // The v1 in-memory index, same repository, a small image: the index's own memory, without the data path.
    const small = join(o.work, 'small.img');
    writeImage(small, { imageGiB: 1, dataGiB: 0.25, salt: 7 });
    results.runs.smallPaged = await timed(
      'backup 256 MiB (paged)',
      env,
      ['image', 'backup', small, '--json'],
      2 ** 28,
    );
    results.runs.smallMemory = await timed(
      'backup 256 MiB (LIFEBOAT_INDEX=memory)',
      { ...env, LIFEBOAT_INDEX: 'memory' },
      ['image', 'backup', small, '--json'],
      2 ** 28,
    );
    rmSync(small, { force: true });
  }
  if (o.steps.includes('restore')) {
    const target = join(o.work, 'restored.img');
    if (statfsSync(o.work).bavail * statfsSync(o.work).bsize < dataBytes * 1.5) {
      console.log('restore skipped: not enough free disk');
    } else {
      const point = results.runs.backup?.output?.id ?? 'latest';
      results.runs.restore = await timed(
        'restore',
        env,
        ['image', 'restore', point, target, '--overwrite'],
        dataBytes,
      );
      results.restoreIdentical = sameSparse(image, target);
      console.log(`restore byte-identical: ${results.restoreIdentical}`);
      rmSync(target, { force: true });
    }
  }
  if (o.steps.includes('check'))
    results.runs.check = await timed('repo check', env, ['repo', 'check', '--json'], 0, true);
  if (o.steps.includes('prune')) {
    const p = await pruneRuns(repo, env);
    p.repository = { build: results.build, points: results.points };
    results[p.layout === 'halves' ? 'prune' : `prune-${p.layout}`] = p;
    results.points = undefined; // kept with the prune results it belongs to (JSON drops undefined)
  }
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const out = join(ROOT, 'bench/results', `memory-${o.chunks}.json`);
  writeFileSync(out, `${JSON.stringify(mergeResults(out, results), null, 2)}\n`);
  console.log(`\nresults: ${out}`);
  if (!o.keep) {
    rmSync(image, { force: true });
    rmSync(repo, { recursive: true, force: true });
    rmSync(join(o.work, 'cache'), { recursive: true, force: true });
  }
}

/**
 * The previous results of the same chunk count, overlaid with this run's: steps not rerun keep their figures. The
 * top-level build describes the repository of `runs`: kept when this run measured no step of `runs`.
 */
function mergeResults(out, results) {
  if (!existsSync(out)) return results;
  const old = JSON.parse(readFileSync(out, 'utf8'));
  const merged = { ...old, ...results, runs: { ...old.runs, ...results.runs } };
  if (old.build && (results.build?.reused || Object.keys(results.runs).length === 0))
    merged.build = old.build;
  return merged;
}

/** Chunk ids of the synthetic chunks ks (ascending), as buildWorker derives them (SHA-256 midstate of the zeros). */
function* syntheticIds(key, idFromDigest, ks) {
  const block = Buffer.alloc(CHUNK);
  const prefix = createHash('sha256').update(block.subarray(0, CHUNK - TAIL));
  for (const k of ks) yield idFromDigest(key.idKey, prefix.copy().update(syntheticTail(k)).digest());
}

/**
 * Which synthetic chunks each restore point references (--layout). The build's two workers fill packs of 256
 * chunks from chunk 0 and from chunk ceil(N/2), 4 packs to an index file.
 * - halves: old = chunks 0..N/2-1, new = N/2..N-1. Forgetting old leaves each data pack and each index file
 *   wholly used or wholly unused: nothing to repack, no index entry to carry over.
 * - alternate: old = the chunks of even-numbered packs, new = those of odd-numbered packs. Each index file names
 *   2 doomed and 2 live packs: completing the plan rewrites every index file's live entries.
 * - shared: old = chunks 0..N/2-1, new = N/2..N-1 and every 4th chunk of the first half. Forgetting old leaves
 *   the first half's packs a quarter used: they are repacked (their live blobs copied into new packs).
 */
const LAYOUTS = ['halves', 'alternate', 'shared'];
function layoutOf(name, n) {
  const per = Math.ceil(n / 2);
  const half = Math.floor(n / 2);
  const packOf = (k) => Math.floor((k < per ? k : k - per) / BLOBS_PER_PACK);
  const sets = {
    halves: { old: (k) => k < half, new: (k) => k >= half },
    alternate: { old: (k) => packOf(k) % 2 === 0, new: (k) => packOf(k) % 2 === 1 },
    shared: { old: (k) => k < half, new: (k) => k >= half || k % 4 === 0 },
  }[name];
  if (!sets) throw new Error(`--layout ${name}: one of ${LAYOUTS.join(', ')}`);
  const chunks = function* (take) {
    for (let k = 0; k < n; k++) if (take(k)) yield k;
  };
  return [
    { resource: 'synthetic-old', chunks: () => chunks(sets.old) },
    { resource: 'synthetic-new', chunks: () => chunks(sets.new) },
  ];
}

/**
 * Two restore points of two resources over the synthetic chunks, written as a backup writes them: leaves and
 * inner nodes through a BlobWriter (tree packs, then an index file), then the manifest. Block i of a point's disk
 * is the i-th chunk of its set (--layout). Each point has its own writer, so that their tree packs are apart.
 */
async function writePoints(o, repo) {
  const { Repository } = await import(join(R, 'repository.js'));
  const { LocalStore } = await import(join(R, 'store/local.js'));
  const { BlobWriter } = await import(join(R, 'writer.js'));
  const { TreeBuilder } = await import(join(R, 'tree/builder.js'));
  const { encodeLeaf } = await import(join(R, 'tree/codec.js'));
  const { encodeManifest } = await import(join(R, 'manifest.js'));
  const { newPointId } = await import(join(R, 'backup.js'));
  const { idFromDigest } = await import(join(R, 'crypto/seal.js'));
  const { LEAF_BLOCKS, pointKey } = await import(join(R, 'format.js'));
  const t0 = performance.now();
  // A private index cache (removed below): the CLI's cache stays as cold as the build left it.
  const cacheDir = join(o.work, 'points-cache');
  const r = await Repository.open(new LocalStore(repo), PASSWORD, { cacheDir });
  const existing = await r.points();
  const out = { layout: o.layout, seconds: 0, points: [] };
  const sets = layoutOf(o.layout, o.chunks);
  const index = await r.loadIndex();
  for (const set of sets) {
    const ks = [...set.chunks()];
    for (const [id, k] of zip(syntheticIds(r.key, idFromDigest, [ks[0], ks.at(-1)]), [ks[0], ks.at(-1)]))
      if (!index.get(id))
        throw new Error(`chunk ${k} is not in the repository: built with another --chunks?`);
  }
  for (const set of sets) {
    const had = existing.find((p) => p.resource.id === set.resource);
    if (had) {
      if (had.tags.layout !== o.layout)
        throw new Error(`${had.id} has layout ${had.tags.layout}, not ${o.layout}: use a new --work`);
      console.log(`points: ${set.resource} exists (${had.id})`);
      out.points.push({ id: had.id, resource: set.resource, reused: true });
      continue;
    }
    const startedAt = new Date().toISOString();
    let blocks = 0;
    for (const _ of set.chunks()) blocks++;
    const writer = new BlobWriter(r);
    const builder = new TreeBuilder(blocks, (plain) => writer.addTree(plain));
    let leaf = [];
    let leafIndex = 0;
    let block = 0;
    for (const id of syntheticIds(r.key, idFromDigest, set.chunks())) {
      leaf.push({ slot: block % LEAF_BLOCKS, id });
      block++;
      if (leaf.length === LEAF_BLOCKS || block === blocks) {
        await builder.pushLeaf(leafIndex++, await writer.addTree(encodeLeaf(leaf)));
        leaf = [];
      }
    }
    const tree = builder.finish();
    await writer.flush();
    const manifest = {
      format: 1,
      id: newPointId(),
      resource: { id: set.resource, kind: 'image' },
      disks: [
        {
          name: 'disk0',
          sizeBytes: blocks * CHUNK,
          tree: { root: tree.root.toString('hex'), height: tree.height },
          stats: { dataBlocks: blocks, blocksRead: 0, newChunks: 0, newBytesStored: writer.blobBytesAdded },
        },
      ],
      startedAt,
      finishedAt: new Date().toISOString(),
      tags: { synthetic: 'bench/memory-2m.mjs', layout: o.layout },
      client: 'lifeboat/0.1.0 bench/memory-2m.mjs',
    };
    await r.store.put(pointKey(manifest.id), encodeManifest(r.key, r.codec, manifest));
    out.points.push({
      id: manifest.id,
      resource: set.resource,
      chunks: blocks,
      leaves: leafIndex,
      treeHeight: tree.height,
      treePacks: writer.packsStored,
      treeBytes: writer.bytesStored,
    });
    console.log(
      `points: ${set.resource} ${manifest.id}: ${blocks} blocks, ${leafIndex} leaves, ${writer.packsStored} tree pack(s)`,
    );
  }
  index.close?.();
  rmSync(cacheDir, { recursive: true, force: true });
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

function* zip(a, b) {
  const ib = b[Symbol.iterator]();
  for (const x of a) yield [x, ib.next().value];
}

/**
 * Prune at N chunks: repo check with a cold and a warm index cache, dry run, forget the old point, plan,
 * complete, check again. The CLI's index cache is removed first: the first check builds it (besides its own
 * fresh index); every later command finds it warm.
 */
async function pruneRuns(repo, env) {
  const list = JSON.parse(run(env, ['points', '--json']).stdout);
  const old = list.find((p) => p.resource.id === 'synthetic-old');
  if (!old) throw new Error('no restore point of synthetic-old: run the points step first');
  rmSync(env.LIFEBOAT_CACHE, { recursive: true, force: true });
  const du = () => Number(spawnSync('du', ['-sb', repo], { encoding: 'utf8' }).stdout.split('\t')[0]);
  const out = {
    layout: old.tags.layout ?? 'halves',
    measuredAt: new Date().toISOString(),
    repoBytesBefore: du(),
    runs: {},
  };
  const steps = [
    ['checkCold', 'repo check (structure), cold index cache', ['repo', 'check', '--json']],
    ['checkWarm', 'repo check (structure), warm index cache', ['repo', 'check', '--json']],
    ['dryRun', 'prune --dry-run (nothing forgotten)', ['prune', '--dry-run', '--json']],
    ['forget', `forget ${old.id}`, ['forget', old.id, '--json']],
    ['plan', 'prune (makes the plan)', ['prune', '--json']],
    ['complete', 'prune --grace 0 (completes the plan)', ['prune', '--grace', '0', '--json']],
    ['checkAfter', 'repo check (after prune)', ['repo', 'check', '--json']],
    ['points', 'points', ['points', '--json']],
  ];
  for (const [name, label, args] of steps) {
    out.runs[name] = await timed(label, env, args, 0, name.startsWith('check'), true);
    if (out.runs[name].failed) break; // what follows would measure nothing
  }
  out.repoBytesAfter = du();
  console.log(
    `prune: repository ${(out.repoBytesBefore / 2 ** 20).toFixed(0)} -> ${(out.repoBytesAfter / 2 ** 20).toFixed(0)} MiB`,
  );
  return out;
}

async function buildRepository(o, repo, env) {
  if (existsSync(join(repo, 'config'))) {
    console.log(`reusing ${repo}`);
    return { reused: true };
  }
  const t0 = performance.now();
  run(env, ['repo', 'init']);
  const { Repository } = await import(join(R, 'repository.js'));
  const { LocalStore } = await import(join(R, 'store/local.js'));
  const r = await Repository.open(new LocalStore(repo), PASSWORD, { index: 'memory' });
  const threads = 2;
  const per = Math.ceil(o.chunks / threads);
  const done = [];
  for (let t = 0; t < threads; t++) {
    const from = t * per;
    const to = Math.min(o.chunks, from + per);
    done.push(
      new Promise((ok, fail) => {
        const w = new Worker(fileURLToPath(import.meta.url), {
          workerData: { secret: r.key.secret, repoId: r.id, repoDir: repo, from, to },
        });
        w.on('message', (m) => {
          if (m.progress !== undefined && t === 0)
            process.stdout.write(`\rbuild: ${m.progress * threads} chunks`);
          if (m.done !== undefined) ok(m.done);
        });
        w.on('error', fail);
      }),
    );
  }
  await Promise.all(done);
  const seconds = (performance.now() - t0) / 1000;
  const du = spawnSync('du', ['-sb', repo], { encoding: 'utf8' }).stdout.split('\t')[0];
  console.log(
    `\rbuild: ${o.chunks} chunks in ${seconds.toFixed(0)} s, repository ${(du / 2 ** 20).toFixed(0)} MiB`,
  );
  return { seconds, repoBytes: Number(du) };
}

/**
 * A sparse image of imageGiB with dataGiB of unique, compressible blocks spread over it (every k-th block), plus
 * one block in 16 more that repeats a chunk the repository already holds (deduplication hits: index page reads).
 */
function writeImage(path, o) {
  const t0 = performance.now();
  const blocks = (o.imageGiB * 2 ** 30) / CHUNK;
  const data = Math.round((o.dataGiB * 2 ** 30) / CHUNK);
  const stride = Math.floor(blocks / (data + data / 16));
  const fd = openSync(path, 'w');
  ftruncateSync(fd, o.imageGiB * 2 ** 30);
  const template = Buffer.alloc(CHUNK);
  for (let p = 0; p < CHUNK; p += 64)
    template.write(`Lifeboat bench ${p.toString(36)} compressible text. `, p);
  const block = Buffer.alloc(CHUNK);
  let written = 0;
  let dups = 0;
  for (let i = 0, b = 0; written < data; i++, b += stride) {
    if (i % 17 === 16) {
      block.fill(0);
      syntheticTail((i * 977) % (o.chunks ?? 1)).copy(block, CHUNK - TAIL);
      dups++;
    } else {
      template.copy(block);
      // unique per block and per 4 KiB page, still ~20x compressible
      for (let p = 0; p < CHUNK; p += 4096) {
        block.writeUInt32LE(b ^ (o.salt ?? 0), p + 8);
        block.writeUInt16LE(p >> 12, p + 12);
      }
      written++;
    }
    writeSync(fd, block, 0, CHUNK, b * CHUNK);
  }
  closeSync(fd);
  const seconds = (performance.now() - t0) / 1000;
  console.log(
    `image: ${path} ${o.imageGiB} GiB, ${written} new + ${dups} known blocks, ${seconds.toFixed(0)} s`,
  );
  return { seconds, newBlocks: written, knownBlocks: dups };
}

function run(env, args) {
  const r = spawnSync(process.execPath, [join(ROOT, 'packages/cli/bin/lifeboat.js'), ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`lifeboat ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r;
}

/**
 * One CLI command under /usr/bin/time: wall, user, sys, peak RSS (KiB) of the process. The RSS is also sampled
 * every 250 ms, so that the peak of the data path can be told apart from the key derivation's (scrypt touches
 * 64-128 MiB at open, depending on the slot's parameters, before any index or data work).
 */
async function timed(label, env, args, bytes, allowDamage = false, recordFailure = false) {
  spawnSync('sync');
  const load0 = loadavg()[0];
  const cmd = ['-f', '%e %U %S %M', process.execPath, join(ROOT, 'packages/cli/bin/lifeboat.js'), ...args];
  const child = spawn('/usr/bin/time', cmd, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const samples = [];
  const started = performance.now();
  const timer = setInterval(() => {
    const rss = rssOfChild(child.pid);
    if (rss) samples.push([Math.round(performance.now() - started), rss]);
  }, 250);
  const status = await new Promise((ok) => child.on('close', ok));
  clearInterval(timer);
  const line = stderr.trim().split('\n').at(-1);
  const failed = status !== 0 && !(allowDamage && status === 3);
  if (failed && !recordFailure) throw new Error(`${label}: exit ${status}: ${stderr.slice(-2000)}`);
  const [wall, user, sys, rssKiB] = line.split(' ').map(Number);
  const res = {
    command: `/usr/bin/time -f %M node packages/cli/bin/lifeboat.js ${args.join(' ')}`,
    wall,
    user,
    sys,
    cpu: Math.round((user + sys) * 100) / 100,
    // 1-minute load average before and after (the machine is shared)
    load: [load0, loadavg()[0]].map((l) => Math.round(l * 100) / 100),
  };
  res.peakRssMiB = Math.round(rssKiB / 1024);
  // after the first 3 s (key derivation and start-up): the index and the data path
  const late = samples.filter(([t]) => t > 3000).map(([, r]) => r);
  if (late.length) res.sampledRssAfter3sMaxMiB = Math.round(Math.max(...late) / 1024);
  if (bytes) res.mbPerS = Math.round(bytes / 1e6 / wall);
  if (failed) {
    // the CLI's one-line error (the line before /usr/bin/time's own two)
    res.failed = { status, error: stderr.trim().split('\n').at(-3) };
    console.log(`${label}: FAILED (exit ${status}): ${res.failed.error}`);
  }
  console.log(
    `${label}: ${wall} s (cpu ${res.cpu} s, load ${res.load.join('/')}), peak RSS ${res.peakRssMiB} MiB` +
      (late.length ? ` (after 3 s: max ${res.sampledRssAfter3sMaxMiB} MiB)` : '') +
      (bytes ? `, ${res.mbPerS} MB/s` : ''),
  );
  try {
    res.output = JSON.parse(stdout);
  } catch {
    res.output = stdout.slice(0, 500);
  }
  return res;
}

/** VmRSS (KiB) of the node process that /usr/bin/time started. */
function rssOfChild(timePid) {
  try {
    const kids = readFileSync(`/proc/${timePid}/task/${timePid}/children`, 'utf8').trim().split(' ');
    const status = readFileSync(`/proc/${kids[0]}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function sameSparse(a, b) {
  const r = spawnSync('cmp', ['-s', a, b]);
  return r.status === 0;
}
