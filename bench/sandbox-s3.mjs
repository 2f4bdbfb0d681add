// Sandbox S3 benchmark: PutObject and GetObject of 32 MiB objects through the AWS SDK v3 (default checksums:
// aws-chunked body with a CRC32 trailer on PUT, CRC32 verified by the SDK on GET), in MB/s, and the sandbox's own
// CPU-seconds per GB moved.
//
// usage: npm run build && node bench/sandbox-s3.mjs [--objects N] [--concurrency N] [--rounds N]
//
// The sandbox runs in a child process with every delay at zero; its CPU time comes from its admin API
// (/_sandbox/process, process.cpuUsage()), so the client's CPU is not counted. Objects are distinct. Dirty pages are
// flushed (sync) before each measured phase.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ORPHAN_GUARD, stopOnExit } from './lib/servers.mjs';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '32' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
  },
});
const OBJECTS = Number(values.objects);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const SIZE = 32 * 1024 * 1024;
const GB = 1e9;
const DIST = new URL('../packages/sandbox/dist/index.js', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'bench-sandbox-s3-'));
let child;
const children = [];
const deadline = setTimeout(() => finish(1, 'benchmark took over 10 minutes'), 600_000);
// Every way out (end, failure, signal) kills the sandbox and removes its data (lib/servers.mjs).
stopOnExit(children, () => rmSync(dataDir, { recursive: true, force: true }));

function finish(code, message) {
  if (message) console.error(message);
  process.exit(code);
}

const SANDBOX = `import { startSandbox } from ${JSON.stringify(DIST)};
  ${ORPHAN_GUARD}
  const sb = await startSandbox({ dataDir: ${JSON.stringify(join(dataDir, 'sandbox'))}, fast: true, adminToken: 'bench' });
  console.log(JSON.stringify({ endpoint: sb.endpoint, accounts: sb.accounts }));`;

function startChild() {
  child = spawn(process.execPath, ['--input-type=module', '-e', SANDBOX], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  child.stdin.on('error', () => {}); // EPIPE once the child is gone
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.on('exit', (code) => reject(new Error(`sandbox exited with ${code}`)));
  });
}

async function sandboxCpu(endpoint) {
  const r = await fetch(`${endpoint}/_sandbox/process`, { headers: { authorization: 'Bearer bench' } });
  const { cpu } = await r.json();
  return (cpu.user + cpu.system) / 1e6;
}

function objectBytes(i) {
  const b = Buffer.allocUnsafe(SIZE);
  let x = (i + 1) * 2654435761;
  for (let p = 0; p < SIZE; p += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, p);
  }
  return b;
}

async function pool(n, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

async function measure(endpoint, label, work) {
  execFileSync('sync');
  const cpu0 = await sandboxCpu(endpoint);
  const t0 = performance.now();
  await pool(OBJECTS, work);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = (await sandboxCpu(endpoint)) - cpu0;
  const bytes = OBJECTS * SIZE;
  return { label, mbps: bytes / 1e6 / seconds, cpuPerGB: cpu / (bytes / GB) };
}

const { endpoint, accounts } = await startChild();
const a = accounts[0];
const client = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
  maxAttempts: 1,
});
await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
const bodies = Array.from({ length: Math.min(OBJECTS, 8) }, (_, i) => objectBytes(i));
const results = [];
for (let r = 0; r < ROUNDS; r++) {
  results.push(
    await measure(endpoint, 'put', (i) =>
      client.send(new PutObjectCommand({ Bucket: 'bench', Key: `o/${i}`, Body: bodies[i % bodies.length] })),
    ),
  );
  results.push(
    await measure(endpoint, 'get', async (i) => {
      const got = await client.send(
        new GetObjectCommand({ Bucket: 'bench', Key: `o/${i}`, ChecksumMode: 'ENABLED' }),
      );
      let n = 0;
      for await (const chunk of got.Body) n += chunk.length;
      if (n !== SIZE) throw new Error(`short read of o/${i}: ${n}`);
    }),
  );
}
const best = (label, key, pick) => pick(...results.filter((x) => x.label === label).map((x) => x[key]));
console.log(
  `S3 through the SDK: ${OBJECTS} objects of 32 MiB, ${CONCURRENCY} in flight, best of ${ROUNDS} rounds`,
);
for (const label of ['put', 'get']) {
  console.log(
    `${label.toUpperCase()}: ${best(label, 'mbps', Math.max).toFixed(0)} MB/s, sandbox CPU ${best(label, 'cpuPerGB', Math.min).toFixed(2)} s/GB`,
  );
}
clearTimeout(deadline);
finish(0);
