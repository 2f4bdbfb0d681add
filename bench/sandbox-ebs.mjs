// Sandbox EBS direct API benchmark: the sandbox's own CPU per GB it receives (PutSnapshotBlock, checksums verified)
// and serves (GetSnapshotBlock), and what an AWS SDK v3 client reads with 16-32 requests in flight.
//
// usage: npm run build && node bench/sandbox-ebs.mjs [--gib N] [--concurrency N] [--rounds N] [--only put|get]
//                                                     [--buffered-too] [--no-baseline] [--versus DIR]
//                                                     [--bare-buffered] [--no-floor] [--client-threads N]
//
// The sandbox runs in a child process with every delay at zero; its CPU time comes from its admin API
// (/_sandbox/process, process.cpuUsage()), so the client's CPU is not counted. The client collects body chunks by
// hand and does not verify checksums. Each block is distinct, as real data would be.
//
// Each round also runs the same client against a bare node:http server doing the least a server must (pooled
// aligned buffers, SHA-256 of each received block checked and written to a file with O_DIRECT; blocks read from
// that file with O_DIRECT; --bare-buffered: through the page cache), and a floor server with no disk at all (PUT:
// received and SHA-256 checked; GET: a pooled buffer sent; --no-floor leaves it out), so that the
// sandbox's figures can be read against what this machine costs at the same moment: the build VM is shared and
// its figures move by 2x with the load. Dirty pages are flushed (sync) before each measured phase.
// --buffered-too also runs a second sandbox with direct I/O off (block files through the page cache), interleaved.
// --versus DIR also runs the sandbox built in DIR (a checkout of another commit: `git worktree add DIR REV`, link
// node_modules, `npx tsc -b packages/sandbox`), interleaved round by round: A/B between builds in one run.
// --client-threads N (N > 1) adds a GET phase read by N worker threads of the client process, each with its own
// SDK client and concurrency/N requests in flight (as Lifeboat's workers read): what the sandbox serves when one
// JavaScript thread of SDK client is not the limit.
// BENCH_PROF=file.cpuprofile writes a CPU profile of the sandbox process.
//
// A failed request does not stop its phase: the phase is finished, its failures counted, and the run stops there
// with the phase and the first errors named, the figures measured so far, and exit code 1. The server processes
// are killed on every way out (end, failure, SIGINT/SIGTERM/SIGHUP, uncaught error), and each exits by itself
// when its stdin (a pipe from this process) closes, so that not even a SIGKILL of the benchmark leaves them running.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import {
  CompleteSnapshotCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { clientFor, describeError, inFlight, RequestsFailed, readBlocks } from './lib/ebs-client.mjs';
import { ORPHAN_GUARD, stopOnExit } from './lib/servers.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
    'buffered-too': { type: 'boolean', default: false },
    versus: { type: 'string' },
    'bare-buffered': { type: 'boolean', default: false },
    'no-floor': { type: 'boolean', default: false },
    'client-threads': { type: 'string', default: '1' },
  },
});
const GIB = Number(values.gib);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const CLIENT_THREADS = Number(values['client-threads']);
const BLOCK = 524288;
const BLOCKS = GIB * 2048;
const GB = 1e9;
const DIST = new URL('../packages/sandbox/dist/index.js', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'bench-sandbox-ebs-'));
const children = [];
let stopping = false; // set once the run is over: servers exiting then are no news
const deadline = setTimeout(() => finish(1, 'benchmark took over 10 minutes'), 600_000);

// Every way out kills the servers and removes their data (lib/servers.mjs).
stopOnExit(children, () => rmSync(dataDir, { recursive: true, force: true }));

function finish(code, message) {
  if (message) console.error(message);
  process.exit(code);
}

const prof = process.env.BENCH_PROF;
const profiling = prof
  ? `const { Session } = await import('node:inspector');
     const { writeFileSync } = await import('node:fs');
     const s = new Session(); s.connect();
     const post = (m, p) => new Promise((ok, no) => s.post(m, p, (e, r) => (e ? no(e) : ok(r))));
     await post('Profiler.enable'); await post('Profiler.start');
     process.on('SIGTERM', async () => {
       const { profile } = await post('Profiler.stop');
       writeFileSync(${JSON.stringify(prof)}, JSON.stringify(profile));
       process.exit(0);
     });`
  : '';

const SANDBOX = (name, directIo, dist = DIST) => `import { startSandbox } from ${JSON.stringify(dist)};
  ${ORPHAN_GUARD}
  const sb = await startSandbox({ dataDir: ${JSON.stringify(join(dataDir, name))}, fast: true, adminToken: 'bench', directIo: ${directIo} });
  ${directIo ? profiling : ''}
  console.log(JSON.stringify({ endpoint: sb.endpoint, accounts: sb.accounts }));`;

// The least an EBS-like server must do, without auth, routing, tokens or state. Its block file is written and read
// with O_DIRECT from aligned pooled buffers, as the sandbox's are (--bare-buffered: through the page cache), so that
// both pay the same for the disk: on this VM page-cache writes cost 1.5-4 CPU-s per GiB of fresh pages.
// io 'memory' is the floor: no disk at all (PUT receives and checks SHA-256, GET sends a pooled buffer), i.e. what
// node:http and the kernel's loopback cost on this machine at this moment, whatever a server does.
const BARE = (io) => `import { createServer } from 'node:http';
  import { createHash } from 'node:crypto';
  import { constants, openSync, readSync, writeSync } from 'node:fs';
  ${ORPHAN_GUARD}
  const io = ${JSON.stringify(io)};
  const path = ${JSON.stringify(join(dataDir, 'bare.dat'))} + (io === 'memory' ? '' : '.' + process.pid);
  const open = (flags) => openSync(path, constants.O_RDWR | constants.O_CREAT | flags, 0o644);
  let fd;
  if (io !== 'memory') {
    try { fd = open(io === 'direct' ? constants.O_DIRECT : 0); } catch { fd = open(0); } // no O_DIRECT here
  }
  const pool = [];
  // 512 KiB slices of a WebAssembly memory start on page boundaries; Node Buffers need not (O_DIRECT: EINVAL).
  const block = () => Buffer.from(new WebAssembly.Memory({ initial: 8 }).buffer, 0, 524288);
  // As the sandbox does at start (packages/sandbox/src/server/malloc.ts): glibc then keeps freed heap for reuse.
  Buffer.allocUnsafeSlow(16 * 1024 * 1024);
  let slots = 0;
  // Idle keep-alive connections stay open, as the sandbox's do (its server.ts, issue 14): Node's default closes them
  // after 5 s (+ 1 s), while this server's client sits idle through the other servers' phases.
  const server = createServer({ keepAliveTimeout: 0 }, (req, res) => {
    if (req.url.startsWith('/_sandbox/process')) return res.end(JSON.stringify({ cpu: process.cpuUsage() }));
    const buf = pool.pop() ?? block();
    if (req.method === 'PUT') {
      let got = 0;
      req.on('data', (c) => { c.copy(buf, got); got += c.length; });
      req.on('end', () => {
        const sum = createHash('sha256').update(buf).digest('base64');
        if (sum !== req.headers['x-amz-checksum']) throw new Error('bad checksum');
        if (fd !== undefined) writeSync(fd, buf, 0, 524288, slots++ * 524288);
        pool.push(buf);
        res.writeHead(201, { 'x-amz-Checksum': sum, 'x-amz-Checksum-Algorithm': 'SHA256', 'content-length': 0 });
        res.end();
      });
      return;
    }
    const index = Number(req.url.split('?')[0].split('/')[4]);
    if (fd !== undefined) readSync(fd, buf, 0, 524288, index * 524288);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 524288,
      'x-amz-Data-Length': 524288, 'x-amz-Checksum': 'precomputed', 'x-amz-Checksum-Algorithm': 'SHA256' });
    res.once('finish', () => pool.push(buf));
    res.end(buf);
  });
  server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ endpoint: 'http://127.0.0.1:' + server.address().port })));`;

function startChild(name, script) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  child.stdin.on('error', () => {}); // EPIPE once the child is gone
  return new Promise((resolve, reject) => {
    let out = '';
    let started = false;
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && !started) {
        started = true;
        resolve({ name, child, ...JSON.parse(line) });
      }
    });
    child.once('exit', (code, signal) => {
      if (!started) reject(new Error(`${name} server exited with ${code ?? signal} before it listened`));
      // A server gone mid-run shows as failed requests; this says why.
      else if (!stopping) console.error(`${name} server (pid ${child.pid}) exited with ${code ?? signal}`);
    });
  });
}

async function serverCpu(endpoint) {
  const r = await fetch(`${endpoint}/_sandbox/process`, { headers: { authorization: 'Bearer bench' } });
  const { cpu } = await r.json();
  return (cpu.user + cpu.system) / 1e6;
}

/** The process's minor page faults so far (field 10 of /proc/PID/stat, counted after the command name). */
function minorFaults(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
}

/**
 * Measures one phase: wall time, server CPU and client CPU. Dirty pages are flushed first: past the kernel's
 * dirty threshold (about 2 GB here) every page-cache write is throttled and costs the writer 1.5-2.5 CPU-s per
 * GiB instead of 0.2 on this VM, which measures the disk, not the server.
 */
async function measure(server, run) {
  const endpoint = server.endpoint;
  execFileSync('sync');
  const bytes = BLOCKS * BLOCK;
  const f0 = minorFaults(server.child.pid);
  const s0 = await serverCpu(endpoint);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const serverSeconds = (await serverCpu(endpoint)) - s0;
  const faults = minorFaults(server.child.pid) - f0;
  return {
    mbps: bytes / 1e6 / seconds,
    serverPerGB: serverSeconds / (bytes / GB),
    // Fresh memory the server touched (4 KiB pages per GB received or sent): on this VM each GiB of it costs
    // 0.5-2.5 CPU-s, so allocation churn shows here before it shows in a profile.
    faultMiBPerGB: (faults * 4096) / 2 ** 20 / (bytes / GB),
    clientPerGB: (c.user + c.system) / 1e6 / (bytes / GB),
  };
}

const base = Buffer.allocUnsafe(BLOCK);
for (let i = 0; i < BLOCK; i += 4) base.writeUInt32LE((i * 2654435761) >>> 0, i);
let generation = 0;

async function putAll(client, snapshotId) {
  const gen = ++generation;
  await inFlight(BLOCKS, CONCURRENCY, async (i) => {
    const data = Buffer.from(base);
    data.writeUInt32LE(i, 0);
    data.writeUInt32LE(gen, 4);
    const checksum = createHash('sha256').update(data).digest('base64');
    await client.send(
      new PutSnapshotBlockCommand({
        SnapshotId: snapshotId,
        BlockIndex: i,
        BlockData: data,
        DataLength: BLOCK,
        Checksum: checksum,
        ChecksumAlgorithm: 'SHA256',
      }),
    );
  });
}

function getAll(client, snapshotId, blocks) {
  return readBlocks(client, snapshotId, blocks, CONCURRENCY, BLOCK);
}

/** N reader threads (bench/lib/ebs-reader.mjs), each with its own SDK client; read() splits blocks among them. */
function threadedReader(endpoint, account, n) {
  const url = new URL('./lib/ebs-reader.mjs', import.meta.url);
  const workerData = { endpoint, account, concurrency: Math.max(1, CONCURRENCY / n), blockSize: BLOCK };
  const workers = Array.from({ length: n }, () => new Worker(url, { workerData }));
  const one = (w, snapshotId, blocks) =>
    new Promise((resolve, reject) => {
      const fail = (e) => {
        w.off('message', done);
        reject(e);
      };
      const done = (m) => {
        w.off('error', fail);
        resolve(m);
      };
      w.once('message', done);
      w.once('error', fail);
      w.postMessage({ snapshotId, blocks });
    });
  return {
    read: async (snapshotId, blocks) => {
      const answers = await Promise.all(
        workers.map((w, i) =>
          one(
            w,
            snapshotId,
            blocks.filter((_, j) => j % n === i),
          ),
        ),
      );
      const failed = answers.filter((m) => !m.ok);
      if (failed.length) {
        const count = failed.reduce((sum, m) => sum + m.failed, 0);
        throw new RequestsFailed(count, blocks.length, failed.flatMap((m) => m.errors).slice(0, 3));
      }
    },
    close: () => Promise.all(workers.map((w) => w.terminate())),
  };
}

const sandbox = await startChild('sandbox', SANDBOX('sandbox', true));
const buffered = values['buffered-too']
  ? await startChild('sandbox-buffered', SANDBOX('sandbox-buffered', false))
  : undefined;
// --versus DIR: the sandbox of another build (a worktree of an earlier commit, built), interleaved with this one.
const versus = values.versus
  ? await startChild(
      'sandbox-versus',
      SANDBOX('sandbox-versus', true, join(values.versus, 'packages/sandbox/dist/index.js')),
    )
  : undefined;
const bare = values['no-baseline']
  ? undefined
  : await startChild('bare', BARE(values['bare-buffered'] ? 'buffered' : 'direct'));
const bareClient = bare && clientFor(bare.endpoint, sandbox.accounts[0]);
const floor =
  values['no-baseline'] || values['no-floor'] ? undefined : await startChild('floor', BARE('memory'));
const floorClient = floor && clientFor(floor.endpoint, sandbox.accounts[0]);
const sandboxes = [
  { key: 'sandbox', server: sandbox, client: clientFor(sandbox.endpoint, sandbox.accounts[0]) },
  ...(buffered
    ? [{ key: 'buffered', server: buffered, client: clientFor(buffered.endpoint, buffered.accounts[0]) }]
    : []),
  ...(versus
    ? [{ key: 'versus', server: versus, client: clientFor(versus.endpoint, versus.accounts[0]) }]
    : []),
];

/** Runs one step of the benchmark; a failure names the step and the server it ran against. */
async function step(label, server, run) {
  try {
    return await run();
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    error.step ??= `${label}, ${server.name} server`;
    throw error;
  }
}

/** One snapshot written through the EBS direct API; the last one is kept for reading. */
async function sandboxPut({ server, client }, label) {
  const { SnapshotId } = await step(`${label} StartSnapshot`, server, () =>
    client.send(new StartSnapshotCommand({ VolumeSize: GIB })),
  );
  const m = await step(label, server, () => measure(server, () => putAll(client, SnapshotId)));
  await step(`${label} CompleteSnapshot`, server, () =>
    client.send(new CompleteSnapshotCommand({ SnapshotId, ChangedBlocksCount: BLOCKS })),
  );
  return { m, SnapshotId };
}

async function listAll(client, snapshotId) {
  const blocks = [];
  let token;
  do {
    const page = await client.send(
      new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, MaxResults: 10000, NextToken: token }),
    );
    blocks.push(...page.Blocks);
    token = page.NextToken;
  } while (token);
  return blocks;
}

const results = {
  sandboxPut: [],
  bufferedPut: [],
  versusPut: [],
  versusGet: [],
  barePut: [],
  floorPut: [],
  sandboxGet: [],
  bufferedGet: [],
  bareGet: [],
  floorGet: [],
  threadedGet: [],
};

async function run() {
  const snapshot = {};
  const putRounds = values.only === 'get' ? 1 : ROUNDS;
  if (values.only !== 'get') {
    // Warm-up, unmeasured (as for GET below): connections, and the JIT, which makes a first round ~30 % dearer.
    for (const { server, client } of sandboxes) {
      const { SnapshotId } = await step('warm-up StartSnapshot', server, () =>
        client.send(new StartSnapshotCommand({ VolumeSize: GIB })),
      );
      await step('warm-up PUT', server, () => putAll(client, SnapshotId));
    }
    if (bareClient) await step('warm-up PUT', bare, () => putAll(bareClient, 'snap-bare'));
    if (floorClient) await step('warm-up PUT', floor, () => putAll(floorClient, 'snap-floor'));
  }
  for (let round = 0; round < putRounds; round++) {
    const label = `PUT round ${round + 1}`;
    for (const sb of sandboxes) {
      const { m, SnapshotId } = await sandboxPut(sb, label);
      results[`${sb.key}Put`].push(m);
      snapshot[sb.key] = SnapshotId;
    }
    if (bareClient)
      results.barePut.push(
        await step(label, bare, () => measure(bare, () => putAll(bareClient, 'snap-bare'))),
      );
    if (floorClient)
      results.floorPut.push(
        await step(label, floor, () => measure(floor, () => putAll(floorClient, 'snap-floor'))),
      );
  }
  if (values.only === 'put') return;
  const blocks = {};
  for (const sb of sandboxes) {
    blocks[sb.key] = await step('ListSnapshotBlocks', sb.server, () => listAll(sb.client, snapshot[sb.key]));
    // warm-up: connections, JIT
    await step('warm-up GET', sb.server, () => getAll(sb.client, snapshot[sb.key], blocks[sb.key]));
  }
  if (bareClient) await step('warm-up GET', bare, () => getAll(bareClient, 'snap-bare', blocks.sandbox));
  if (floorClient) await step('warm-up GET', floor, () => getAll(floorClient, 'snap-floor', blocks.sandbox));
  for (let round = 0; round < ROUNDS; round++) {
    const label = `GET round ${round + 1}`;
    for (const sb of sandboxes) {
      results[`${sb.key}Get`].push(
        await step(label, sb.server, () =>
          measure(sb.server, () => getAll(sb.client, snapshot[sb.key], blocks[sb.key])),
        ),
      );
    }
    if (bareClient)
      results.bareGet.push(
        await step(label, bare, () => measure(bare, () => getAll(bareClient, 'snap-bare', blocks.sandbox))),
      );
    if (floorClient)
      results.floorGet.push(
        await step(label, floor, () =>
          measure(floor, () => getAll(floorClient, 'snap-floor', blocks.sandbox)),
        ),
      );
  }
  if (CLIENT_THREADS > 1) {
    const reader = threadedReader(sandbox.endpoint, sandbox.accounts[0], CLIENT_THREADS);
    try {
      const threaded = `GET in ${CLIENT_THREADS} client threads`;
      await step(`warm-up ${threaded}`, sandbox, () => reader.read(snapshot.sandbox, blocks.sandbox));
      for (let round = 0; round < ROUNDS; round++) {
        results.threadedGet.push(
          await step(`${threaded}, round ${round + 1}`, sandbox, () =>
            measure(sandbox, () => reader.read(snapshot.sandbox, blocks.sandbox)),
          ),
        );
      }
    } finally {
      await reader.close();
    }
  }
}

function report() {
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const fmt = (rows, key) =>
    `${median(rows.map((r) => r[key])).toFixed(2)} (${rows.map((r) => r[key].toFixed(2)).join(', ')})`;
  const row = (name, rows) =>
    rows.length &&
    console.log(
      `| ${name} | ${fmt(rows, 'serverPerGB')} | ${fmt(rows, 'faultMiBPerGB')} | ${fmt(rows, 'clientPerGB')} | ${fmt(rows, 'mbps')} |`,
    );
  console.log(
    `${GIB} GiB per round, ${ROUNDS} rounds, ${CONCURRENCY} requests in flight; median (each round)`,
  );
  console.log('| phase | server CPU-s/GB | server fresh pages MiB/GB | client CPU-s/GB | MB/s |');
  console.log('|---|---|---|---|---|');
  if (Object.values(results).every((rows) => rows.length === 0))
    console.log('| (no phase completed) | | | | |');
  row('sandbox PutSnapshotBlock (checksums verified; block files O_DIRECT)', results.sandboxPut);
  row('sandbox PutSnapshotBlock, direct I/O off (page cache)', results.bufferedPut);
  row(`sandbox PutSnapshotBlock of ${values.versus}`, results.versusPut);
  const bareIo = values['bare-buffered'] ? 'through the page cache' : 'O_DIRECT';
  row(`bare server PUT (SHA-256 checked, written ${bareIo})`, results.barePut);
  row('floor: bare server PUT, no disk (received, SHA-256 checked)', results.floorPut);
  row('sandbox GetSnapshotBlock (SDK, chunks, no checksum; O_DIRECT reads)', results.sandboxGet);
  row(
    `sandbox GetSnapshotBlock, SDK in ${CLIENT_THREADS} client threads × ${Math.max(1, CONCURRENCY / CLIENT_THREADS)} in flight`,
    results.threadedGet,
  );
  row('sandbox GetSnapshotBlock, direct I/O off (page cache)', results.bufferedGet);
  row(`sandbox GetSnapshotBlock of ${values.versus}`, results.versusGet);
  row(`bare server GET (pread ${bareIo}, pooled buffers)`, results.bareGet);
  row('floor: bare server GET, no disk (a pooled buffer sent)', results.floorGet);
}

let failure;
try {
  await run();
} catch (e) {
  failure = e;
}
clearTimeout(deadline);
stopping = true;
if (failure) {
  const what = failure instanceof RequestsFailed ? failure.message : describeError(failure);
  console.error(`FAILED in ${failure.step ?? 'the benchmark'}: ${what}`);
  if (!(failure instanceof RequestsFailed) && failure.stack) console.error(failure.stack);
  console.error('The figures below are of the phases that completed before it; the run stopped there.');
}
report();
if (prof) await new Promise((resolve) => sandbox.child.once('exit', resolve).kill('SIGTERM'));
finish(failure ? 1 : 0);
