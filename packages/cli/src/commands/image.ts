import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import {
  backupImage,
  DiskReader,
  type DiskSource,
  findDisk,
  RepositoryError,
  restoreDisk,
} from '@lifeboat/repository';
import type { Command } from 'commander';
import { globals, interruptSignal, openRepository, print, printJson, progressFor } from '../context.js';
import { UsageError } from '../errors.js';
import { keepFreedMemory } from '../malloc.js';
import { formatBytes } from '../progress.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface BackupFlags {
  disk?: string[];
  resource?: string;
  resourceKind: string;
  account?: string;
  region?: string;
  parent?: string;
  changedBlocks?: string[];
  sourceSnapshot?: string[];
  tag?: string[];
  config?: string;
  id?: string;
  workers?: string;
}

export function registerImage(program: Command): void {
  const image = program.command('image').description('back up, restore and read disk images');

  image
    .command('backup')
    .description('back up disk images into a new restore point; prints its id as the last line')
    .argument('[image]', 'raw disk image (file or block device) of a single-disk restore point')
    .option(
      '--disk <name|name=image>',
      'disk name of IMAGE, or NAME=IMAGE (repeat for a multi-disk restore point)',
      collect,
    )
    .option('--resource <id>', 'id of the protected resource (default: the image file name)')
    .option('--resource-kind <kind>', 'kind of resource: ec2-instance, ebs-volume, image', 'image')
    .option('--account <id>', 'AWS account of the resource')
    .option('--region <region>', 'AWS region of the resource')
    .option('--parent <point>', 'restore point this one is incremental to')
    .option(
      '--changed-blocks <file|name=file>',
      'block indexes (one per line) changed since --parent; others are reused unread',
      collect,
    )
    .option('--source-snapshot <snap|name=snap>', 'EBS snapshot the disk was read from', collect)
    .option('--tag <key=value>', 'tag of the restore point (repeatable)', collect)
    .option(
      '--config <file>',
      'JSON document stored with the restore point (e.g. the instance configuration)',
    )
    .option('--id <id>', 'id of the new restore point (default: generated)')
    .option('--workers <n>', 'worker threads (default: one per core)')
    .action(async (img: string | undefined, o: BackupFlags, cmd: Command) => {
      const opts = globals(cmd);
      const disks = diskSources(img, o);
      const r = await openRepository(opts);
      const manifest = await backupImage(r, {
        disks,
        resource: {
          id: o.resource ?? basename(disks[0]!.path),
          kind: o.resourceKind,
          ...(o.account ? { account: o.account } : {}),
          ...(o.region ? { region: o.region } : {}),
        },
        parent: o.parent,
        id: o.id,
        tags: keyValues(o.tag ?? [], '--tag'),
        configuration: o.config ? readJson(o.config) : undefined,
        progress: progressFor(opts),
        workers: o.workers ? positiveInt(o.workers, '--workers') : undefined,
        signal: interruptSignal(),
      });
      if (opts.json) return printJson(manifest);
      for (const d of manifest.disks) {
        print(
          `disk ${d.name}: ${formatBytes(d.sizeBytes)}, ${d.stats.dataBlocks} blocks with data, ${d.stats.blocksRead} read, ${d.stats.newChunks} new chunks, ${formatBytes(d.stats.newBytesStored)} stored`,
        );
      }
      print(`restore point ${manifest.id} of ${manifest.resource.id} saved`);
      print(manifest.id);
    });

  image
    .command('restore')
    .description(
      'restore a disk of a restore point into a file (sparse; written aside and renamed when complete)',
    )
    .argument('<point>', 'restore point id (or unique prefix, or "latest")')
    .argument('<target>', 'file to write')
    .option('--disk <name>', 'disk to restore (needed when the restore point has several)')
    .option('--overwrite', 'replace TARGET if it exists')
    .option('--sync', 'fsync the image before renaming it into place (durable at once against a power cut)')
    .option('--verify', 'hash every block again and compare it with its id (blocks are authenticated anyway)')
    .option('--workers <n>', 'worker threads (default: one per core)')
    .option(
      '--partial',
      'restore what can be restored: damaged ranges become zeros, are listed (and saved as TARGET.damaged.json); exit 3',
    )
    .action(
      async (
        pointRef: string,
        target: string,
        o: {
          disk?: string;
          overwrite?: boolean;
          sync?: boolean;
          verify?: boolean;
          workers?: string;
          partial?: boolean;
        },
        cmd: Command,
      ) => {
        keepFreedMemory();
        const opts = globals(cmd);
        const r = await openRepository(opts);
        const point = await r.readPoint(pointRef);
        const disk = await restoreDisk(r, point, o.disk, target, {
          progress: progressFor(opts),
          overwrite: o.overwrite,
          sync: o.sync,
          verifyIds: o.verify,
          directIo: opts.directIo,
          signal: interruptSignal(),
          workers: o.workers ? positiveInt(o.workers, '--workers') : undefined,
          partial: o.partial,
        });
        const lost = disk.damaged.reduce((n, d) => n + d.length, 0);
        if (opts.json)
          printJson({
            point: point.id,
            disk: disk.name,
            target,
            sizeBytes: disk.sizeBytes,
            ...(o.partial ? { damaged: disk.damaged, damagedBytes: lost } : {}),
          });
        else {
          print(`restored disk ${disk.name} of ${point.id} to ${target} (${formatBytes(disk.sizeBytes)})`);
          for (const d of disk.damaged)
            print(
              `damaged: bytes ${d.offset}-${d.offset + d.length - 1} (${d.length} bytes, zeros): ${d.reason}`,
            );
        }
        if (disk.damaged.length) {
          throw new RepositoryError(
            'REPO_CORRUPT',
            `${target} is incomplete: ${disk.damaged.length} damaged range(s), ${lost} bytes, are zeros (listed above and in ${target}.damaged.json)`,
          );
        }
      },
    );

  image
    .command('cat')
    .description('write a byte range of a disk to standard output, without restoring the rest')
    .argument('<point>', 'restore point id (or unique prefix, or "latest")')
    .option('--disk <name>', 'disk to read (needed when the restore point has several)')
    .option('--offset <bytes>', 'first byte (suffixes K, M, G: powers of 1024)', '0')
    .option('--length <bytes>', 'number of bytes (default: to the end of the disk)')
    .action(async (pointRef: string, o: { disk?: string; offset: string; length?: string }, cmd: Command) => {
      const opts = globals(cmd);
      const r = await openRepository(opts);
      const point = await r.readPoint(pointRef);
      const reader = new DiskReader(r, point, findDisk(point, o.disk));
      const offset = byteCount(o.offset, '--offset');
      const length = o.length === undefined ? reader.sizeBytes - offset : byteCount(o.length, '--length');
      for await (const piece of reader.read(offset, length)) {
        if (!process.stdout.write(piece))
          await new Promise((resolve) => process.stdout.once('drain', resolve));
      }
    });
}

function diskSources(img: string | undefined, o: BackupFlags): DiskSource[] {
  const specs = o.disk ?? [];
  const named = specs.filter((s) => s.includes('='));
  let disks: DiskSource[];
  if (img) {
    if (named.length)
      throw new UsageError('give either IMAGE (with an optional --disk NAME) or --disk NAME=IMAGE, not both');
    if (specs.length > 1) throw new UsageError('one IMAGE takes at most one --disk NAME');
    disks = [{ name: specs[0] ?? 'disk0', path: img }];
  } else {
    if (named.length === 0) throw new UsageError('nothing to back up: give IMAGE or --disk NAME=IMAGE');
    if (named.length !== specs.length) throw new UsageError('without IMAGE every --disk must be NAME=IMAGE');
    disks = named.map((s) => {
      const [name, path] = splitOnce(s, '--disk');
      return { name, path };
    });
  }
  attachPerDisk(disks, o.changedBlocks ?? [], '--changed-blocks', (d, file) => {
    d.changedBlocks = readChangedBlocks(file);
  });
  attachPerDisk(disks, o.sourceSnapshot ?? [], '--source-snapshot', (d, snap) => {
    d.sourceSnapshotId = snap;
  });
  if (disks.some((d) => d.changedBlocks) && !o.parent)
    throw new UsageError('--changed-blocks needs --parent');
  return disks;
}

/** VALUE applies to the only disk; NAME=VALUE to the disk of that name. */
function attachPerDisk(
  disks: DiskSource[],
  values: string[],
  flag: string,
  apply: (d: DiskSource, v: string) => void,
): void {
  for (const v of values) {
    const eq = v.indexOf('=');
    const byName = eq > 0 ? disks.find((d) => d.name === v.slice(0, eq)) : undefined;
    if (byName) apply(byName, v.slice(eq + 1));
    else if (disks.length === 1) apply(disks[0]!, v);
    else
      throw new UsageError(
        `${flag} ${v}: name the disk as NAME=VALUE (disks: ${disks.map((d) => d.name).join(', ')})`,
      );
  }
}

export function readChangedBlocks(file: string): number[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the changed-block list ${file}: ${(err as Error).message}`);
  }
  const out: number[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith('#')) return;
    if (!/^\d+$/.test(t))
      throw new UsageError(`${file} line ${i + 1}: "${t}" is not a block index (one integer per line)`);
    out.push(Number(t));
  });
  return out;
}

function splitOnce(s: string, flag: string): [string, string] {
  const eq = s.indexOf('=');
  if (eq <= 0 || eq === s.length - 1) throw new UsageError(`${flag} ${s}: expected NAME=VALUE`);
  return [s.slice(0, eq), s.slice(eq + 1)];
}

function keyValues(list: string[], flag: string): Record<string, string> {
  return Object.fromEntries(list.map((s) => splitOnce(s, flag)));
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--config ${file}: ${(err as Error).message}`);
  }
}

function positiveInt(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not "${v}"`);
  return n;
}

export function byteCount(v: string, flag: string): number {
  const m = /^(\d+)([KMGT]?)$/i.exec(v.trim());
  if (!m) throw new UsageError(`${flag} must be a byte count like 4096 or 512K, not "${v}"`);
  const scale = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase() as '' | 'K'];
  const n = Number(m[1]) * scale;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag} ${v} is too large`);
  return n;
}
