#!/usr/bin/env node
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

// Lifeboat backups to S3 (the sandbox's, over loopback HTTP) beside a local folder, in one run, whole-process:
// full backup, incremental with a changed-block list, restore; S3 PUT-class requests per GiB stored.
//   npm run build && node bench/s3-vs-local.mjs [--image PATH | --size 1G] [--runs 3]
// Without --image it writes a mixed image (1/3 holes, 1/3 random, 1/3 compressible). Results: printed as a
// markdown table, and written to bench/results/s3-vs-local.json.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { stopOnExit } from './lib/servers.mjs';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/lifeboat.js');
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .join(' ')
    .split('--')
    .filter(Boolean)
    .map((a) => a.trim().split(/\s+/)),
);
const work = join(root, 'bench/work/s3-vs-local');
const runs = Number(args.runs ?? 3);
const BLOCK = 524288;
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

function makeImage(path, bytes) {
  const fd = openSync(path, 'w');
  ftruncateSync(fd, bytes);
  const text = execFileSync(
    'sh',
    [
      '-c',
      'cat /usr/share/common-licenses/* /usr/include/*.h /usr/include/*/*.h 2>/dev/null | head -c 33554432',
    ],
    { maxBuffer: 64 << 20 },
  );
  for (let b = 0; b < bytes / BLOCK; b++) {
    if (b % 3 === 0) continue; // a hole
    const at = (b * 7919 * 64) % (text.length - BLOCK);
    const buf = b % 3 === 1 ? randomBlock(b) : text.subarray(at, at + BLOCK);
    writeSync(fd, buf, 0, BLOCK, b * BLOCK);
  }
  closeSync(fd);
}

function randomBlock(seed) {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0, o = 0; o < BLOCK; i++)
    o += createHash('sha256').update(`${seed}:${i}`).digest().copy(out, o);
  return out;
}

function timed(cmdArgs, env) {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', process.execPath, cli, ...cmdArgs], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`lifeboat ${cmdArgs.join(' ')} failed: ${r.stderr}`);
  const [wall, user, sys, rss] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  return { wall, cpu: user + sys, rssMiB: rss / 1024, stdout: r.stdout };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The sandbox is killed on every way out (lib/servers.mjs), not only past the try below.
const children = [];
stopOnExit(children);

async function startSandbox() {
  const child = spawn(
    process.execPath,
    [cli, '--json', 'sandbox', '--fast', '--data', join(work, 'sandbox')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  let text = '';
  for await (const chunk of child.stdout) {
    text += chunk;
    try {
      return { child, info: JSON.parse(text) };
    } catch {}
  }
  throw new Error('the sandbox did not start');
}

const image = args.image ?? join(work, 'disk.img');
if (!args.image)
  makeImage(
    image,
    Number.parseInt(args.size ?? '1024', 10) *
      (String(args.size ?? '1G').endsWith('G') ? 1024 ** 3 : 1024 ** 2),
  );
const size = Number(execFileSync('stat', ['-c', '%s', image], { encoding: 'utf8' }));
const changedBlocks = Array.from({ length: Math.max(1, Math.round((size / BLOCK) * 0.02)) }, (_, i) =>
  Math.floor((i * 7919) % (size / BLOCK)),
);
const { child, info } = await startSandbox();
try {
  const acct = info.accounts[1];
  const awsEnv = {
    AWS_ACCESS_KEY_ID: acct.accessKeyId,
    AWS_SECRET_ACCESS_KEY: acct.secretAccessKey,
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const { S3Client, CreateBucketCommand } = await import(
    join(root, 'node_modules/@aws-sdk/client-s3/dist-cjs/index.js')
  );
  const s3 = new S3Client({
    endpoint: info.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: acct.accessKeyId, secretAccessKey: acct.secretAccessKey },
  });
  await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
  s3.destroy();
  const admin = (path, method = 'GET') =>
    fetch(`${info.endpoint}/_sandbox/${path}`, {
      method,
      headers: { authorization: `Bearer ${info.adminToken}` },
    }).then((r) => r.json());
  const putClass = [
    'PutObject',
    'UploadPart',
    'CreateMultipartUpload',
    'CompleteMultipartUpload',
    'CopyObject',
    'ListObjectsV2',
  ];
  const rows = [];
  for (const target of ['local', 's3']) {
    const results = { full: [], incr: [], restore: [] };
    let puts = 0;
    let stored = 0;
    for (let run = 0; run < runs; run++) {
      const repo = target === 'local' ? join(work, `repo-${run}`) : `s3:${info.endpoint}/bench/run-${run}`;
      const env = {
        ...awsEnv,
        LIFEBOAT_REPO: repo,
        LIFEBOAT_PASSWORD: 'bench',
        LIFEBOAT_CACHE: join(work, `cache-${target}-${run}`),
      };
      timed(['repo', 'init', '-q'], env);
      execFileSync('sh', ['-c', `cat ${image} > /dev/null`]);
      await admin('counters/reset', 'POST');
      const full = timed(['--json', 'image', 'backup', image, '--disk', 'root', '-q'], env);
      const m = JSON.parse(full.stdout);
      stored = m.disks[0].stats.newBytesStored;
      const { counters } = await admin('counters');
      puts = counters
        .filter((c) => c.service === 's3' && putClass.includes(c.operation))
        .reduce((n, c) => n + c.requests, 0);
      results.full.push(full);
      const list = join(work, 'changed.txt');
      writeFileSync(list, `${changedBlocks.join('\n')}\n`);
      results.incr.push(
        timed(
          ['image', 'backup', image, '--disk', 'root', '-q', '--parent', m.id, '--changed-blocks', list],
          env,
        ),
      );
      rmSync(join(work, 'restored.img'), { force: true });
      results.restore.push(timed(['image', 'restore', 'latest', join(work, 'restored.img'), '-q'], env));
      if (
        createHash('sha256')
          .update(readFileSync(join(work, 'restored.img')))
          .digest('hex') !== createHash('sha256').update(readFileSync(image)).digest('hex')
      ) {
        throw new Error(`${target}: the restored image differs`);
      }
    }
    for (const step of ['full', 'incr', 'restore']) {
      const r = results[step];
      const wall = median(r.map((x) => x.wall));
      const cpu = median(r.map((x) => x.cpu));
      rows.push({
        target,
        step,
        wall,
        mbps: size / 1e6 / wall,
        cpuPerGB: cpu / (size / 1e9),
        rssMiB: median(r.map((x) => x.rssMiB)),
      });
    }
    rows.push({
      target,
      step: 'PUT-class requests per GiB stored (full backup)',
      value: target === 's3' ? puts / (stored / 2 ** 30) : null,
      puts,
      stored,
    });
  }
  const cpuSandbox = await admin('process');
  console.log(`image ${image}: ${size} bytes; ${changedBlocks.length} changed blocks; median of ${runs}`);
  console.log('| target | step | wall s | MB/s of image | CPU s/GB (client) | peak RSS MiB |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    if (r.value !== undefined)
      console.log(
        `| ${r.target} | ${r.step} | ${r.value === null ? '—' : r.value.toFixed(1)} (${r.puts} PUTs, ${(r.stored / 2 ** 20).toFixed(0)} MiB) | | | |`,
      );
    else
      console.log(
        `| ${r.target} | ${r.step} | ${r.wall.toFixed(2)} | ${r.mbps.toFixed(0)} | ${r.cpuPerGB.toFixed(2)} | ${r.rssMiB.toFixed(0)} |`,
      );
  }
  console.log(`sandbox process: ${JSON.stringify(cpuSandbox)}`);
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(
    join(root, 'bench/results/s3-vs-local.json'),
    JSON.stringify({ image, size, runs, rows, sandbox: cpuSandbox }, null, 2),
  );
} finally {
  child.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
