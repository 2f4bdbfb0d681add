#!/usr/bin/env node
// The scripted demo (npm start): a real ext4 disk image goes through init, full backup, a change, an incremental
// backup with a changed-block list, restore, byte-for-byte verification, a byte-range read and a deep check.
// Everything runs through the real `lifeboat` CLI; each command is printed before it runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const work = join(root, '.demo');
const cli = join(root, 'packages/cli/bin/lifeboat.js');
const BLOCK = 524288;
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, 'files/etc'), { recursive: true });
mkdirSync(join(work, 'files/data'), { recursive: true });
const env = { ...process.env, LIFEBOAT_REPO: join(work, 'repo'), LIFEBOAT_PASSWORD: 'demo password' };

const say = (text) => console.log(`\n== ${text}`);
function lifeboat(...args) {
  console.log(`$ lifeboat ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [cli, ...args], {
    env,
    encoding: 'buffer',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) {
    process.stdout.write(r.stdout);
    throw new Error(`lifeboat ${args[0]} exited with ${r.status}`);
  }
  return r.stdout;
}
const rand = (seed, n) => {
  const b = Buffer.alloc(n);
  for (let i = 0, o = 0; o < n; i++) o += createHmac('sha256', seed).update(String(i)).digest().copy(b, o);
  return b;
};
const sha = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

say('building a 512 MiB ext4 disk image from generated files (mkfs.ext4 -d)');
writeFileSync(join(work, 'files/etc/hosts'), '127.0.0.1 localhost\n');
for (let i = 0; i < 40; i++)
  writeFileSync(join(work, `files/etc/conf${i}.txt`), `setting_${i} = ${'value '.repeat(2000)}\n`);
for (let i = 0; i < 6; i++)
  writeFileSync(join(work, `files/data/blob${i}.bin`), rand(`demo-${i}`, 8 * 1024 * 1024));
writeFileSync(join(work, 'files/data/blob0-copy.bin'), rand('demo-0', 8 * 1024 * 1024));
const image = join(work, 'disk.img');
execFileSync('truncate', ['-s', '512M', image]);
execFileSync('mkfs.ext4', ['-q', '-F', '-d', join(work, 'files'), image]);

say('a new encrypted repository');
lifeboat('repo', 'init');

say('full backup');
const full = lifeboat(
  'image',
  'backup',
  image,
  '--disk',
  'root',
  '--resource',
  'demo-instance',
  '--tag',
  'env=demo',
)
  .toString()
  .trim()
  .split('\n')
  .at(-1);
const before = join(work, 'disk-before.img');
execFileSync('cp', ['--sparse=always', image, before]);

say('the disk changes: a 12 MiB file is added with debugfs (what the instance would do)');
writeFileSync(join(work, 'new.bin'), rand('demo-new', 12 * 1024 * 1024));
execFileSync('debugfs', ['-w', '-R', `write ${join(work, 'new.bin')} /data/new.bin`, image], {
  stdio: 'ignore',
});
// Changed block tracking, as EBS ListChangedBlocks will give it: the 512 KiB blocks that differ.
const changed = [];
const a = openSync(before, 'r');
const b = openSync(image, 'r');
const ba = Buffer.alloc(BLOCK);
const bb = Buffer.alloc(BLOCK);
for (let i = 0; readSync(a, ba, 0, BLOCK, i * BLOCK) > 0; i++) {
  readSync(b, bb, 0, BLOCK, i * BLOCK);
  if (!ba.equals(bb)) changed.push(i);
}
closeSync(a);
closeSync(b);
writeFileSync(join(work, 'changed.txt'), `${changed.join('\n')}\n`);
console.log(`${changed.length} of ${1024} blocks changed`);

say('incremental backup: only the changed blocks are read');
const incr = lifeboat(
  'image',
  'backup',
  image,
  '--disk',
  'root',
  '--resource',
  'demo-instance',
  '--parent',
  full,
  '--changed-blocks',
  join(work, 'changed.txt'),
)
  .toString()
  .trim()
  .split('\n')
  .at(-1);

say('restore points');
process.stdout.write(lifeboat('points'));

say('restore both restore points and verify them byte for byte');
lifeboat('image', 'restore', full, join(work, 'restored-full.img'));
lifeboat('image', 'restore', incr, join(work, 'restored-incr.img'));
const okFull = sha(join(work, 'restored-full.img')) === sha(before);
const okIncr = sha(join(work, 'restored-incr.img')) === sha(image);
console.log(`full backup restored identical: ${okFull}; incremental restored identical: ${okIncr}`);

say('read 1000 bytes at an unaligned offset without restoring the disk');
const piece = lifeboat('image', 'cat', incr, '--offset', '1049000', '--length', '1000');
const fd = openSync(image, 'r');
const expect = Buffer.alloc(1000);
readSync(fd, expect, 0, 1000, 1049000);
closeSync(fd);
console.log(`bytes match the disk: ${piece.equals(expect)}`);

say('deep check: every byte of every pack');
process.stdout.write(lifeboat('repo', 'check', '--read-data'));
if (!okFull || !okIncr || !piece.equals(expect)) {
  console.error('demo FAILED: restored data differs');
  process.exit(1);
}
say(`demo complete; files in ${work}`);
