#!/usr/bin/env node
// Memory bound of the paged index (issue 6): peak RSS of `lifeboat image backup` of a 64 GiB sparse image with
// 16 GiB of new data into a repository that already holds 2 million chunks. See docs/benchmarks-memory.md.
//
//   npm run build && node bench/memory-2m.mjs                 # ~15-25 min on 2 cores, ~17 GB of disk at peak
//   node bench/memory-2m.mjs --chunks 200000 --data-gib 1     # quick check (~2 min)
//
// Options: --work DIR (default bench/work/memory-2m), --chunks N (2000000), --image-gib G (64), --data-gib G (16),
// --steps build,image,backup,baseline,restore,check (all by default), --keep (keep repository and image).
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
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const out = join(ROOT, 'bench/results', `memory-${o.chunks}.json`);
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${out}`);
  if (!o.keep) {
    rmSync(image, { force: true });
    rmSync(repo, { recursive: true, force: true });
    rmSync(join(o.work, 'cache'), { recursive: true, force: true });
  }
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
 * every 250 ms, so that the peak of the data path can be told apart from the key derivation's (scrypt N=2^17,
 * r=8 touches 128 MiB at open, before any index or data work).
 */
async function timed(label, env, args, bytes, allowDamage = false) {
  spawnSync('sync');
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
  if (status !== 0 && !(allowDamage && status === 3))
    throw new Error(`${label}: exit ${status}: ${stderr.slice(-2000)}`);
  const [wall, user, sys, rssKiB] = line.split(' ').map(Number);
  const res = {
    command: `/usr/bin/time -f %M node packages/cli/bin/lifeboat.js ${args.join(' ')}`,
    wall,
    user,
    sys,
  };
  res.peakRssMiB = Math.round(rssKiB / 1024);
  // after the first 3 s (key derivation and start-up): the index and the data path
  const late = samples.filter(([t]) => t > 3000).map(([, r]) => r);
  if (late.length) res.sampledRssAfter3sMaxMiB = Math.round(Math.max(...late) / 1024);
  if (bytes) res.mbPerS = Math.round(bytes / 1e6 / wall);
  console.log(
    `${label}: ${wall} s, peak RSS ${res.peakRssMiB} MiB` +
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
