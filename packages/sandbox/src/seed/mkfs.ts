import { spawn, spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { forEachDataBlock } from './sparse.js';

/**
 * Real file system images made by the real tools, as regular sparse files: no root, no loop devices, no
 * mounting. mkfs.ext4 -d copies a directory in; mkfs.xfs takes a prototype file; sfdisk writes a GPT.
 */

/** The tools live in sbin, which a non-root PATH often lacks. */
const TOOL_ENV = {
  ...process.env,
  PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`,
  // Fixed superblock and inode creation times (e2fsprogs honours this). Inode ctimes still come from the source
  // files, which only root could set, so images are alike in content, not byte for byte.
  E2FSPROGS_FAKE_TIME: '1717200000',
};

export function hasTool(name: string): boolean {
  return spawnSync(name, ['-V'], { env: TOOL_ENV, stdio: 'ignore', timeout: 5000 }).error === undefined;
}

/** The Debian package each tool comes from, for an error that says what to install. */
const PACKAGES: Record<string, string> = {
  'mkfs.ext4': 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
  sfdisk: 'fdisk',
  xfs_io: 'xfsprogs',
};

function spawnError(cmd: string, e: Error): Error {
  const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
  return new Error(
    missing ? `${cmd} not found: install the Debian package ${PACKAGES[cmd] ?? cmd}` : `${cmd}: ${e.message}`,
  );
}

function run(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { env: TOOL_ENV, input, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw spawnError(cmd, r.error);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/** As run(), without blocking: the demo seed builds several images at once on machines with several cores. */
function runAsync(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: TOOL_ENV, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', (e) => reject(spawnError(cmd, e)));
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr}`)),
    );
  });
}

type Runner = (cmd: string, args: string[]) => void | Promise<void>;

function sparseFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

export interface FsOptions {
  label: string;
  uuid: string;
}

/** ext4 holding a copy of srcDir; inode tables and journal left unwritten so that the image stays sparse. */
export function makeExt4(image: string, bytes: number, srcDir: string, o: FsOptions): void {
  ext4(image, bytes, srcDir, o, run);
}

export function makeExt4Async(image: string, bytes: number, srcDir: string, o: FsOptions): Promise<void> {
  return Promise.resolve(ext4(image, bytes, srcDir, o, runAsync));
}

function ext4(image: string, bytes: number, srcDir: string, o: FsOptions, runner: Runner) {
  sparseFile(image, bytes);
  return runner('mkfs.ext4', [
    '-q',
    '-F',
    '-b',
    '4096',
    '-d',
    srcDir,
    '-L',
    o.label,
    '-U',
    o.uuid,
    '-E',
    `lazy_itable_init=1,lazy_journal_init=1,nodiscard,hash_seed=${o.uuid}`,
    image,
  ]);
}

/** mkfs.xfs's prototype file: one line per entry, directories closed by `$`, files named by their source. */
function protofile(dir: string, indent = ''): string {
  let out = '';
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = statSync(path);
    const perm = (st.mode & 0o777).toString(8).padStart(3, '0');
    if (st.isDirectory())
      out += `${indent}${name} d--${perm} 0 0\n${protofile(path, `${indent} `)}${indent} $\n`;
    else out += `${indent}${name} ---${perm} 0 0 ${path}\n`;
  }
  return out;
}

/** XFS holding a copy of srcDir (names must not contain spaces: the prototype format cannot quote them). */
export function makeXfs(image: string, bytes: number, srcDir: string, o: FsOptions, workDir: string): void {
  xfs(image, bytes, srcDir, o, workDir, run);
}

export function makeXfsAsync(
  image: string,
  bytes: number,
  srcDir: string,
  o: FsOptions,
  workDir: string,
): Promise<void> {
  return Promise.resolve(xfs(image, bytes, srcDir, o, workDir, runAsync));
}

function xfs(image: string, bytes: number, srcDir: string, o: FsOptions, workDir: string, runner: Runner) {
  sparseFile(image, bytes);
  const proto = join(workDir, `${o.label}.proto`);
  writeFileSync(proto, `/dev/null\n0 0\nd--755 0 0\n${protofile(srcDir, ' ')}$\n`);
  return runner('mkfs.xfs', [
    '-q',
    '-f',
    '-L',
    o.label.slice(0, 12),
    '-m',
    `uuid=${o.uuid}`,
    '-p',
    proto,
    image,
  ]);
}

export const SECTOR = 512;
/** Linux filesystem data, the GPT partition type of an ordinary Linux partition. */
const LINUX_FS = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

/**
 * A GPT disk with one Linux partition holding fsImage, starting at 1 MiB (sector 2048) as partitioning tools do.
 * The file system is copied in sparsely at the partition's offset.
 */
export function makeGptDisk(
  image: string,
  bytes: number,
  fsImage: string,
  diskUuid: string,
  partUuid: string,
): number {
  const start = 2048;
  const fsBytes = statSync(fsImage).size;
  sparseFile(image, bytes);
  run(
    'sfdisk',
    ['--quiet', '--no-reread', '--no-tell-kernel', image],
    [
      'label: gpt',
      `label-id: ${diskUuid}`,
      `start=${start}, size=${fsBytes / SECTOR}, type=${LINUX_FS}, uuid=${partUuid}, name="data"`,
      '',
    ].join('\n'),
  );
  const fd = openSync(image, 'r+');
  try {
    forEachDataBlock(fsImage, start * SECTOR, (offset, data) => {
      writeSync(fd, data, 0, data.length, offset);
    });
  } finally {
    closeSync(fd);
  }
  return start * SECTOR;
}
