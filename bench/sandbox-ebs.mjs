// Sandbox EBS direct API benchmark: the sandbox's own CPU per GB it receives (PutSnapshotBlock, checksums verified)
// and serves (GetSnapshotBlock), and what an AWS SDK v3 client reads with 16-32 requests in flight.
//
// usage: npm run build && node bench/sandbox-ebs.mjs [--gib N] [--concurrency N] [--rounds N]
//
// The sandbox runs in a child process with every delay at zero; its CPU time comes from its admin API
// (/_sandbox/process, process.cpuUsage()), so the client's CPU is not counted. The client collects body chunks by
// hand and does not verify checksums. Each block is distinct so that the content-addressed store writes them all.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  CompleteSnapshotCommand,
  EBSClient,
  GetSnapshotBlockCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from '@aws-sdk/client-ebs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' }, // put | get
  },
});
const GIB = Number(values.gib);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const BLOCK = 524288;
const BLOCKS = GIB * 2048;
const GB = 1e9;
const DIST = new URL('../packages/sandbox/dist/index.js', import.meta.url).pathname;
const deadline = setTimeout(() => fail('benchmark took over 10 minutes'), 600_000);

const dataDir = mkdtempSync(join(tmpdir(), 'bench-sandbox-ebs-'));
// BENCH_PROF=file.cpuprofile writes a CPU profile of the sandbox process (stopped and written on SIGTERM).
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
const child = spawn(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `import { startSandbox } from ${JSON.stringify(DIST)};
     const sb = await startSandbox({ dataDir: ${JSON.stringify(dataDir)}, fast: true, adminToken: 'bench' });
     ${profiling}
     console.log(JSON.stringify({ endpoint: sb.endpoint, accounts: sb.accounts }));`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);

function fail(message) {
  console.error(message);
  child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(1);
}

const started = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const line = out.split('\n').find((l) => l.startsWith('{'));
    if (line) resolve(JSON.parse(line));
  });
  child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}`)));
});
const { endpoint, accounts } = started;

const client = new EBSClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: accounts[0].accessKeyId, secretAccessKey: accounts[0].secretAccessKey },
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }),
});

async function serverCpu() {
  const r = await fetch(`${endpoint}/_sandbox/process`, { headers: { authorization: 'Bearer bench' } });
  const { cpu } = await r.json();
  return (cpu.user + cpu.system) / 1e6;
}

/** Runs `work(i)` for i in [0, n) with `concurrency` in flight. */
async function pool(n, concurrency, work) {
  let next = 0;
  const lanes = Array.from({ length: concurrency }, async () => {
    while (next < n) await work(next++);
  });
  await Promise.all(lanes);
}

/** Measures one phase: wall time, sandbox CPU and client CPU. */
async function measure(bytes, run) {
  const s0 = await serverCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const server = (await serverCpu()) - s0;
  return {
    mbps: bytes / 1e6 / seconds,
    serverPerGB: server / (bytes / GB),
    clientPerGB: (c.user + c.system) / 1e6 / (bytes / GB),
  };
}

const base = Buffer.allocUnsafe(BLOCK);
for (let i = 0; i < BLOCK; i += 4) base.writeUInt32LE((i * 2654435761) >>> 0, i);

async function putAll(snapshotId) {
  await pool(BLOCKS, CONCURRENCY, async (i) => {
    const data = Buffer.from(base);
    data.writeUInt32LE(i, 0);
    data.writeUInt32LE(Number(snapshotId.slice(-6)) || 1, 4);
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
  await client.send(new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: BLOCKS }));
}

async function listAll(snapshotId) {
  const blocks = [];
  let token;
  do {
    const page = await client.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId, MaxResults: 10000, NextToken: token }));
    blocks.push(...page.Blocks);
    token = page.NextToken;
  } while (token);
  return blocks;
}

async function getAll(snapshotId, blocks) {
  await pool(blocks.length, CONCURRENCY, async (i) => {
    const b = blocks[i];
    const r = await client.send(new GetSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: b.BlockIndex, BlockToken: b.BlockToken }));
    let n = 0;
    const chunks = [];
    for await (const chunk of r.BlockData) {
      chunks.push(chunk);
      n += chunk.length;
    }
    if (n !== BLOCK) throw new Error(`block ${b.BlockIndex}: ${n} bytes`);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const puts = [];
const gets = [];
let lastSnapshot;
for (let round = 0; round < (values.only === 'get' ? 1 : ROUNDS); round++) {
  const { SnapshotId } = await client.send(new StartSnapshotCommand({ VolumeSize: GIB }));
  puts.push(await measure(BLOCKS * BLOCK, () => putAll(SnapshotId)));
  lastSnapshot = SnapshotId;
}
if (values.only !== 'put') {
  const blocks = await listAll(lastSnapshot);
  await getAll(lastSnapshot, blocks); // warm-up: connections, JIT
  for (let round = 0; round < ROUNDS; round++) gets.push(await measure(BLOCKS * BLOCK, () => getAll(lastSnapshot, blocks)));
}

const fmt = (rows, key) => `${median(rows.map((r) => r[key])).toFixed(2)} (${rows.map((r) => r[key].toFixed(2)).join(', ')})`;
console.log(`| phase | sandbox CPU-s/GB | client CPU-s/GB | MB/s |  (${GIB} GiB x ${ROUNDS} rounds, ${CONCURRENCY} in flight; median (runs))`);
console.log('|---|---|---|---|');
console.log(`| PutSnapshotBlock (checksums verified) | ${fmt(puts, 'serverPerGB')} | ${fmt(puts, 'clientPerGB')} | ${fmt(puts, 'mbps')} |`);
if (gets.length) {
  console.log(`| GetSnapshotBlock (SDK, chunks, no checksum) | ${fmt(gets, 'serverPerGB')} | ${fmt(gets, 'clientPerGB')} | ${fmt(gets, 'mbps')} |`);
}

clearTimeout(deadline);
if (prof) await new Promise((resolve) => child.once('exit', resolve).kill('SIGTERM'));
child.kill('SIGKILL');
rmSync(dataDir, { recursive: true, force: true });
process.exit(0);
